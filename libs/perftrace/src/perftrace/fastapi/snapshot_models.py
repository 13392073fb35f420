"""Models of the snapshot and compare routes: the ``perftrace.snapshot`` document and a comparison, typed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from perftrace.fastapi.models import SpanModel
from perftrace.records import TraceRecord
from perftrace.snapshot import SNAPSHOT_FORMAT, SNAPSHOT_VERSION, snapshot_to_json


class SnapshotTraceModel(BaseModel):
    """One trace of a snapshot, its spans in start order."""

    trace_id: str = Field(description="32 hex digits")
    dropped_spans: int = 0
    spans: list[SpanModel]


class SnapshotModel(BaseModel):
    """A ``perftrace.snapshot`` document (``perftrace.snapshot.read_snapshot`` reads it back)."""

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


class CompareRequest(BaseModel):
    """Two snapshot documents; each is validated as ``perftrace.snapshot`` reads files (400 names the bad field)."""

    before: dict[str, object]
    after: dict[str, object]


class ChangeModel(BaseModel):
    """One statistic before and after; ``change``, ``low``, ``high`` as fractions (0.3 = 30 % slower)."""

    model_config = ConfigDict(from_attributes=True)

    before_ms: float
    after_ms: float
    change: float | None
    low: float | None
    high: float | None


class StageComparisonModel(BaseModel):
    """One stage (or ``request``) compared."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    calls_before: int
    calls_after: int
    changes: dict[str, ChangeModel]
    verdict: str
    path_share_before: float
    path_share_after: float


class ComparisonModel(BaseModel):
    """``perftrace.compare.compare``'s result."""

    model_config = ConfigDict(from_attributes=True)

    requests_before: int
    requests_after: int
    confidence: float
    resamples: int
    seed: int
    min_effect_ms: float
    stages: list[StageComparisonModel]
