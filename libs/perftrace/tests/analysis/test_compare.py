from __future__ import annotations

from perftrace.analysis.compare import (
    FASTER,
    FIRST_TOKEN,
    LESS,
    MORE,
    NO_CLEAR_CHANGE,
    REQUEST,
    SLOWER,
    TOO_FEW,
    compare,
)
from perftrace.testing.synthetic import SERVICE, STAGES, synthetic_traces


def test_a_30_percent_slower_stage_is_slower_and_every_other_stage_is_not() -> None:
    before = synthetic_traces(100, seed=1)
    after = synthetic_traces(100, seed=2, slower={"message_assembly": 1.3})

    verdicts = {s.name: s.verdict for s in compare(before, after, SERVICE).stages}

    assert verdicts.pop("message_assembly") == SLOWER
    assert set(verdicts) == {REQUEST} | {name for name, _ in STAGES if name != "message_assembly"}
    assert set(verdicts.values()) == {NO_CLEAR_CHANGE}


def test_the_interval_covers_the_true_slowdown_and_the_gate_uses_its_lower_end() -> None:
    result = compare(synthetic_traces(100, seed=3), synthetic_traces(100, seed=4, slower={"openai_api_call": 1.3}))

    llm = next(s for s in result.stages if s.name == "openai_api_call")
    p50 = llm.changes["p50"]
    assert p50.low is not None and p50.high is not None and p50.low < 0.3 < p50.high
    assert set(result.slower_than(0.05)) == {"openai_api_call", REQUEST}
    assert result.slower_than(0.9) == []


def test_identical_distributions_flag_no_stage_in_at_least_95_percent_of_200_seeds() -> None:
    stages = STAGES[:3]
    flagged = 0
    for seed in range(200):
        before = synthetic_traces(60, seed=2 * seed, stages=stages)
        after = synthetic_traces(60, seed=2 * seed + 1, stages=stages)
        result = compare(before, after, resamples=400, seed=seed)
        flagged += any(s.verdict != NO_CLEAR_CHANGE for s in result.stages)
    assert flagged <= 10


def test_the_same_inputs_and_seed_give_the_same_intervals() -> None:
    before, after = synthetic_traces(40, seed=5), synthetic_traces(40, seed=6)

    assert compare(before, after, seed=7) == compare(before, after, seed=7)


def test_a_stage_with_too_few_calls_gets_no_interval_and_no_verdict() -> None:
    result = compare(synthetic_traces(3, seed=8), synthetic_traces(3, seed=9))

    assert {s.verdict for s in result.stages} == {TOO_FEW}
    assert result.slower_than(0.0) == []


def test_a_sure_change_of_a_few_microseconds_gets_no_verdict_unless_the_floor_is_lowered() -> None:
    tiny = (("tiny", 0.01), ("model_call", 50.0))
    before, after = synthetic_traces(100, seed=10, stages=tiny), synthetic_traces(100, 11, {"tiny": 0.7}, tiny)

    def verdict(min_effect_ms: float) -> str:
        return next(s.verdict for s in compare(before, after, min_effect_ms=min_effect_ms).stages if s.name == "tiny")

    assert verdict(0.1) == NO_CLEAR_CHANGE  # the default floor
    assert verdict(0.0) == FASTER


def test_tokens_and_cost_per_request_get_the_same_intervals_and_say_more_or_less() -> None:
    usage = {"input tokens": 2000, "output tokens": 80, "cost USD": 0.0004}
    before = synthetic_traces(100, seed=12, figures=usage)
    after = synthetic_traces(
        100, seed=13, slower={"input tokens": 1.4, "cost USD": 1.3, "output tokens": 0.7}, figures=usage
    )

    result = compare(before, after, SERVICE)

    rows = {u.name: u for u in result.usage}
    assert {name: u.verdict for name, u in rows.items()} == {
        "input tokens": MORE,
        "cost USD": MORE,
        "output tokens": LESS,
    }
    assert (rows["input tokens"].unit, rows["cost USD"].unit, rows["input tokens"].calls_after) == (
        "tokens",
        "USD",
        100,
    )
    p50 = rows["input tokens"].changes["p50"]
    assert p50.low is not None and p50.high is not None and p50.low < 0.4 < p50.high
    assert {s.verdict for s in result.stages} == {NO_CLEAR_CHANGE}  # usage rows are not stages: the gate ignores them
    assert result.slower_than(0.0) == []


def test_requests_without_usage_or_first_token_get_no_such_rows() -> None:
    result = compare(synthetic_traces(20, seed=14), synthetic_traces(20, seed=15))

    assert result.usage == [] and FIRST_TOKEN not in {s.name for s in result.stages}
