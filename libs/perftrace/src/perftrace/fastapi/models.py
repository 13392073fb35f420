"""Response models of the JSON performance routes, shared by the routes and every reader of them.

The stages route answers with ``perftrace.analysis.report.StageStatistics`` itself (a dataclass FastAPI serializes).

``TraceModel.from_record`` is what the routes send; ``TraceModel.to_record`` is how a reader (the
``perftrace.formats.jaeger`` functions, a report command) turns the JSON back into a ``TraceRecord``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from perftrace.tracing.records import SpanRecord, TraceRecord, attribute_map


def _hex_id(value: str | None) -> int:
    return int(value, 16) if value else 0


class SpanModel(BaseModel):
    """One span: ids in hex, times in epoch nanoseconds, the duration also in milliseconds."""

    model_config = ConfigDict(frozen=True)

    span_id: str = Field(description="16 hex digits")
    parent_span_id: str | None = Field(None, description="16 hex digits; null for a root span")
    name: str
    kind: str = "INTERNAL"
    service_name: str = ""
    start_time_unix_nano: int
    end_time_unix_nano: int
    duration_ms: float = 0.0
    status: str = "UNSET"
    status_message: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_record(cls, span: SpanRecord) -> SpanModel:
        """The JSON form of a kept span."""
        return cls(
            span_id=span.span_id_hex,
            parent_span_id=span.parent_span_id_hex,
            name=span.name,
            kind=span.kind,
            service_name=span.service_name,
            start_time_unix_nano=span.start_time_unix_nano,
            end_time_unix_nano=span.end_time_unix_nano,
            duration_ms=span.duration_seconds * 1000,
            status=span.status,
            status_message=span.status_message,
            attributes=span.attributes_dict(),
        )

    def to_record(self, trace_id: int) -> SpanRecord:
        """The span as a record of the trace ``trace_id``."""
        return SpanRecord(
            trace_id=trace_id,
            span_id=_hex_id(self.span_id),
            parent_span_id=_hex_id(self.parent_span_id),
            parent_is_remote=False,
            name=self.name,
            kind=self.kind,
            service_name=self.service_name,
            start_time_unix_nano=self.start_time_unix_nano,
            end_time_unix_nano=self.end_time_unix_nano,
            status=self.status,
            status_message=self.status_message,
            attributes=attribute_map(self.attributes),
        )


class TraceModel(BaseModel):
    """One kept trace and its spans in start order."""

    model_config = ConfigDict(frozen=True)

    trace_id: str = Field(description="32 hex digits")
    root_name: str | None = None
    duration_ms: float = 0.0
    start_time_unix_nano: int = 0
    span_count: int = 0
    dropped_spans: int = 0
    status: str = "OK"
    services: list[str] = Field(default_factory=list)
    spans: list[SpanModel]

    @classmethod
    def from_record(cls, trace: TraceRecord) -> TraceModel:
        """The JSON form of a kept trace."""
        root = trace.root
        return cls(
            trace_id=trace.trace_id_hex,
            root_name=root.name if root else None,
            duration_ms=trace.duration_seconds * 1000,
            start_time_unix_nano=trace.start_time_unix_nano,
            span_count=len(trace.spans),
            dropped_spans=trace.dropped_spans,
            status="ERROR" if any(s.status == "ERROR" for s in trace.spans) else "OK",
            services=sorted({s.service_name for s in trace.spans}),
            spans=[SpanModel.from_record(s) for s in sorted(trace.spans, key=lambda s: s.start_time_unix_nano)],
        )

    def to_record(self) -> TraceRecord:
        """The trace as a record, for the analysis functions."""
        trace_id = _hex_id(self.trace_id)
        return TraceRecord(trace_id, tuple(s.to_record(trace_id) for s in self.spans), self.dropped_spans)


class MetricModel(BaseModel):
    """One stage of a report (the original tracker's shape); ``duration`` in seconds."""

    name: str
    duration: float | None
    metadata: dict[str, Any] = Field(default_factory=dict)


class ReportModel(BaseModel):
    """One report of ``get_tracker().export_reports()``; times in seconds."""

    operation: str
    total_duration: float
    timestamp: float
    trace_id: str | None = None
    metrics: list[MetricModel]
