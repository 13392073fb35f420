"""Response models of the reports route (the original tracker's shape).

The traces routes answer with ``perftrace.formats.spans.TraceJson`` (the snapshot file's traces too), the
stages route with ``perftrace.analysis.report.StageStatistics`` itself (a dataclass FastAPI serializes).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


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
