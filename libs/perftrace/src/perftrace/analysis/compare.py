"""Did a change make it faster? Two sets of traces compared stage by stage, with confidence intervals.

For each stage (the operation span's direct children, as in the report), for the whole request and for
its first token (``first_token`` events, when either side has them): the calls, p50 and p95 before and
after, and the relative change of each with a bootstrap confidence interval. The tokens and the cost per
request (``RequestFigures``) get the same rows in ``usage``, with *more* / *less* for verdicts and no floor.
The intervals are simultaneous: with ``confidence=0.95`` all of a comparison's intervals
cover their true changes together 95 % of the time (Bonferroni over every row and statistic), so
comparing two runs of the same code flags no stage in at least 95 % of comparisons, however many
stages there are. A stage is *slower* when an interval lies wholly above zero by at least
``min_effect_ms`` (default 0.1 ms), *faster* when one lies wholly below by as much, and otherwise shows
*no clear change*. The floor is there because two processes of the same code differ by microseconds
(memory layout, caches): a 10 µs stage that is surely 8 % faster is real and of no use to anyone.

The bootstrap is exact and cheap: the k-th smallest of n values drawn with replacement is the value at
index ``floor(n * U)`` where ``U`` is the k-th smallest of n uniforms, which is Beta(k, n - k + 1)
distributed; the next one up is the smallest of the n - k uniforms above ``U``. So one resample of a
percentile costs two random numbers instead of n draws and a sort, and pure Python does a few
thousand resamples per stage in milliseconds. Seeded per stage and statistic: the same inputs give
the same intervals.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from perftrace.analysis.report import FIRST_TOKEN as FIRST_TOKEN
from perftrace.analysis.report import REQUEST as REQUEST
from perftrace.analysis.report import critical_path, percentile
from perftrace.analysis.stages import RequestFigures, find_operation, stage_durations_ms
from perftrace.tracing.records import TraceRecord

FASTER, SLOWER, NO_CLEAR_CHANGE, TOO_FEW = "faster", "slower", "no clear change", "too few calls"
MORE, LESS = "more", "less"
#: The usage rows: name, unit and how a request's figures give it (None: the request does not say).
USAGE: tuple[tuple[str, str, Callable[[RequestFigures], float | None]], ...] = (
    ("input tokens", "tokens", lambda f: f.input_tokens),
    ("output tokens", "tokens", lambda f: f.output_tokens),
    ("cost USD", "USD", lambda f: f.cost_usd),
)
STATISTICS = (("p50", 50.0), ("p95", 95.0))


@dataclass(frozen=True)
class Change:
    """One statistic before and after, in its row's unit, and its relative change (0.3 is +30 %) with an interval."""

    before: float
    after: float
    change: float | None
    low: float | None
    high: float | None

    def surely_slower(self, fraction: float, min_effect_ms: float) -> bool:
        """Whether the whole interval is above ``fraction`` and its low end at least ``min_effect_ms`` slower."""
        return self.low is not None and self.low > fraction and self.low * self.before >= min_effect_ms

    def surely_faster(self, min_effect_ms: float) -> bool:
        """Whether the whole interval is below zero by at least ``min_effect_ms``."""
        return self.high is not None and self.high < 0 and -self.high * self.before >= min_effect_ms


@dataclass(frozen=True)
class StageComparison:
    """One stage (or the whole request, its first token, a usage figure) before and after."""

    name: str
    calls_before: int
    calls_after: int
    changes: dict[str, Change]
    verdict: str
    path_share_before: float = 0.0
    path_share_after: float = 0.0
    unit: str = "ms"


@dataclass(frozen=True)
class Comparison:
    """Every stage compared, the request first."""

    requests_before: int
    requests_after: int
    confidence: float
    resamples: int
    seed: int
    min_effect_ms: float
    stages: list[StageComparison] = field(default_factory=list)
    usage: list[StageComparison] = field(default_factory=list)

    def slower_than(self, fraction: float) -> list[str]:
        """Stages whose p50 or p95 got slower by more than ``fraction`` with the whole interval above it."""
        return [
            s.name
            for s in self.stages
            if any(c.surely_slower(fraction, self.min_effect_ms) for c in s.changes.values())
        ]


@dataclass
class _Side:
    """Durations (ms) and usage per row, and critical-path time (ms) per stage over one set of traces."""

    requests: int = 0
    durations: dict[str, list[float]] = field(default_factory=dict)
    usage: dict[str, list[float]] = field(default_factory=dict)
    path_ms: dict[str, float] = field(default_factory=dict)
    path_total_ms: float = 0.0


def _collect(traces: Sequence[TraceRecord], service_name: str | None) -> _Side:
    operations = [op for trace in traces if (op := find_operation(trace, service_name)) is not None]
    side = _Side(requests=len(operations))
    side.durations[REQUEST] = [op.duration_ms for op in operations]
    first_tokens = [ms for op in operations if (ms := op.figures.first_token_ms) is not None]
    if first_tokens:
        side.durations[FIRST_TOKEN] = first_tokens
    side.durations.update(stage_durations_ms(operations))
    for name, _, read in USAGE:
        side.usage[name] = [value for op in operations if (value := read(op.figures)) is not None]
    for operation in operations:
        _add_path_shares(operation.trace, {stage.name for stage in operation.stages}, side)
    return side


