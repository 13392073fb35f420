"""What the traces say: per-stage percentiles and shares, critical paths, and the bottleneck report.

One implementation of each, used by the ``/performance`` page, the report command and the benchmarks. Beside
the stages, the report shows what a request felt and caused (``RequestFigures`` and effect spans): the whole
request and its first token as rows of their own, the requests by LLM rounds, and the time to effect per group.
The first token has no critical-path share: it is a moment, not a span, and the time before it is spent in
stages that have their own.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from perftrace.analysis.stages import Operation, stage_durations_ms
from perftrace.tracing.records import SpanRecord, TraceRecord
from perftrace.tracing.semconv import EFFECT_ATTRIBUTE

#: The rows for the operation as a whole (its span's duration) and for its first words (the ``first_token``
#: event on its span, from the span's start), beside the stage rows of the report and the compare.
REQUEST, FIRST_TOKEN = "request", "first token"


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


def or_dash(value: float | None, spec: str = "") -> str:
    """``value`` in the format ``spec``, or a dash where it is unknown: how the plain-text tables show a None."""
    return "—" if value is None else format(value, spec)


def _statistics(name: str, values: Sequence[float], errors: int, total_ms: float) -> StageStatistics:
    ordered = sorted(values)
    return StageStatistics(
        name=name,
        count=len(ordered),
        errors=errors,
        p50_ms=percentile(ordered, 50),
        p95_ms=percentile(ordered, 95),
        p99_ms=percentile(ordered, 99),
        mean_ms=sum(ordered) / len(ordered),
        share=sum(ordered) / total_ms if total_ms else 0.0,
    )


def stage_statistics(operations: Sequence[Operation]) -> list[StageStatistics]:
    """Statistics per stage name, in the order stages first appear; a stage whose span failed is an error."""
    errors = Counter(stage.name for op in operations for stage in op.stages if stage.status == "ERROR")
    request_time: defaultdict[str, float] = defaultdict(float)
    for operation in operations:
        for name in {stage.name for stage in operation.stages}:
            request_time[name] += operation.duration_ms
    return [
        _statistics(name, values, errors[name], request_time[name])
        for name, values in stage_durations_ms(operations).items()
    ]


def felt_statistics(operations: Sequence[Operation]) -> list[StageStatistics]:
    """The whole request's row, and the first token's (its share: of those requests' time, the part before it)."""
    if not operations:
        return []
    durations = [op.duration_ms for op in operations]
    failed = sum(op.span.status == "ERROR" for op in operations)
    rows = [_statistics(REQUEST, durations, failed, sum(durations))]
    first = [(op.figures.first_token_ms, op.duration_ms) for op in operations if op.figures.first_token_ms is not None]
    if first:
        rows.append(_statistics(FIRST_TOKEN, [ms for ms, _ in first], 0, sum(total for _, total in first)))
    return rows


@dataclass(frozen=True)
class RoundsStatistics:
    """The requests that made ``rounds`` LLM calls: their share and medians, and what the extra round cost.

    ``extra_ms`` and ``extra_tokens`` are this row's median time and tokens (input + output) minus those of the
    requests with one round fewer; None without such requests, or where the spans carry no usage.
    """

    rounds: int
    requests: int
    share: float
    p50_ms: float
    p50_tokens: float | None
    extra_ms: float | None
    extra_tokens: float | None


def rounds_statistics(operations: Sequence[Operation]) -> list[RoundsStatistics]:
    """One row per number of LLM rounds, fewest first; none when no request called a model."""
    if not any(op.figures.llm_rounds for op in operations):
        return []
    by_rounds: dict[int, list[tuple[float, int | None]]] = {}
    for operation in operations:
        f = operation.figures
        tokens = (
            f.input_tokens + f.output_tokens if f.input_tokens is not None and f.output_tokens is not None else None
        )
        by_rounds.setdefault(f.llm_rounds, []).append((operation.duration_ms, tokens))
    rows: dict[int, RoundsStatistics] = {}
    for rounds in sorted(by_rounds):
        requests = by_rounds[rounds]
        known = [t for _, t in requests if t is not None]
        ms, median = percentile([d for d, _ in requests], 50), percentile(known, 50) if known else None
        fewer = rows.get(rounds - 1)
        rows[rounds] = RoundsStatistics(
            rounds=rounds,
            requests=len(requests),
            share=len(requests) / len(operations),
            p50_ms=ms,
            p50_tokens=median,
            extra_ms=ms - fewer.p50_ms if fewer else None,
            extra_tokens=median - fewer.p50_tokens
            if fewer and median is not None and fewer.p50_tokens is not None
            else None,
        )
    return list(rows.values())


@dataclass(frozen=True)
class EffectStatistics:
    """The time to effect of one group (``EFFECT_ATTRIBUTE``'s value, e.g. ``light``), in milliseconds.

    ``timeouts`` are the effects not seen within their bound (status ERROR); the percentiles are of the others
    (None when there are none).
    """

    group: str
    count: int
    timeouts: int
    p50_ms: float | None
    p95_ms: float | None


def effect_statistics(operations: Sequence[Operation]) -> list[EffectStatistics]:
    """Per group, by name: the effect spans the operations' service recorded in their traces."""
    seen: dict[str, list[SpanRecord]] = {}
    for operation in operations:
        for span in operation.trace.spans:
            group = span.attributes.get(EFFECT_ATTRIBUTE)
            if group is not None and span.service_name == operation.span.service_name:
                seen.setdefault(str(group), []).append(span)
    rows = []
    for group, spans in sorted(seen.items()):
        reached = sorted(s.duration_seconds * 1000 for s in spans if s.status != "ERROR")
        rows.append(
            EffectStatistics(
                group=group,
                count=len(spans),
                timeouts=len(spans) - len(reached),
                p50_ms=percentile(reached, 50) if reached else None,
                p95_ms=percentile(reached, 95) if reached else None,
            )
        )
    return rows


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
    """What the report shows: the requests' stages, the slowest paths, and what the requests felt and caused."""

    requests: int
    stages: list[StageStatistics]
    slowest: list[SlowTrace]
    felt: list[StageStatistics] = field(default_factory=list)
    rounds: list[RoundsStatistics] = field(default_factory=list)
    effects: list[EffectStatistics] = field(default_factory=list)


def build_report(operations: Sequence[Operation], slowest: int = 3) -> BottleneckReport:
    """The report of ``operations`` (``find_operations``'): stage statistics and the slowest ones' paths."""
    operations = sorted(operations, key=lambda op: op.duration_ms, reverse=True)
    return BottleneckReport(
        requests=len(operations),
        stages=stage_statistics(operations),
        slowest=[SlowTrace(op, critical_path(op.trace)) for op in operations[:slowest]],
        felt=felt_statistics(operations),
        rounds=rounds_statistics(operations),
        effects=effect_statistics(operations),
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
    for s in [*report.felt, *report.stages]:
        lines.append(
            f"{s.name:<26}{s.count:>7}{s.errors:>8}{s.p50_ms:>10.1f}{s.p95_ms:>10.1f}{s.p99_ms:>10.1f}"
            f"{s.share * 100:>7.0f}%"
        )
    if report.rounds:
        lines += ["", f"{'LLM rounds':<12}{'requests':>9}{'share':>7}{'p50 ms':>10}{'p50 tokens':>11}  extra round"]
        lines += [
            f"{r.rounds:<12}{r.requests:>9}{r.share * 100:>6.0f}%{r.p50_ms:>10.1f}{or_dash(r.p50_tokens, '.0f'):>11}  "
            + (f"{r.extra_ms:+.1f} ms, {or_dash(r.extra_tokens, '+.0f')} tokens" if r.extra_ms is not None else "")
            for r in report.rounds
        ]
    if report.effects:
        lines += ["", f"{'effect':<26}{'count':>7}{'timeouts':>10}{'p50 ms':>10}{'p95 ms':>10}"]
        lines += [
            f"{e.group:<26}{e.count:>7}{e.timeouts:>10}{or_dash(e.p50_ms, '.1f'):>10}{or_dash(e.p95_ms, '.1f'):>10}"
            for e in report.effects
        ]
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
