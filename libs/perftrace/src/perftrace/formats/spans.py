"""The JSON form of spans and traces, derived from the records: one model for the routes and the snapshot file.

A span's fields are declared once, in ``SpanRecord`` (``perftrace.tracing.records``); ``SpanJson`` is that
record as a JSON object with the same keys, ids as hex digits and ``duration_ms`` added for readers. A field
added to the record is in the JSON routes, the snapshot file and their schemas with no edit here; only a field
whose JSON differs from its Python type needs a line in ``_SPAN_WIRE``.

Traces likewise (``TraceJson``). Validation is strict in the models that use these (the JSON types are the
accepted types) and happens once, into records: a reader gets ``SpanRecord``/``TraceRecord`` straight out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, get_type_hints

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    PlainSerializer,
    Strict,
    TypeAdapter,
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


def _hex_id(digits: int, *, zero_is_null: bool = False) -> Any:
    """An integer id written as ``digits`` hex digits; with ``zero_is_null``, 0 (no parent) as ``null``."""
    text = Annotated[str, Field(pattern=f"^[0-9a-fA-F]{{{digits}}}$")]
    return Annotated[
        text | None if zero_is_null else text,
        AfterValidator(lambda v: int(v, 16) if v is not None else 0),
        PlainSerializer(lambda v: f"{v:0{digits}x}" if v or not zero_is_null else None),
    ]


SpanId, ParentSpanId, TraceId = _hex_id(16), _hex_id(16, zero_is_null=True), _hex_id(32)
Attributes = Annotated[dict[str, Any], AfterValidator(attribute_map)]


class AsObject:
    """A ``NamedTuple`` record as a JSON object keyed by its field names (``Annotated[Record, AsObject()]``).

    Args:
        wire: the JSON type of fields that differ from their Python type (ids as hex, bounded integers).
        optional: fields a document may leave out, and their value then (older files).
        added: output-only keys computed from the record, with their type (a summary for readers).
        read: applied to each record read; ``write``: to each record before it is written.
    """

    def __init__(
        self,
        wire: Mapping[str, Any],
        *,
        optional: Mapping[str, Any] | None = None,
        added: Mapping[str, tuple[Any, Callable[[Any], Any]]] | None = None,
        read: Callable[[Any], Any] | None = None,
        write: Callable[[Any], Any] | None = None,
    ) -> None:
        self.wire, self.optional, self.added = wire, optional or {}, added or {}
        self.read, self.write = read or (lambda record: record), write or (lambda record: record)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        """Validate an object into the record (a record passes as itself); write the record as an object."""
        hints, names = get_type_hints(source), source._fields
        defaults = {**source._field_defaults, **self.optional}
        fields: dict[str, core_schema.TypedDictField] = {}
        for name in names:
            # Strict: the JSON types are the accepted types (a boolean is no count, a number no name).
            kind = self.wire.get(name, hints[name])
            try:
                schema = handler.generate_schema(Annotated[kind, Strict()])
            except RuntimeError:  # optional values: strict is for their inner type (str | None is strict anyway)
                schema = handler.generate_schema(kind)
            if name in defaults:
                schema = core_schema.with_default_schema(schema, default=defaults[name])
            fields[name] = core_schema.typed_dict_field(schema, required=name not in defaults)
        read = core_schema.typed_dict_schema(dict(fields))  # the added keys are not read: not in what is accepted
        for name, (kind, _) in self.added.items():
            fields[name] = core_schema.typed_dict_field(handler.generate_schema(kind))
        document = core_schema.typed_dict_schema(fields)

        def to_record(values: dict[str, Any]) -> Any:
            return self.read(source(*(tuple(values[n]) if isinstance(values[n], list) else values[n] for n in names)))

        def to_document(record: Any, serialize: core_schema.SerializerFunctionWrapHandler) -> Any:
            record = self.write(record)
            values = {name: list(v) if isinstance(v, tuple) else v for name, v in zip(names, record, strict=True)}
            return serialize(values | {name: compute(record) for name, (_, compute) in self.added.items()})

        return core_schema.no_info_wrap_validator_function(
            lambda value, validate: value if isinstance(value, source) else validate(value),
            core_schema.no_info_after_validator_function(to_record, read),
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
#: A span as the routes and the snapshot file write it; files from before spans carried their trace id read.
SpanJson = Annotated[
    SpanRecord,
    AsObject(
        _SPAN_WIRE,
        optional={
            **{"trace_id": 0, "parent_span_id": 0, "parent_is_remote": False},
            **{"kind": "INTERNAL", "service_name": "", "status": "UNSET", "status_message": None, "attributes": {}},
        },
        added={"duration_ms": (float, lambda span: span.duration_seconds * 1000)},
        read=_not_before_its_start,
    ),
]


def _with_trace_id(trace: TraceRecord) -> TraceRecord:
    return trace._replace(spans=tuple(s._replace(trace_id=trace.trace_id) for s in trace.spans))


def _in_start_order(trace: TraceRecord) -> TraceRecord:
    return trace._replace(spans=tuple(sorted(trace.spans, key=lambda s: s.start_time_unix_nano)))


#: A trace and its spans in start order, with a summary for readers (not read back).
TraceJson = Annotated[
    TraceRecord,
    AsObject(
        {"trace_id": TraceId, "spans": list[SpanJson], "dropped_spans": UInt64},
        added={
            "root_name": (str | None, lambda t: t.root.name if t.root else None),
            "duration_ms": (float, lambda t: t.duration_seconds * 1000),
            "start_time_unix_nano": (int, lambda t: t.start_time_unix_nano),
            "span_count": (int, lambda t: len(t.spans)),
            "status": (str, lambda t: "ERROR" if any(s.status == "ERROR" for s in t.spans) else "OK"),
            "services": (list[str], lambda t: sorted({s.service_name for s in t.spans})),
        },
        read=_with_trace_id,
        write=_in_start_order,
    ),
]
_TRACES = TypeAdapter(list[TraceJson], config=ConfigDict(strict=True))


def traces_from_json(payload: Any) -> list[TraceRecord]:
    """Traces as ``GET /api/v1/performance/traces`` returns them (its JSON, decoded).

    Raises:
        pydantic.ValidationError: naming each field that is not as the schema says.
    """
    return _TRACES.validate_python(payload)
