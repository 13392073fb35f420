"""How fast and how trustworthy ``perftrace.compare`` is, on synthetic traces with known differences.

Speed: one comparison of 100 requests × 20 stages per side, with a first token, input and output tokens and a
cost per request (2,000 resamples per row and statistic), CPU time, against a plain resample-and-sort
bootstrap of the same size, rounds interleaved. Trust: over many seeds, how often two samples of identical
distributions get any row flagged, stages or tokens and cost (false alarms; the simultaneous 95 % intervals
promise at most 5 %), and how often a 30 % slowdown of one stage is found.
"""

from __future__ import annotations

import datetime as dt
import random
import time

from perftrace.analysis.compare import NO_CLEAR_CHANGE, SLOWER, compare
from perftrace.analysis.report import percentile
from perftrace.testing.synthetic import synthetic_traces
from testsupport.report import Target, figure, median, section_preamble, table, targets_table

REQUESTS = 100
RESAMPLES = 2000
#: Twenty stages from 0.1 ms to 400 ms, like a chat's.
WIDE = tuple((f"stage_{i:02d}", 0.1 * 1.5**i) for i in range(20))
EIGHT = WIDE[::3][:7] + (("model_call", 400.0),)
#: What a chat's operation span carries beside its stages: medians of its first token (ms), tokens and cost.
FIGURES = {"first token": 150.0, "input tokens": 2500, "output tokens": 80, "cost USD": 0.0004}


def _plain_bootstrap(values: list[float], q: float, rng: random.Random) -> float:
    """What a resample-and-sort bootstrap costs per resample (the reference the Beta draw replaces)."""
    return percentile(sorted(rng.choices(values, k=len(values))), q)


def speed(rounds: int) -> tuple[list[float], list[float]]:
    """CPU seconds per comparison: perftrace's, and the plain bootstrap's over the same stage durations."""
    before = synthetic_traces(REQUESTS, 1, stages=WIDE, figures=FIGURES)
    after = synthetic_traces(REQUESTS, 2, stages=WIDE, figures=FIGURES)
    durations = [[(s.duration_seconds * 1000) for t in before for s in t.spans if s.name == n] for n, _ in WIDE]
    ours, plain = [], []
    for _ in range(rounds):
        start = time.process_time()
        compare(before, after, resamples=RESAMPLES)
        ours.append(time.process_time() - start)
        rng = random.Random(0)
        start = time.process_time()
        for values in [*durations, *[[1.0] * REQUESTS] * (1 + len(FIGURES))]:  # the stages, request, figures
            for q in (50, 95):
                for _ in range(2 * RESAMPLES):  # before and after
                    _plain_bootstrap(values, q, rng)
        plain.append(time.process_time() - start)
    return ours, plain


def flag_rates(seeds: int) -> tuple[float, float]:
    """Share of seeds with a false alarm (identical distributions), share finding a 30 % slower stage."""
    false_alarms = found = 0
    for seed in range(seeds):
        before = synthetic_traces(REQUESTS, 2 * seed, stages=EIGHT, figures=FIGURES)
        same = synthetic_traces(REQUESTS, 2 * seed + 1, stages=EIGHT, figures=FIGURES)
        slower = synthetic_traces(REQUESTS, 2 * seed + 1, {"stage_09": 1.3}, EIGHT, FIGURES)
        # No floor: this measures the intervals themselves, not the 0.1 ms floor that hides tiny stages.
        result = compare(before, same, seed=seed, min_effect_ms=0)
        false_alarms += any(s.verdict != NO_CLEAR_CHANGE for s in [*result.stages, *result.usage])
        verdicts = {s.name: s.verdict for s in compare(before, slower, seed=seed).stages}
        found += verdicts["stage_09"] == SLOWER
    return false_alarms / seeds, found / seeds


def run(quick: bool) -> str:
    """The harness's entry point: 3 speed rounds and 40 seeds when quick, else 7 and 200."""
    started = dt.datetime.now(dt.UTC)
    rounds, seeds = (3, 40) if quick else (7, 200)
    ours, plain = speed(rounds)
    false_alarm, power = flag_rates(seeds)
    lines = section_preamble("Compare: speed and calibration (`benchmarks/compare_stats.py`)", started)
    lines += [
        f"One `compare` of {REQUESTS} requests × {len(WIDE)} stages per side, with the request, its first token, "
        f"tokens and cost as rows too, {RESAMPLES:,} resamples per row and statistic, CPU seconds over {rounds} "
        f"interleaved rounds; flag rates over {seeds} seeds of {REQUESTS} requests × {len(EIGHT)} log-normal "
        f"stages and {len(FIGURES)} log-normal figures per request (σ 0.25), a false alarm being any row flagged.",
        "",
    ]
    lines += table(
        ["bootstrap", "CPU s per comparison (median)", "rounds"],
        [
            ["perftrace (Beta-distributed order statistics)", figure(median(ours)), ", ".join(figure(x) for x in ours)],
            ["plain resample and sort, same resamples", figure(median(plain)), ", ".join(figure(x) for x in plain)],
        ],
    )
    lines += [""]
    lines += targets_table(
        [
            Target("one comparison, 100 × 20 stages", median(ours), 2.0, "s"),
            Target("false alarms, identical distributions", false_alarm * 100, 5.0, "%"),
            Target("30 % slower stage found", power * 100, 95.0, "%", at_most=False),
        ]
    )
    return "\n".join(lines)
