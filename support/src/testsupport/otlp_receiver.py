"""A real OTLP/HTTP trace receiver on loopback that decodes what it gets with opentelemetry-proto."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from testsupport.servers import serve_in_thread


@dataclass
class ReceivedSpan:
    """One span as the receiver got it."""

    service_name: str
    resource: dict[str, str]
    span: Span


@dataclass
class OtlpReceiver:
    """A running receiver: its URL and every request it got."""

    url: str
    requests: list[ExportTraceServiceRequest] = field(default_factory=list)
    metric_requests: list[ExportMetricsServiceRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def metric_names(self) -> set[str]:
        """Names of every metric received."""
        with self.lock:
            requests = list(self.metric_requests)
        return {
            metric.name
            for request in requests
            for resource_metrics in request.resource_metrics
            for scope_metrics in resource_metrics.scope_metrics
            for metric in scope_metrics.metrics
        }

    def spans(self) -> list[ReceivedSpan]:
        """Every span received, in arrival order."""
        with self.lock:
            requests = list(self.requests)
        found = []
        for request in requests:
            for resource_spans in request.resource_spans:
                resource = {kv.key: kv.value.string_value for kv in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        found.append(ReceivedSpan(resource.get("service.name", ""), resource, span))
        return found


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """A real OTLP/HTTP receiver on a loopback port, for as long as the block runs."""
    holder: list[OtlpReceiver] = []

    async def traces(request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        if request.headers.get("content-type") != "application/x-protobuf":
            return Response(status_code=415)
        message = ExportTraceServiceRequest.FromString(body)
        with holder[0].lock:
            holder[0].requests.append(message)
        return Response(b"", media_type="application/x-protobuf")

    async def metrics(request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        message = ExportMetricsServiceRequest.FromString(body)
        with holder[0].lock:
            holder[0].metric_requests.append(message)
        return Response(b"", media_type="application/x-protobuf")

    app = Starlette(
        routes=[Route("/v1/traces", traces, methods=["POST"]), Route("/v1/metrics", metrics, methods=["POST"])]
    )
    with serve_in_thread(app) as url:
        holder.append(OtlpReceiver(url))
        yield holder[0]
