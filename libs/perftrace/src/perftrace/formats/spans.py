"""The JSON form of spans and traces, derived from the records: one model for the routes and the snapshot file.

A span's fields are declared once, in ``SpanRecord`` (``perftrace.tracing.records``); ``SpanJson`` is that
record as a JSON object with the same keys, ids as hex digits and ``duration_ms`` added for readers. A field
added to the record is in the JSON routes, the snapshot file and their schemas with no edit here; only a field
whose JSON differs from its Python type needs a line in ``_SPAN_WIRE``.

Validation is strict (the JSON types are the accepted types) and happens once, into records: a reader gets
``SpanRecord``/``TraceRecord`` straight from ``TraceModel``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, get_type_hints

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    TypeAdapter,
    computed_field,
)
from pydantic_core import core_schema

from perftrace.tracing.records import SpanEvent, SpanRecord, TraceRecord, attribute_map


def _integral(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


#: For a strict model's integer fields: JSON Schema counts ``3.0`` as an integer (equal to 3), so the check does.
JSON_INTEGRAL = BeforeValidator(_integral)
#: Largest 64-bit bounds that are floats themselves: a JSON number written just under one cannot round (as a
#: Python float) to past it, so the schema's bound and the check's agree.
MAX_UINT64 = 2**64 - 4096
MAX_INT64 = 2**63 - 1024
#: A count or a time in epoch nanoseconds.
UInt64 = Annotated[int, Field(ge=0, le=MAX_UINT64), JSON_INTEGRAL]


class HexId:
    """An integer id written as a fixed number of hex digits (``Annotated[int, HexId(16)]``).

    With ``zero_is_null``, 0 (no parent) is written as ``null`` and read back from it.
    """

    def __init__(self, digits: int, *, zero_is_null: bool = False) -> None:
        self.digits, self.zero_is_null = digits, zero_is_null

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        """Hex digits in, an ``int`` in Python, the same digits out."""
        text: core_schema.CoreSchema = core_schema.str_schema(pattern=f"^[0-9a-fA-F]{{{self.digits}}}$")
        if self.zero_is_null:
            text = core_schema.nullable_schema(text)
        return core_schema.no_info_after_validator_function(
            lambda value: int(value, 16) if value is not None else 0,
            text,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda value: format(value, f"0{self.digits}x") if value or not self.zero_is_null else None
            ),
        )


SpanId = Annotated[int, HexId(16)]
ParentSpanId = Annotated[int, HexId(16, zero_is_null=True)]
TraceId = Annotated[int, HexId(32)]
Attributes = Annotated[dict[str, Any], AfterValidator(attribute_map)]


class AsObject:
    """A ``NamedTuple`` record as a JSON object with its field names as keys (``Annotated[Record, AsObject()]``).

    Args:
        wire: the JSON type of fields that differ from their Python type (ids as hex, bounded integers).
        optional: fields a document may leave out, and their value then (older files).
        added: output-only keys computed from the record, with their type.
        fix: applied to each record read (e.g. a span that ends before it starts).
    """

    def __init__(
        self,
        wire: Mapping[str, Any],
        *,
        optional: Mapping[str, Any] | None = None,
        added: Mapping[str, tuple[type, Callable[[Any], Any]]] | None = None,
        fix: Callable[[Any], Any] | None = None,
    ) -> None:
        self.wire, self.optional, self.added, self.fix = wire, optional or {}, added or {}, fix

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        """Validate an object into the record (a record passes as itself); write the record as an object."""
        hints = get_type_hints(source)
        defaults = {**source._field_defaults, **self.optional}
        fields: dict[str, core_schema.TypedDictField] = {}
        for name in source._fields:
            schema = handler.generate_schema(self.wire.get(name, hints[name]))
            if name in defaults:
                schema = core_schema.with_default_schema(schema, default=defaults[name])
            fields[name] = core_schema.typed_dict_field(schema, required=name not in defaults)
        for name, (kind, _) in self.added.items():
            schema = core_schema.with_default_schema(handler.generate_schema(kind), default=None)
            fields[name] = core_schema.typed_dict_field(schema, required=False)
        document = core_schema.typed_dict_schema(fields)
        names, fix = source._fields, self.fix or (lambda record: record)

        def to_record(values: dict[str, Any]) -> Any:
            return fix(source(**{n: tuple(v) if isinstance(v, list) else v for n, v in values.items() if n in names}))

        def to_document(record: Any, serialize: core_schema.SerializerFunctionWrapHandler) -> Any:
            values = {name: list(v) if isinstance(v, tuple) else v for name, v in zip(names, record, strict=True)}
            for name, (_, compute) in self.added.items():
                values[name] = compute(record)
            return serialize(values)

        read = core_schema.no_info_after_validator_function(to_record, document)
        return core_schema.no_info_wrap_validator_function(
            lambda value, validate: value if isinstance(value, source) else validate(value),
            read,
            serialization=core_schema.wrap_serializer_function_ser_schema(to_document, schema=document),
        )


def _not_before_its_start(span: SpanRecord) -> SpanRecord:
    # JSON Schema cannot compare two fields: a span that ends before it starts is read as zero-length.
    if span.end_time_unix_nano >= span.start_time_unix_nano:
        return span
    return span._replace(end_time_unix_nano=span.start_time_unix_nano)


SpanEventJson = Annotated[SpanEvent, AsObject({"time_unix_nano": UInt64, "attributes": Attributes})]
#: Fields whose JSON is not their Python type; every other field of ``SpanRecord`` is written as it is.
_SPAN_WIRE: dict[str, Any] = {
    "trace_id": TraceId,
    "span_id": SpanId,
    "parent_span_id": ParentSpanId,
    "start_time_unix_nano": UInt64,
    "end_time_unix_nano": UInt64,
    "status": Annotated[str, Field(pattern="^(UNSET|OK|ERROR)$")],
    "attributes": Attributes,
    "events": list[SpanEventJson],
}
SpanJson = Annotated[
    SpanRecord,
    AsObject(
        _SPAN_WIRE,
        # The trace's id is on the trace; spans of files written before spans carried it take it from there.
        optional={
            **{"trace_id": 0, "parent_span_id": 0, "parent_is_remote": False},
            **{"kind": "INTERNAL", "service_name": "", "status": "UNSET", "status_message": None, "attributes": {}},
        },
        added={"duration_ms": (float, lambda span: span.duration_seconds * 1000)},
        fix=_not_before_its_start,
    ),
]


class TraceModel(BaseModel):
    """One trace and its spans in start order, with a summary for readers (the summary is not read back)."""

    model_config = ConfigDict(strict=True, frozen=True)

    trace_id: TraceId = Field(description="32 hex digits")
    dropped_spans: UInt64 = 0
    spans: list[SpanJson]

    @classmethod
    def from_record(cls, trace: TraceRecord) -> TraceModel:
        """The JSON form of a kept trace."""
        spans = sorted(trace.spans, key=lambda s: s.start_time_unix_nano)
        return cls.model_construct(trace_id=trace.trace_id, dropped_spans=trace.dropped_spans, spans=spans)

    def to_record(self) -> TraceRecord:
        """The trace as a record, for the analysis functions (each span gets the trace's id)."""
        spans = tuple(s if s.trace_id == self.trace_id else s._replace(trace_id=self.trace_id) for s in self.spans)
        return TraceRecord(self.trace_id, spans, self.dropped_spans)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def root_name(self) -> str | None:
        """The name of the trace's outermost span held."""
        root = self.to_record().root
        return root.name if root else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_ms(self) -> float:
        """From the first span's start to the last span's end."""
        return self.to_record().duration_seconds * 1000

    @computed_field  # type: ignore[prop-decorator]
    @property
    def start_time_unix_nano(self) -> int:
        """Start of the earliest span."""
        return min((s.start_time_unix_nano for s in self.spans), default=0)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def span_count(self) -> int:
        """How many spans are held."""
        return len(self.spans)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> str:
        """ERROR when any span failed, else OK."""
        return "ERROR" if any(s.status == "ERROR" for s in self.spans) else "OK"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def services(self) -> list[str]:
        """The services the spans come from."""
        return sorted({s.service_name for s in self.spans})


_TRACES = TypeAdapter(list[TraceModel])


def traces_from_json(payload: Any) -> list[TraceRecord]:
    """Traces as ``GET /api/v1/performance/traces`` returns them (its JSON, decoded).

    Raises:
        pydantic.ValidationError: naming each field that is not as the schema says.
    """
    return [trace.to_record() for trace in _TRACES.validate_python(payload)]
