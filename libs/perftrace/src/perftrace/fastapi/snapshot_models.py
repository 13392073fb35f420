"""Models of the snapshot and compare routes.

The compare route answers with ``perftrace.analysis.compare.Comparison``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from perftrace.fastapi.contract import JSON_INTEGRAL, MAX_UINT64
from perftrace.fastapi.models import SpanModel
from perftrace.formats.snapshot import SNAPSHOT_FORMAT, SNAPSHOT_VERSION, snapshot_to_json
from perftrace.tracing.records import TraceRecord


class SnapshotTraceModel(BaseModel):
    """One trace of a snapshot, its spans in start order."""

    trace_id: str = Field(description="32 hex digits")
    dropped_spans: int = 0
    spans: list[SpanModel]


class SnapshotModel(BaseModel):
    """A ``perftrace.snapshot`` document (``perftrace.formats.snapshot.read_snapshot`` reads it back)."""

    format: Literal["perftrace.snapshot"] = SNAPSHOT_FORMAT
    version: Literal[1] = SNAPSHOT_VERSION
    created_unix_nano: int
    source: str = ""
    service_name: str | None = None
    traces: list[SnapshotTraceModel]

    @classmethod
    def from_records(cls, traces: list[TraceRecord], source: str, service_name: str | None) -> SnapshotModel:
        """The snapshot of kept traces, as ``snapshot_to_json`` writes it (durations added for readers)."""
        document = snapshot_to_json(traces, source=source, service_name=service_name)
        for trace, record in zip(document["traces"], traces, strict=True):
            by_id = {s.span_id_hex: s for s in record.spans}
            trace["spans"] = [SpanModel.from_record(by_id[s["span_id"]]) for s in trace["spans"]]
        return cls.model_validate(document)


_UINT64 = Annotated[int, Field(ge=0, le=MAX_UINT64), JSON_INTEGRAL]
_SPAN_ID = Annotated[str, Field(pattern="^[0-9a-fA-F]{16}$")]


class _Strict(BaseModel):
    # The schema's types are the accepted types; unknown fields are ignored, as ``snapshot_from_json`` does.
    model_config = ConfigDict(strict=True)


class SnapshotSpanInput(_Strict):
    """A span of a snapshot sent for comparison; one that ends before it starts is read as zero-length."""

    span_id: _SPAN_ID
    parent_span_id: _SPAN_ID | None = None
    name: str
    kind: str = "INTERNAL"
    service_name: str = ""
    start_time_unix_nano: _UINT64
    end_time_unix_nano: _UINT64
    status: Literal["UNSET", "OK", "ERROR"] = "UNSET"
    status_message: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _not_before_its_start(self) -> SnapshotSpanInput:
        # JSON Schema cannot compare two fields; reading the span as zero-length keeps the two in agreement.
        self.end_time_unix_nano = max(self.end_time_unix_nano, self.start_time_unix_nano)
        return self


class SnapshotTraceInput(_Strict):
    """A trace of a snapshot sent for comparison."""

    trace_id: Annotated[str, Field(pattern="^[0-9a-fA-F]{32}$")]
    dropped_spans: _UINT64 = 0
    spans: list[SnapshotSpanInput]


class SnapshotInput(_Strict):
    """A ``perftrace.snapshot`` document as the compare route reads it (what ``GET .../snapshot`` answers)."""

    format: Literal["perftrace.snapshot"]
    version: Annotated[Literal[1], JSON_INTEGRAL]
    created_unix_nano: _UINT64 = 0
    source: str = ""
    service_name: str | None = None
    traces: list[SnapshotTraceInput]


class CompareRequest(_Strict):
    """Two snapshot documents, before and after a change."""

    before: SnapshotInput
    after: SnapshotInput
