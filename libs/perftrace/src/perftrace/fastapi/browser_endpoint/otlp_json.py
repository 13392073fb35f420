"""The OTLP/JSON trace export a browser may send: the schema, the check and the conversion to protobuf.

The pydantic models are the published schema and the check in one, and ``read_export`` is the only
reading of a JSON export: what the schema calls valid converts without error, what it calls invalid is
refused with 400. The models are stricter than readers that coerce (``"flags": "1"``, ``"name": null``);
OpenTelemetry JS exporters write the strict form. Limits counted over a whole export (spans per export,
body bytes) are in the operation's description and answer 413.

Speed matters here (every browser span passes): no model has a validator written in Python on a field
that every span carries, and defaults are made by factories rather than copied.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal, NotRequired

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, with_config
from typing_extensions import TypedDict

from perftrace.fastapi.contract import describe_problems
from perftrace.formats.spans import JSON_INTEGRAL, MAX_INT64, MAX_UINT64

_STRICT = ConfigDict(strict=True)
_UINT32 = Annotated[int, Field(ge=0, le=2**32 - 1), JSON_INTEGRAL]
# OTLP/JSON writes 64-bit integers as decimal strings (JavaScript numbers lose precision past 2**53).
_UINT64 = Annotated[
    Annotated[int, Field(ge=0, le=MAX_UINT64)] | Annotated[str, Field(pattern=r"^[0-9]{1,19}$")], JSON_INTEGRAL
]
_INT64 = Annotated[
    Annotated[int, Field(ge=-(2**63), le=MAX_INT64)] | Annotated[str, Field(pattern=r"^-?[0-9]{1,18}$")],
    JSON_INTEGRAL,
]
_BASE64 = Annotated[str, Field(pattern=r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")]
_NONZERO_TRACE_ID = Annotated[
    str, Field(min_length=32, max_length=32, pattern=r"^[0-9a-fA-F]*[1-9a-fA-F][0-9a-fA-F]*$")
]
_NONZERO_SPAN_ID = Annotated[str, Field(min_length=16, max_length=16, pattern=r"^[0-9a-fA-F]*[1-9a-fA-F][0-9a-fA-F]*$")]
_TRACE_ID = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{32}$")]
_SPAN_ID = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{16}$")]
_PARENT_SPAN_ID = Annotated[str, Field(pattern=r"^(?:[0-9a-fA-F]{16})?$")]
_SPAN_KIND_NAMES = Literal[
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
]
_SPAN_KIND = Annotated[Literal[0, 1, 2, 3, 4, 5] | _SPAN_KIND_NAMES, JSON_INTEGRAL]
_STATUS_CODE = Annotated[
    Literal[0, 1, 2] | Literal["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"], JSON_INTEGRAL
]


class _Otlp(BaseModel):
    # Strict: the schema's types are the accepted types. Unknown fields are ignored, as OTLP readers do.
    model_config = _STRICT


class OtlpArrayValue(_Otlp):
    """An array attribute value."""

    values: list[OtlpAnyValue] = Field(default_factory=list)


class OtlpKeyValueList(_Otlp):
    """A map attribute value."""

    values: list[OtlpKeyValue] = Field(default_factory=list)


@with_config(_STRICT)
class OtlpAnyValue(TypedDict, total=False):
    """An attribute value: one of the fields (the first present, in this order, is taken).

    A typed dict rather than a model: a field left out is absent (never null, which the schema refuses), and
    the check runs without a line of Python per value.
    """

    stringValue: str
    boolValue: bool
    intValue: _INT64
    doubleValue: float
    bytesValue: _BASE64
    arrayValue: OtlpArrayValue
    kvlistValue: OtlpKeyValueList


@with_config(_STRICT)
class OtlpKeyValue(TypedDict):
    """An attribute (a typed dict too: spans carry many, and a model each costs more than its check)."""

    key: str
    value: NotRequired[OtlpAnyValue]


class OtlpStatus(_Otlp):
    """A span's status."""

    code: _STATUS_CODE = 0
    message: str = ""


class OtlpEvent(_Otlp):
    """A span event."""

    timeUnixNano: _UINT64 = 0
    name: str = ""
    attributes: list[OtlpKeyValue] = Field(default_factory=list)
    droppedAttributesCount: _UINT32 = 0


class OtlpLink(_Otlp):
    """A link to another span."""

    traceId: _TRACE_ID
    spanId: _SPAN_ID
    traceState: str = ""
    attributes: list[OtlpKeyValue] = Field(default_factory=list)
    droppedAttributesCount: _UINT32 = 0


class OtlpSpan(_Otlp):
    """A span: ids in hex, times in Unix nanoseconds."""

    traceId: _NONZERO_TRACE_ID
    spanId: _NONZERO_SPAN_ID
    parentSpanId: _PARENT_SPAN_ID = ""
    traceState: str = ""
    flags: _UINT32 = 0
    name: str = ""
    kind: _SPAN_KIND = 0
    startTimeUnixNano: _UINT64 = 0
    endTimeUnixNano: _UINT64 = 0
    attributes: list[OtlpKeyValue] = Field(default_factory=list)
    droppedAttributesCount: _UINT32 = 0
    events: list[OtlpEvent] = Field(default_factory=list)
    droppedEventsCount: _UINT32 = 0
    links: list[OtlpLink] = Field(default_factory=list)
    droppedLinksCount: _UINT32 = 0
    status: OtlpStatus = Field(default_factory=OtlpStatus)


class OtlpInstrumentationScope(_Otlp):
    """The library that made the spans."""

    name: str = ""
    version: str = ""
    attributes: list[OtlpKeyValue] = Field(default_factory=list)


