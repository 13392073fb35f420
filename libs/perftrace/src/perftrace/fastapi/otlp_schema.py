"""The OTLP/JSON trace export a browser may send, as pydantic models: the published schema and the check in one.

The browser endpoint checks a JSON export against these models before ``perftrace.browser_export`` reads
it, so ``/openapi.json`` says exactly what is accepted: an export the schema calls valid is read without
error, one it calls invalid is refused with 400. The models are stricter than readers that coerce
(``"flags": "1"``, ``"name": null``); OpenTelemetry JS exporters write the strict form. Limits counted over
a whole export (spans per export, body bytes) are in the operation's description and answer 413.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.json_schema import SkipJsonSchema

from perftrace.fastapi.contract import JSON_INTEGRAL, MAX_INT64, MAX_UINT64, describe_problems

_INTEGRAL = JSON_INTEGRAL
_UINT32 = Annotated[int, Field(ge=0, le=2**32 - 1), _INTEGRAL]
# OTLP/JSON writes 64-bit integers as decimal strings (JavaScript numbers lose precision past 2**53).
_UINT64 = Annotated[
    Annotated[int, Field(ge=0, le=MAX_UINT64)] | Annotated[str, Field(pattern=r"^[0-9]{1,19}$")], _INTEGRAL
]
_INT64 = Annotated[
    Annotated[int, Field(ge=-(2**63), le=MAX_INT64)] | Annotated[str, Field(pattern=r"^-?[0-9]{1,18}$")], _INTEGRAL
]
_BASE64 = Annotated[str, Field(pattern=r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")]
_NONZERO_TRACE_ID = Annotated[
    str, Field(min_length=32, max_length=32, pattern=r"^[0-9a-fA-F]*[1-9a-fA-F][0-9a-fA-F]*$")
]
_NONZERO_SPAN_ID = Annotated[str, Field(min_length=16, max_length=16, pattern=r"^[0-9a-fA-F]*[1-9a-fA-F][0-9a-fA-F]*$")]
_TRACE_ID = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{32}$")]
_SPAN_ID = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{16}$")]
_PARENT_SPAN_ID = Annotated[str, Field(pattern=r"^(?:[0-9a-fA-F]{16})?$")]
_SPAN_KIND = Annotated[
    Literal[0, 1, 2, 3, 4, 5]
    | Literal[
        "SPAN_KIND_UNSPECIFIED",
        "SPAN_KIND_INTERNAL",
        "SPAN_KIND_SERVER",
        "SPAN_KIND_CLIENT",
        "SPAN_KIND_PRODUCER",
        "SPAN_KIND_CONSUMER",
    ],
    _INTEGRAL,
]
_STATUS_CODE = Annotated[
    Literal[0, 1, 2] | Literal["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"], _INTEGRAL
]


class _Otlp(BaseModel):
    # Strict: the schema's types are the accepted types. Unknown fields are ignored, as OTLP readers do.
    model_config = ConfigDict(strict=True)


class OtlpArrayValue(_Otlp):
    """An array attribute value."""

    values: list[OtlpAnyValue] = []


class OtlpKeyValueList(_Otlp):
    """A map attribute value."""

    values: list[OtlpKeyValue] = []


class OtlpAnyValue(_Otlp):
    """An attribute value: one of the fields (the first present, in this order, is taken)."""

    stringValue: str | SkipJsonSchema[None] = None
    boolValue: bool | SkipJsonSchema[None] = None
    intValue: _INT64 | SkipJsonSchema[None] = None
    doubleValue: float | SkipJsonSchema[None] = None
    bytesValue: _BASE64 | SkipJsonSchema[None] = None
    arrayValue: OtlpArrayValue | SkipJsonSchema[None] = None
    kvlistValue: OtlpKeyValueList | SkipJsonSchema[None] = None

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        # Optional fields may be left out, never null: the converter reads a present field as a value.
        if isinstance(data, dict):
            nulls = sorted(key for key, value in data.items() if value is None and key in cls.model_fields)
            if nulls:
                raise ValueError(f"{', '.join(nulls)} must not be null")
        return data


class OtlpKeyValue(_Otlp):
    """An attribute."""

    key: str
    value: OtlpAnyValue = Field(default_factory=lambda: OtlpAnyValue())


class OtlpStatus(_Otlp):
    """A span's status."""

    code: _STATUS_CODE = 0
    message: str = ""


class OtlpEvent(_Otlp):
    """A span event."""

    timeUnixNano: _UINT64 = 0
    name: str = ""
    attributes: list[OtlpKeyValue] = []
    droppedAttributesCount: _UINT32 = 0


class OtlpLink(_Otlp):
    """A link to another span."""

    traceId: _TRACE_ID
    spanId: _SPAN_ID
    traceState: str = ""
    attributes: list[OtlpKeyValue] = []
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
    attributes: list[OtlpKeyValue] = []
    droppedAttributesCount: _UINT32 = 0
    events: list[OtlpEvent] = []
    droppedEventsCount: _UINT32 = 0
    links: list[OtlpLink] = []
    droppedLinksCount: _UINT32 = 0
    status: OtlpStatus = Field(default_factory=lambda: OtlpStatus())


class OtlpInstrumentationScope(_Otlp):
    """The library that made the spans."""

    name: str = ""
    version: str = ""
    attributes: list[OtlpKeyValue] = []


class OtlpScopeSpans(_Otlp):
    """Spans of one instrumentation scope."""

    scope: OtlpInstrumentationScope = Field(default_factory=lambda: OtlpInstrumentationScope())
    spans: list[OtlpSpan] = []
    schemaUrl: str = ""


class OtlpResource(_Otlp):
    """The process the spans come from; its ``service.name`` must be one the endpoint allows (else 403)."""

    attributes: list[OtlpKeyValue] = []


class OtlpResourceSpans(_Otlp):
    """Spans of one resource."""

    resource: OtlpResource = Field(default_factory=lambda: OtlpResource())
    scopeSpans: list[OtlpScopeSpans] = []
    schemaUrl: str = ""


class OtlpExportTraceServiceRequest(_Otlp):
    """An OTLP/HTTP trace export in JSON (``application/json``), as OpenTelemetry JS exporters send it."""

    resourceSpans: list[OtlpResourceSpans] = []


def check_export_document(document: Any) -> None:
    """Refuse (``ValueError``, a 400) a JSON export that does not match ``OtlpExportTraceServiceRequest``."""
    try:
        OtlpExportTraceServiceRequest.model_validate(document)
    except ValidationError as error:
        raise ValueError(f"does not match the schema: {describe_problems(error.errors())}") from None
