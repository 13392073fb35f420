"""The bottleneck report: per-stage percentiles and shares, and the critical path of the slowest traces.

Printed by ``ha-ai-agent report`` and shown on ``/performance``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ha_ai_agent.telemetry.analysis import PathStep, StageStatistics, critical_path, stage_statistics
from ha_ai_agent.telemetry.performance_tracker import PerformanceReport, report_from_trace
from ha_ai_agent.telemetry.records import TraceRecord


@dataclass(frozen=True)
class SlowTrace:
    """One of the slowest requests and its critical path."""

    report: PerformanceReport
    path: list[PathStep]


@dataclass(frozen=True)
class BottleneckReport:
    """What the report shows."""

    requests: int
    stages: list[StageStatistics]
    slowest: list[SlowTrace]


def build_report(traces: Sequence[TraceRecord], service_name: str | None, slowest: int = 3) -> BottleneckReport:
    """Reports of the chat traces among ``traces``, their stage statistics and the slowest ones' paths."""
    pairs = [(r, t) for t in traces if (r := report_from_trace(t, service_name)) is not None]
    pairs.sort(key=lambda pair: pair[0].total_duration, reverse=True)
    return BottleneckReport(
        requests=len(pairs),
        stages=stage_statistics([r for r, _ in pairs]),
        slowest=[SlowTrace(r, critical_path(t)) for r, t in pairs[:slowest]],
    )


def format_report(report: BottleneckReport) -> str:
    """The report as plain text."""
    if not report.requests:
        return "No chat requests found."
    lines = [
        f"{report.requests} chat requests",
        "",
        f"{'stage':<26}{'calls':>7}{'errors':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'share':>8}",
    ]
    for s in report.stages:
        lines.append(
            f"{s.name:<26}{s.count:>7}{s.errors:>8}{s.p50_ms:>10.1f}{s.p95_ms:>10.1f}{s.p99_ms:>10.1f}"
            f"{s.share * 100:>7.0f}%"
        )
    for slow in report.slowest:
        lines += [
            "",
            f"{slow.report.operation} — {slow.report.total_duration * 1000:.1f} ms, trace "
            f"{slow.report.trace_id}; critical path:",
        ]
        lines += [
            f"  {step.self_ms:>9.1f} ms  {step.name}" + (f"  [{step.service_name}]" if step.service_name else "")
            for step in slow.path
            if step.self_ms >= 0.05
        ]
    return "\n".join(lines)
