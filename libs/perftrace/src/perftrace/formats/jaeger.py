"""Traces read back from elsewhere, as ``TraceRecord``s, through typed models.

Sources: a service's own ``GET /api/v1/performance/traces`` (the routes' ``TraceModel``) and Jaeger's HTTP
API (``JaegerTraces`` below). Pure conversions; fetching is the caller's. Needs the ``fastapi`` extra (the
response models are pydantic models); a malformed payload raises ``pydantic.ValidationError``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, TypeAdapter

from perftrace.fastapi.models import TraceModel
from perftrace.tracing.records import SpanRecord, TraceRecord, attribute_map

_VIEWER_TRACES = TypeAdapter(list[TraceModel])


def traces_from_viewer(payload: Any) -> list[TraceRecord]:
    """Traces as ``GET /api/v1/performance/traces`` returns them (its JSON, decoded)."""
    return [trace.to_record() for trace in _VIEWER_TRACES.validate_python(payload)]


class JaegerReference(BaseModel):
    """A span's link to its parent (``CHILD_OF``) or to another span."""

    ref_type: str = Field(alias="refType")
    span_id: str = Field(alias="spanID")


class JaegerTag(BaseModel):
    """One span attribute."""

    key: str
    value: Any = None


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
    process_id: str | None = Field(None, alias="processID")

    def to_record(self, trace_id: int, processes: dict[str, JaegerProcess]) -> SpanRecord:
        """The span as a record; Jaeger's ``otel.status_code``/``error`` tags give the status."""
        tags = {tag.key: tag.value for tag in self.tags or []}
        parent = next((r.span_id for r in self.references or [] if r.ref_type == "CHILD_OF"), None)
        start = self.start_time * 1000
        process = processes.get(self.process_id or "")
        error = tags.get("otel.status_code") == "ERROR" or tags.get("error") is True
        return SpanRecord(
            trace_id=trace_id,
            span_id=int(self.span_id, 16),
            parent_span_id=int(parent, 16) if parent else 0,
            parent_is_remote=False,
            name=self.operation_name,
            kind=str(tags.get("span.kind", "internal")).upper(),
            service_name=process.service_name if process else "",
            start_time_unix_nano=start,
            end_time_unix_nano=start + self.duration * 1000,
            status="ERROR" if error else "UNSET",
            status_message=tags.get("otel.status_description"),
            attributes=attribute_map(tags),
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
