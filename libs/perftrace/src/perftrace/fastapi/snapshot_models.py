"""Models of the snapshot and compare routes (the compare route answers with ``perftrace.compare.Comparison``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

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
