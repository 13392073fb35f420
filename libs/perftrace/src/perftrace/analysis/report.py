"""What the traces say: per-stage percentiles and shares, critical paths, and the bottleneck report.

One implementation of each, used by the ``/performance`` page, the report command and the benchmarks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from perftrace.analysis.stages import Operation, find_operations, stage_durations_ms
from perftrace.tracing.records import SpanRecord, TraceRecord


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


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) of ``values``, in any order, by linear interpolation; 0.0 for no values.

    The one definition used by the reports, the ``/performance`` page, the benchmarks and the tests.
    """
    if not values:
        return 0.0
    ordered = sorted(values)  # linear when already sorted, as stage_statistics passes them
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def stage_statistics(operations: Sequence[Operation]) -> list[StageStatistics]:
    """Statistics per stage name, in the order stages first appear; a stage whose span failed is an error."""
    errors: dict[str, int] = {}
    request_time: dict[str, float] = {}
    for operation in operations:
        for stage in operation.stages:
            errors[stage.name] = errors.get(stage.name, 0) + (stage.status == "ERROR")
        for name in {stage.name for stage in operation.stages}:
            request_time[name] = request_time.get(name, 0.0) + operation.duration_ms
    stats = []
    for name, values in stage_durations_ms(operations).items():
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
    span_id: int = 0


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
            if child.end_time_unix_nano > span.end_time_unix_nano and child.service_name == span.service_name:
                continue  # outlived its parent on the same clock: work left running, it did not hold the parent up
            child_end = min(child.end_time_unix_nano, cursor)
            if child_end <= max(child.start_time_unix_nano, span.start_time_unix_nano):
                continue  # entirely after the cursor: ran beside a span already on the path
            own[span.span_id] = own.get(span.span_id, 0.0) + (cursor - child_end)
            walk(child, child_end)
            cursor = max(child.start_time_unix_nano, span.start_time_unix_nano)
        own[span.span_id] = own.get(span.span_id, 0.0) + max(0, cursor - span.start_time_unix_nano)

    walk(root, root.end_time_unix_nano)
    return [
        PathStep(s.name, s.service_name, own.get(s.span_id, 0.0) / 1e6, s.span_id)
        for s in sorted(order, key=lambda s: s.start_time_unix_nano)
    ]


@dataclass(frozen=True)
class SlowTrace:
    """One of the slowest requests and its critical path."""

    operation: Operation
    path: list[PathStep]


@dataclass(frozen=True)
class BottleneckReport:
    """What the report shows."""

    requests: int
    stages: list[StageStatistics]
    slowest: list[SlowTrace]


def build_report(traces: Sequence[TraceRecord], service_name: str | None, slowest: int = 3) -> BottleneckReport:
    """Reports of the operations among ``traces``, their stage statistics and the slowest ones' paths."""
    operations = sorted(find_operations(traces, service_name), key=lambda op: op.duration_ms, reverse=True)
    return BottleneckReport(
        requests=len(operations),
        stages=stage_statistics(operations),
        slowest=[SlowTrace(op, critical_path(op.trace)) for op in operations[:slowest]],
    )


def format_report(report: BottleneckReport) -> str:
    """The report as plain text."""
    if not report.requests:
        return "No requests found (no span with performance.operation among the traces read)."
    lines = [
        f"{report.requests} requests",
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
            f"{slow.operation.name} — {slow.operation.duration_ms:.1f} ms, trace "
            f"{slow.operation.trace_id}; critical path:",
        ]
        lines += [
            f"  {step.self_ms:>9.1f} ms  {step.name}" + (f"  [{step.service_name}]" if step.service_name else "")
            for step in slow.path
            if step.self_ms >= 0.05
        ]
    return "\n".join(lines)
