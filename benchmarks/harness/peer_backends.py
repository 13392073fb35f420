"""What the services of ``chat_throughput`` talk to, in a process of their own (``python -m`` or as a script).

An OTLP/HTTP receiver that decodes every export (protobuf, gzip or not) and counts its spans per
``service.name`` and span name, readable at ``GET /counts``; and the demo home over real HTTP, so every
peer's own httpx instrumentation sees the Home Assistant call as it would with a real one. Neither runs
in the load generator's process, so their CPU is not taken from it.

    python benchmarks/harness/peer_backends.py OTLP_PORT HOME_PORT
"""

from __future__ import annotations

import asyncio
import gzip
import sys
from collections import Counter, defaultdict

import uvicorn
from ha_ai_agent.home.demo import DEMO_TOKEN, create_demo_home_app
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PROTOBUF = "application/x-protobuf"


def counting_receiver() -> Starlette:
    """OTLP/HTTP traces in, span counts out; metrics and logs are accepted and dropped."""
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)

    async def traces(request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest.FromString(body)
        for resource_spans in export.resource_spans:
            attributes = {kv.key: kv.value.string_value for kv in resource_spans.resource.attributes}
            service = counts[attributes.get("service.name", "")]
            for scope_spans in resource_spans.scope_spans:
                service.update(span.name for span in scope_spans.spans)
        return Response(ExportTraceServiceResponse().SerializeToString(), media_type=PROTOBUF)

    async def accept(request: Request) -> Response:
        await request.body()
        return Response(b"", media_type=PROTOBUF)

    async def read(request: Request) -> Response:
        return JSONResponse({service: dict(names) for service, names in counts.items()})

    return Starlette(
        routes=[
            Route("/v1/traces", traces, methods=["POST"]),
            Route("/v1/metrics", accept, methods=["POST"]),
            Route("/v1/logs", accept, methods=["POST"]),
            Route("/counts", read),
        ]
    )


async def serve(otlp_port: int, home_port: int) -> None:
    """Both servers on 127.0.0.1 until the process is told to stop."""
    apps = ((counting_receiver(), otlp_port), (create_demo_home_app(DEMO_TOKEN), home_port))
    servers = [
        uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
        for app, port in apps
    ]
    await asyncio.gather(*(server.serve() for server in servers))


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), int(sys.argv[2])))
