"""Per-stage latency statistics over performance reports."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ha_ai_agent.telemetry.performance_tracker import PerformanceReport


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