def _add_path_shares(trace: TraceRecord, stages: set[str], side: _Side) -> None:
    """Time on the critical path per stage: a span's own time counts for the stage it runs in."""
    by_id = {s.span_id: s for s in trace.spans}
    for step in critical_path(trace):
        span = by_id.get(step.span_id)
        while span is not None and span.name not in stages:
            span = by_id.get(span.parent_span_id)
        name = span.name if span is not None else REQUEST
        side.path_ms[name] = side.path_ms.get(name, 0.0) + step.self_ms
        side.path_total_ms += step.self_ms


def _percentile_resamples(ordered: Sequence[float], q: float, resamples: int, rng: random.Random) -> list[float]:
    """The q-th percentile of ``resamples`` bootstrap resamples of ``ordered`` (see the module's docstring)."""
    n = len(ordered)
    rank = (n - 1) * q / 100
    low = math.floor(rank)
    fraction = rank - low
    out = []
    for _ in range(resamples):
        u = rng.betavariate(low + 1, n - low)
        value = ordered[min(n - 1, int(u * n))]
        if fraction:
            nxt = u + (1 - u) * (1 - rng.random() ** (1 / (n - low - 1)))
            value += (ordered[min(n - 1, int(nxt * n))] - value) * fraction
        out.append(value)
    return out


def _change(
    before: list[float], after: list[float], q: float, alpha: float, resamples: int, seed: str, min_calls: int
) -> Change:
    b, a = sorted(before), sorted(after)
    b_stat, a_stat = percentile(b, q), percentile(a, q)
    if min(len(b), len(a)) < max(1, min_calls) or b_stat <= 0:
        return Change(b_stat, a_stat, None, None, None)
    rng = random.Random(seed)
    pairs = zip(_percentile_resamples(b, q, resamples, rng), _percentile_resamples(a, q, resamples, rng), strict=True)
    ratios = sorted(after_r / before_r - 1 for before_r, after_r in pairs if before_r > 0)
    return Change(
        b_stat,
        a_stat,
        a_stat / b_stat - 1,
        percentile(ratios, 100 * alpha / 2),
        percentile(ratios, 100 * (1 - alpha / 2)),
    )


def _verdict(changes: dict[str, Change], min_effect: float, words: tuple[str, str] = (SLOWER, FASTER)) -> str:
    if any(c.low is None for c in changes.values()):
        return TOO_FEW
    if any(c.surely_slower(0.0, min_effect) for c in changes.values()):
        return words[0]
    if any(c.surely_faster(min_effect) for c in changes.values()):
        return words[1]
    return NO_CLEAR_CHANGE


def compare(
    before: Sequence[TraceRecord],
    after: Sequence[TraceRecord],
    service_name: str | None = None,
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
    min_calls: int = 5,
    min_effect_ms: float = 0.1,
) -> Comparison:
    """Compare the operations among ``before`` and ``after`` stage by stage.

    Args:
        before: traces from before the change (e.g. a snapshot's).
        after: traces from after it.
        service_name: count only operation spans of this service (as in the report).
        confidence: the simultaneous confidence of all the comparison's intervals.
        resamples: bootstrap resamples per stage and statistic.
        seed: seeds the resampling; the same inputs and seed give the same result.
        min_calls: a stage with fewer calls on either side gets no interval ("too few calls").
        min_effect_ms: a change whose interval reaches closer to zero than this many ms gets no verdict.
    """
    b, a = _collect(before, service_name), _collect(after, service_name)
    names = [
        n
        for n in dict.fromkeys([REQUEST, FIRST_TOKEN, *b.durations, *a.durations])
        if n in {*b.durations, *a.durations}
    ]
    used = [(name, unit) for name, unit, _ in USAGE if b.usage[name] or a.usage[name]]
    sizes = [(b.durations.get(n, []), a.durations.get(n, [])) for n in names] + [
        (b.usage[n], a.usage[n]) for n, _ in used
    ]
    alpha = (1 - confidence) / max(1, sum(min(map(len, pair)) >= min_calls for pair in sizes) * len(STATISTICS))

    def row(name: str, before_values: list[float], after_values: list[float], unit: str = "ms") -> StageComparison:
        changes = {
            label: _change(before_values, after_values, q, alpha, resamples, f"{seed}:{name}:{label}", min_calls)
            for label, q in STATISTICS
        }
        verdict = _verdict(changes, min_effect_ms) if unit == "ms" else _verdict(changes, 0.0, (MORE, LESS))
        return StageComparison(name, len(before_values), len(after_values), changes, verdict, unit=unit)

    stages = [
        replace(
            row(name, b.durations.get(name, []), a.durations.get(name, [])),
            path_share_before=b.path_ms.get(name, 0.0) / b.path_total_ms if b.path_total_ms else 0.0,
            path_share_after=a.path_ms.get(name, 0.0) / a.path_total_ms if a.path_total_ms else 0.0,
        )
        for name in names
    ]
    usage = [row(name, b.usage[name], a.usage[name], unit) for name, unit in used]
    return Comparison(b.requests, a.requests, confidence, resamples, seed, min_effect_ms, stages, usage)
