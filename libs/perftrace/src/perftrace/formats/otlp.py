"""Traces in OTLP's protobuf form (an ``ExportTraceServiceRequest``) read as ``SpanRecord``s.

The one reader of OTLP spans: the browser endpoint keeps what browsers export with it, and the test support
reads Tempo's answers with it (after ``read_export`` has checked their JSON form).
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Iterable
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from perftrace.tracing.records import SpanEvent, SpanRecord

_KIND_NAMES = {value: name.removeprefix("SPAN_KIND_") for name, value in Span.SpanKind.items()}
_KIND_NAMES[Span.SPAN_KIND_UNSPECIFIED] = "INTERNAL"
_STATUS_NAMES = {value: name.removeprefix("STATUS_CODE_") for name, value in Status.StatusCode.items()}


def service_name(attributes: Iterable[KeyValue]) -> str | None:
    """A resource's ``service.name``, or None when it has none."""
    for attribute in attributes:
        if attribute.key == "service.name":
            return attribute.value.string_value
    return None


def _plain_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_plain_value(v) for v in value.array_value.values)
    if kind == "kvlist_value":
        return json.dumps({kv.key: _plain_value(kv.value) for kv in value.kvlist_value.values}, default=str)
    if kind == "bytes_value":
        return binascii.hexlify(value.bytes_value).decode()
    return getattr(value, kind) if kind else None


def _attributes(attributes: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: _plain_value(kv.value) for kv in attributes}


def _record(span: Span, service: str) -> SpanRecord:
    return SpanRecord(
        trace_id=int.from_bytes(span.trace_id, "big"),
        span_id=int.from_bytes(span.span_id, "big"),
        parent_span_id=int.from_bytes(span.parent_span_id, "big") if span.parent_span_id else 0,
        parent_is_remote=False,
        name=span.name,
        kind=_KIND_NAMES.get(span.kind, "INTERNAL"),
        service_name=service,
        start_time_unix_nano=span.start_time_unix_nano,
        end_time_unix_nano=max(span.end_time_unix_nano, span.start_time_unix_nano),
        status=_STATUS_NAMES.get(span.status.code, "UNSET"),
        status_message=span.status.message or None,
        attributes=_attributes(span.attributes),
        events=tuple(SpanEvent(e.name, e.time_unix_nano, _attributes(e.attributes)) for e in span.events)
        if span.events
        else (),
    )


def span_records(request: ExportTraceServiceRequest) -> list[SpanRecord]:
    """The spans of an export as records (an end before its start read as zero-length)."""
    records: list[SpanRecord] = []
    for resource_spans in request.resource_spans:
        service = service_name(resource_spans.resource.attributes) or ""
        records += (_record(span, service) for scope_spans in resource_spans.scope_spans for span in scope_spans.spans)
    return records