class OtlpScopeSpans(_Otlp):
    """Spans of one instrumentation scope."""

    scope: OtlpInstrumentationScope = Field(default_factory=OtlpInstrumentationScope)
    spans: list[OtlpSpan] = Field(default_factory=list)
    schemaUrl: str = ""


class OtlpResource(_Otlp):
    """The process the spans come from; its ``service.name`` must be one the endpoint allows (else 403)."""

    attributes: list[OtlpKeyValue] = Field(default_factory=list)


class OtlpResourceSpans(_Otlp):
    """Spans of one resource."""

    resource: OtlpResource = Field(default_factory=OtlpResource)
    scopeSpans: list[OtlpScopeSpans] = Field(default_factory=list)
    schemaUrl: str = ""


class OtlpExportTraceServiceRequest(_Otlp):
    """An OTLP/HTTP trace export in JSON (``application/json``), as OpenTelemetry JS exporters send it."""

    resourceSpans: list[OtlpResourceSpans] = Field(default_factory=list)


def validate_export(data: bytes) -> OtlpExportTraceServiceRequest:
    """Parse and check a JSON export in one pass (pydantic-core's parser); the ``ValueError`` is the 400's message."""
    try:
        return OtlpExportTraceServiceRequest.model_validate_json(data)
    except ValidationError as error:
        problems = error.errors(include_url=False)
    if problems[0]["type"] == "json_invalid":
        raise ValueError("malformed JSON: " + str(problems[0].get("ctx", {}).get("error", "invalid JSON"))[:300])
    for problem in problems:
        if problem["type"] == "list_type":
            # JSON mode says "array"; the API's other 4xx (decoded bodies, FastAPI) say "list": both, then.
            problem["msg"] = "Input should be a valid list (a JSON array)"
    raise ValueError("malformed OTLP JSON: " + f"does not match the schema: {describe_problems(problems)}"[:300])


# The protobuf request is built from plain dicts: upb fills nested messages from them in C, which is several
# times faster than making each message in Python and copying it into its parent. It takes an enum as its
# number or its name, as OTLP/JSON may write it.
_Fields = dict[str, Any]


def _value(value: OtlpAnyValue) -> _Fields:
    # The first present field, in the order of the schema.
    if "stringValue" in value:
        return {"string_value": value["stringValue"]}
    if "boolValue" in value:
        return {"bool_value": value["boolValue"]}
    if "intValue" in value:
        return {"int_value": int(value["intValue"])}
    if "doubleValue" in value:
        return {"double_value": value["doubleValue"]}
    if "bytesValue" in value:
        return {"bytes_value": base64.b64decode(value["bytesValue"])}
    if "arrayValue" in value:
        return {"array_value": {"values": [_value(item) for item in value["arrayValue"].values]}}
    if "kvlistValue" in value:
        return {"kvlist_value": {"values": _attributes(value["kvlistValue"].values)}}
    return {}


_NO_VALUE = OtlpAnyValue()


def _attributes(attributes: list[OtlpKeyValue]) -> list[_Fields]:
    return [{"key": attribute["key"], "value": _value(attribute.get("value", _NO_VALUE))} for attribute in attributes]


def _span(span: OtlpSpan) -> _Fields:
    return {
        "trace_id": bytes.fromhex(span.traceId),
        "span_id": bytes.fromhex(span.spanId),
        "parent_span_id": bytes.fromhex(span.parentSpanId),
        "trace_state": span.traceState,
        "flags": span.flags,
        "name": span.name,
        "kind": span.kind,
        "start_time_unix_nano": int(span.startTimeUnixNano),
        "end_time_unix_nano": int(span.endTimeUnixNano),
        "attributes": _attributes(span.attributes),
        "dropped_attributes_count": span.droppedAttributesCount,
        "events": [
            {
                "time_unix_nano": int(event.timeUnixNano),
                "name": event.name,
                "attributes": _attributes(event.attributes),
                "dropped_attributes_count": event.droppedAttributesCount,
            }
            for event in span.events
        ],
        "dropped_events_count": span.droppedEventsCount,
        "links": [
            {
                "trace_id": bytes.fromhex(link.traceId),
                "span_id": bytes.fromhex(link.spanId),
                "trace_state": link.traceState,
                "attributes": _attributes(link.attributes),
                "dropped_attributes_count": link.droppedAttributesCount,
            }
            for link in span.links
        ],
        "dropped_links_count": span.droppedLinksCount,
        "status": {"code": span.status.code, "message": span.status.message},
    }


def to_protobuf(export: OtlpExportTraceServiceRequest) -> ExportTraceServiceRequest:
    """A checked JSON export as the protobuf request (what the collector is sent)."""
    # Dicts where the stubs say messages: upb takes both.
    converted: list[Any] = [
        {
            "schema_url": resource_spans.schemaUrl,
            "resource": {"attributes": _attributes(resource_spans.resource.attributes)},
            "scope_spans": [
                {
                    "schema_url": scope_spans.schemaUrl,
                    "scope": {
                        "name": scope_spans.scope.name,
                        "version": scope_spans.scope.version,
                        "attributes": _attributes(scope_spans.scope.attributes),
                    },
                    "spans": [_span(span) for span in scope_spans.spans],
                }
                for scope_spans in resource_spans.scopeSpans
            ],
        }
        for resource_spans in export.resourceSpans
    ]
    return ExportTraceServiceRequest(resource_spans=converted)


def read_export(data: bytes) -> ExportTraceServiceRequest:
    """A JSON export's bytes, checked against the schema, as the protobuf request; a ``ValueError`` says why not."""
    export = validate_export(data)
    try:
        return to_protobuf(export)
    except ValueError as error:  # a string protobuf cannot hold (a lone surrogate)
        raise ValueError(f"malformed OTLP JSON: {str(error)[:300]}") from None
