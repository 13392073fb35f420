"""Per-stage latency statistics over performance reports."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ha_ai_agent.telemetry.performance_tracker import PerformanceReport
from ha_ai_agent.telemetry.records import SpanRecord, TraceRecord


@dataclass(frozen=True)
class StageStatistics:
    """Latency of one stage over many requests, in milliseconds.

    ``share`` is the stage's summed time over the summed wall-clock time of the requests it appears
    in (parallel stages can add up to more than 1).
    """

    name: str
    count: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    share: float


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation; 0.0 for no values."""
    if not sorted_values:
        return 0.0
    rank = (len(sorted_values) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def stage_statistics(reports: Sequence[PerformanceReport]) -> list[StageStatistics]:
    """Statistics per stage name, in the order stages first appear."""
    durations: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    request_time: dict[str, float] = {}
    for report in reports:
        seen: set[str] = set()
        for metric in report.metrics:
            durations.setdefault(metric.name, []).append((metric.duration or 0.0) * 1000)
            errors[metric.name] = errors.get(metric.name, 0) + (metric.metadata.get("status") == "ERROR")
            seen.add(metric.name)
        for name in seen:
            request_time[name] = request_time.get(name, 0.0) + report.total_duration * 1000
    stats = []
    for name, values in durations.items():
        ordered = sorted(values)
        total = request_time.get(name, 0.0)
        stats.append(
            StageStatistics(
                name=name,
                count=len(ordered),
                errors=errors.get(name, 0),
                p50_ms=percentile(ordered, 50),
                p95_ms=percentile(ordered, 95),
                p99_ms=percentile(ordered, 99),
                mean_ms=sum(ordered) / len(ordered),
                share=sum(ordered) / total if total else 0.0,
            )
        )
    return stats


@dataclass(frozen=True)
class PathStep:
    """One span on a trace's critical path and the time it alone accounts for on that path."""

    name: str
    service_name: str
    self_ms: float


def critical_path(trace: TraceRecord) -> list[PathStep]:
    """The chain of spans that decided the trace's end, in start order.

    Walking back from the root's end, the child that ended last is on the path, then (from that child's
    start) the child before it, and so on; time no child covers belongs to the parent. Spans running in
    parallel with a longer one are not on the path: making them faster would not make the request faster.
    """
    root = trace.root
    if root is None:
        return []
    children: dict[int, list[SpanRecord]] = {}
    for span in trace.spans:
        children.setdefault(span.parent_span_id, []).append(span)
    own: dict[int, float] = {}
    order: list[SpanRecord] = []

    def walk(span: SpanRecord, end: int) -> None:
        order.append(span)
        cursor = min(span.end_time_unix_nano, end)
        for child in sorted(children.get(span.span_id, []), key=lambda c: c.end_time_unix_nano, reverse=True):
            child_end = min(child.end_time_unix_nano, cursor)
            if child_end <= max(child.start_time_unix_nano, span.start_time_unix_nano):
                continue  # entirely after the cursor: ran beside a span already on the path
            own[span.span_id] = own.get(span.span_id, 0.0) + (cursor - child_end)
            walk(child, child_end)
            cursor = max(child.start_time_unix_nano, span.start_time_unix_nano)
        own[span.span_id] = own.get(span.span_id, 0.0) + max(0, cursor - span.start_time_unix_nano)

    walk(root, root.end_time_unix_nano)
    return [
        PathStep(s.name, s.service_name, own.get(s.span_id, 0.0) / 1e6)
        for s in sorted(order, key=lambda s: s.start_time_unix_nano)
    ]
