"""Traces read from Jaeger's HTTP query API (``GET /api/traces``), as ``TraceRecord``s, through typed models.

A pure conversion; fetching is the caller's. A malformed payload raises ``pydantic.ValidationError``.
Jaeger keeps OpenTelemetry's span kind, status and events in tags and logs (its OTLP translation); they
are read back into the record's fields, and the other tags are the attributes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from perftrace.tracing.records import SpanEvent, SpanRecord, TraceRecord, attribute_map

#: Tags that Jaeger's OTLP translation makes of a span's own fields; every other tag is an attribute.
_FIELD_TAGS = ("span.kind", "otel.status_code", "otel.status_description", "error", "internal.span.format")


class JaegerReference(BaseModel):
    """A span's link to its parent (``CHILD_OF``) or to another span."""

    ref_type: str = Field(alias="refType")
    span_id: str = Field(alias="spanID")


class JaegerTag(BaseModel):
    """One key and value (a span's attribute, a log's field)."""

    key: str
    value: Any = None


class JaegerLog(BaseModel):
    """A span event: Jaeger writes its name as the ``event`` field."""

    timestamp: int = 0
    fields: list[JaegerTag] | None = None

    def to_event(self) -> SpanEvent:
        """The log as the record's event (times in microseconds become nanoseconds)."""
        fields = {field.key: field.value for field in self.fields or []}
        name = str(fields.pop("event", ""))
        return SpanEvent(name, self.timestamp * 1000, attribute_map(fields))


class JaegerProcess(BaseModel):
    """The resource of a span: its service."""

    service_name: str = Field("", alias="serviceName")


class JaegerSpan(BaseModel):
    """One span of Jaeger's API (times in microseconds)."""

    span_id: str = Field(alias="spanID")
    operation_name: str = Field(alias="operationName")
    references: list[JaegerReference] | None = None
    start_time: int = Field(alias="startTime")
    duration: int = 0
    tags: list[JaegerTag] | None = None
    logs: list[JaegerLog] | None = None
    process_id: str | None = Field(None, alias="processID")

    def to_record(self, trace_id: int, processes: dict[str, JaegerProcess]) -> SpanRecord:
        """The span as a record; Jaeger's ``otel.status_code``/``error`` tags give the status."""
        tags = {tag.key: tag.value for tag in self.tags or []}
        reference = next((r for r in self.references or [] if r.ref_type == "CHILD_OF"), None)
        start = self.start_time * 1000
        process = processes.get(self.process_id or "")
        error = tags.get("otel.status_code") == "ERROR" or tags.get("error") is True
        status = "ERROR" if error else "OK" if tags.get("otel.status_code") == "OK" else "UNSET"
        return SpanRecord(
            trace_id=trace_id,
            span_id=int(self.span_id, 16),
            parent_span_id=int(reference.span_id, 16) if reference else 0,
            parent_is_remote=False,
            name=self.operation_name,
            kind=str(tags.get("span.kind", "internal")).upper(),
            service_name=process.service_name if process else "",
            start_time_unix_nano=start,
            end_time_unix_nano=start + self.duration * 1000,
            status=status,
            status_message=tags.get("otel.status_description"),
            attributes=attribute_map({k: v for k, v in tags.items() if k not in _FIELD_TAGS}),
            events=tuple(log.to_event() for log in self.logs or []),
        )


class JaegerTrace(BaseModel):
    """One trace of Jaeger's API."""

    trace_id: str = Field(alias="traceID")
    spans: list[JaegerSpan] | None = None
    processes: dict[str, JaegerProcess] | None = None

    def to_record(self) -> TraceRecord:
        """The trace as a record."""
        trace_id = int(self.trace_id, 16)
        processes = self.processes or {}
        return TraceRecord(trace_id, tuple(span.to_record(trace_id, processes) for span in self.spans or []))


class JaegerTraces(BaseModel):
    """The body of Jaeger's ``GET /api/traces`` and ``GET /api/traces/{id}``: ``{"data": [...]}``."""

    data: list[JaegerTrace] | None = None


def traces_from_jaeger(payload: Any) -> list[TraceRecord]:
    """Traces as Jaeger's ``GET /api/traces`` (or ``/api/traces/{id}``) returns them."""
    return [trace.to_record() for trace in JaegerTraces.model_validate(payload).data or []]
