"""Compact, immutable records of finished spans and the traces they form.

The ring buffer keeps these instead of SDK span objects: an SDK span holds its context, resource, lock,
event and link lists, so a hundred retained traces become tens of thousands of objects the cyclic GC
must walk on every full collection. A record is one tuple plus a dict of atomic values, which the GC
stops tracking after its first pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, NamedTuple, cast, get_type_hints

from opentelemetry.sdk.resources import SERVICE_NAME  # noqa: F401 - read by a field's expression
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

_KIND_NAMES = {kind: kind.name for kind in SpanKind}
_STATUS_NAMES = {code: code.name for code in StatusCode}
_EMPTY: Mapping[str, Any] = {}
_new = tuple.__new__


class FromSdk(NamedTuple):
    """How a ``SpanRecord`` field is read from an ended SDK span ``span``: a Python expression.

    ``from_readable_span`` is compiled from the fields' expressions (as ``dataclasses`` compiles ``__init__``),
    so the per-span path is one function with no call per field, and a new field is its declaration alone.
    """

    expression: str


class SpanEvent(NamedTuple):
    """Something that happened at one moment of a span (an exception, a first token, an evaluation)."""

    name: str
    time_unix_nano: int
    attributes: Mapping[str, Any] = _EMPTY


class SpanRecord(NamedTuple):
    """One finished span, reduced to what reports and the viewer need: the one declaration of a span's fields.

    Ids are integers as in the SDK; ``parent_span_id`` is 0 for a root span. Times are epoch
    nanoseconds. ``attributes`` is a plain dict of atomic values (or tuples of them) that nobody
    mutates: the GC stops tracking such a dict, and ``attributes_dict()`` hands out copies.

    Each field is declared with how it is read from an ended SDK span (``FromSdk``), and every format derives
    from these fields: the JSON routes and the snapshot file write each field under its own name
    (``perftrace.formats.spans``), and a test checks the buffer, those and the Jaeger reader against this list.
    A new field (with a default) is one line here.
    """

    trace_id: Annotated[int, FromSdk("span.context.trace_id")]
    span_id: Annotated[int, FromSdk("span.context.span_id")]
    parent_span_id: Annotated[int, FromSdk("span.parent.span_id if span.parent else 0")]
    parent_is_remote: Annotated[bool, FromSdk("span.parent is not None and span.parent.is_remote")]
    name: Annotated[str, FromSdk("span.name")]
    kind: Annotated[str, FromSdk("_KIND_NAMES.get(span.kind, 'INTERNAL')")]
    service_name: Annotated[str, FromSdk("str(span.resource.attributes.get(SERVICE_NAME, ''))")]
    start_time_unix_nano: Annotated[int, FromSdk("span.start_time or 0")]
    end_time_unix_nano: Annotated[int, FromSdk("span.end_time or span.start_time or 0")]
    status: Annotated[str, FromSdk("_STATUS_NAMES.get(span.status.status_code, 'UNSET')")] = "UNSET"
    status_message: Annotated[str | None, FromSdk("span.status.description")] = None
    #: A mapping proxy over BoundedAttributes: its copy() is a plain dict, 10x cheaper than dict().
    attributes: Annotated[Mapping[str, Any], FromSdk("span.attributes.copy() if span.attributes else _EMPTY")] = _EMPTY
    #: The public ``events`` copies the SDK's locked list on every call; most spans have none to copy.
    events: Annotated[tuple[SpanEvent, ...], FromSdk("tuple(map(_event, span._events)) if span._events else ()")] = ()

    @classmethod
    def from_readable_span(cls, span: ReadableSpan) -> SpanRecord:
        """Copy the fields of an ended SDK span into a record (the span path: compiled from the fields, below)."""
        return read_span(span)

    @property
    def trace_id_hex(self) -> str:
        """The trace id as the 32 hex digits that Jaeger and Tempo show."""
        return format(self.trace_id, "032x")

    @property
    def span_id_hex(self) -> str:
        """The span id as 16 hex digits."""
        return format(self.span_id, "016x")

    @property
    def parent_span_id_hex(self) -> str | None:
        """The parent span id as 16 hex digits, or None for a root span."""
        return format(self.parent_span_id, "016x") if self.parent_span_id else None

    @property
    def duration_seconds(self) -> float:
        """Wall-clock duration of the span."""
        return max(0, self.end_time_unix_nano - self.start_time_unix_nano) / 1e9

    def attribute(self, key: str, default: Any = None) -> Any:
        """Return one attribute value."""
        return self.attributes.get(key, default)

    def attributes_dict(self) -> dict[str, Any]:
        """Return the attributes as a new dict (tuples become lists, as JSON would have them)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.attributes.items()}


class TraceRecord(NamedTuple):
    """The spans of one trace that the ring buffer holds, in the order they ended."""

    trace_id: int
    spans: tuple[SpanRecord, ...]
    dropped_spans: int = 0

    @property
    def trace_id_hex(self) -> str:
        """The trace id as 32 hex digits."""
        return format(self.trace_id, "032x")

    @property
    def root(self) -> SpanRecord | None:
        """The outermost span held: the true root, else the first span whose parent is not held."""
        held = {span.span_id for span in self.spans}
        orphans = [s for s in self.spans if s.parent_span_id == 0 or s.parent_span_id not in held]
        if not orphans:
            return None
        return min(orphans, key=lambda s: (s.parent_span_id != 0, s.start_time_unix_nano))

    @property
    def start_time_unix_nano(self) -> int:
        """Start of the earliest span."""
        return min((s.start_time_unix_nano for s in self.spans), default=0)

    @property
    def end_time_unix_nano(self) -> int:
        """End of the latest span."""
        return max((s.end_time_unix_nano for s in self.spans), default=0)

    @property
    def duration_seconds(self) -> float:
        """Wall-clock time from the first span's start to the last span's end."""
        return max(0, self.end_time_unix_nano - self.start_time_unix_nano) / 1e9

    def children_of(self, span_id: int) -> list[SpanRecord]:
        """Direct children of a span, in start order."""
        return sorted((s for s in self.spans if s.parent_span_id == span_id), key=lambda s: s.start_time_unix_nano)

    def find(self, predicate_name: str) -> list[SpanRecord]:
        """Spans with the given name, in start order."""
        return sorted((s for s in self.spans if s.name == predicate_name), key=lambda s: s.start_time_unix_nano)


def _compile_from_readable_span() -> Callable[[ReadableSpan], SpanRecord]:
    hints = get_type_hints(SpanRecord, include_extras=True)
    expressions = [hints[name].__metadata__[0].expression for name in SpanRecord._fields]
    source = f"def from_readable_span(span):\n    return _new(SpanRecord, ({', '.join(expressions)},))"
    namespace: dict[str, Any] = {}
    exec(source, globals(), namespace)  # the expressions are this module's own declarations
    return cast(Callable[[ReadableSpan], SpanRecord], namespace["from_readable_span"])


#: ``SpanRecord.from_readable_span`` without the method call around it: the buffer's per-span path.
read_span = _compile_from_readable_span()


def _event(event: Event) -> SpanEvent:
    attributes = event.attributes
    return SpanEvent(event.name, event.timestamp, dict(attributes) if attributes else _EMPTY)


def attribute_map(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Attributes in the form records hold them: lists become tuples."""
    if not attributes:
        return {}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in attributes.items()}
