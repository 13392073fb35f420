"""OTLP/JSON trace exports to protobuf, directly, checking every field as it goes.

Protobuf's ``json_format`` is ten times slower and wants base64 ids where OTLP/JSON has hex. Anything
malformed raises ``InvalidExport`` with a 400 and a message naming the field.
"""

from __future__ import annotations

import base64
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status


class InvalidExport(Exception):
    """An export that cannot be accepted: the HTTP status and a message for the client."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def _hex_id(value: Any, size: int, what: str, allow_empty: bool = False) -> bytes:
    if value in (None, "") and allow_empty:
        return b""
    if not isinstance(value, str) or len(value) != size * 2:
        raise InvalidExport(400, f"{what} must be {size * 2} hex digits")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise InvalidExport(400, f"{what} must be {size * 2} hex digits") from None


def _objects(value: Any, what: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise InvalidExport(400, f"{what} must be a list of objects")
    return value


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidExport(400, f"{what} must be an object")
    return value


def _enum(value: Any, enum: Any) -> Any:
    # OTLP/JSON writes enums as integers; names are accepted too.
    return enum.Value(value) if isinstance(value, str) else int(value or 0)


def _any_value(value: dict[str, Any]) -> AnyValue:
    if "stringValue" in value:
        return AnyValue(string_value=value["stringValue"])
    if "boolValue" in value:
        return AnyValue(bool_value=value["boolValue"])
    if "intValue" in value:
        return AnyValue(int_value=int(value["intValue"]))
    if "doubleValue" in value:
        return AnyValue(double_value=float(value["doubleValue"]))
    if "bytesValue" in value:
        return AnyValue(bytes_value=base64.b64decode(value["bytesValue"], validate=True))
    if "arrayValue" in value:
        items = _objects(_object(value["arrayValue"], "arrayValue").get("values"), "arrayValue.values")
        return AnyValue(array_value=ArrayValue(values=[_any_value(item) for item in items]))
    if "kvlistValue" in value:
        entries = _objects(_object(value["kvlistValue"], "kvlistValue").get("values"), "kvlistValue.values")
        return AnyValue(kvlist_value=KeyValueList(values=_key_values(entries)))
    return AnyValue()


def _key_values(items: list[dict[str, Any]]) -> list[KeyValue]:
    return [KeyValue(key=item.get("key", ""), value=_any_value(_object(item.get("value"), "value"))) for item in items]


def _attributes(node: dict[str, Any]) -> list[KeyValue]:
    return _key_values(_objects(node.get("attributes"), "attributes"))


def _span_from_json(span: dict[str, Any]) -> Span:
    status = _object(span.get("status"), "status")
    return Span(
        trace_id=_hex_id(span.get("traceId"), 16, "traceId"),
        span_id=_hex_id(span.get("spanId"), 8, "spanId"),
        parent_span_id=_hex_id(span.get("parentSpanId"), 8, "parentSpanId", allow_empty=True),
        trace_state=span.get("traceState") or "",
        flags=int(span.get("flags") or 0),
        name=span.get("name") or "",
        kind=_enum(span.get("kind"), Span.SpanKind),
        start_time_unix_nano=int(span.get("startTimeUnixNano") or 0),
        end_time_unix_nano=int(span.get("endTimeUnixNano") or 0),
        attributes=_attributes(span),
        dropped_attributes_count=int(span.get("droppedAttributesCount") or 0),
        events=[
            Span.Event(
                time_unix_nano=int(event.get("timeUnixNano") or 0),
                name=event.get("name") or "",
                attributes=_attributes(event),
                dropped_attributes_count=int(event.get("droppedAttributesCount") or 0),
            )
            for event in _objects(span.get("events"), "events")
        ],
        dropped_events_count=int(span.get("droppedEventsCount") or 0),
        links=[
            Span.Link(
                trace_id=_hex_id(link.get("traceId"), 16, "link traceId"),
                span_id=_hex_id(link.get("spanId"), 8, "link spanId"),
                trace_state=link.get("traceState") or "",
                attributes=_attributes(link),
                dropped_attributes_count=int(link.get("droppedAttributesCount") or 0),
            )
            for link in _objects(span.get("links"), "links")
        ],
        dropped_links_count=int(span.get("droppedLinksCount") or 0),
        status=Status(code=_enum(status.get("code"), Status.StatusCode), message=status.get("message") or ""),
    )


def request_from_otlp_json(document: Any) -> ExportTraceServiceRequest:
    """An OTLP/JSON export document (decoded) as the protobuf request."""
    if not isinstance(document, dict):
        raise InvalidExport(400, "body must be a JSON object with resourceSpans")
    request = ExportTraceServiceRequest()
    for resource_spans in _objects(document.get("resourceSpans"), "resourceSpans"):
        resource = _object(resource_spans.get("resource"), "resource")
        added = request.resource_spans.add(schema_url=resource_spans.get("schemaUrl") or "")
        added.resource.attributes.extend(_attributes(resource))
        for scope_spans in _objects(resource_spans.get("scopeSpans"), "scopeSpans"):
            scope = _object(scope_spans.get("scope"), "scope")
            added_scope = added.scope_spans.add(schema_url=scope_spans.get("schemaUrl") or "")
            added_scope.scope.name = scope.get("name") or ""
            added_scope.scope.version = scope.get("version") or ""
            added_scope.scope.attributes.extend(_attributes(scope))
            added_scope.spans.extend(_span_from_json(span) for span in _objects(scope_spans.get("spans"), "spans"))
    return request
