"""A conversation is the operations naming one ``gen_ai.conversation.id``, added up from request_figures."""

from __future__ import annotations

import pytest
from perftrace.analysis.conversations import (
    disliked_answers,
    find_conversation,
    format_conversation,
    recent_conversations,
)
from perftrace.analysis.stages import find_operations
from perftrace.testing.conversations import (
    TURN_INPUT_GROWTH,
    TURN_INPUT_TOKENS,
    TURN_OUTPUT_TOKENS,
    conversation_traces,
)
from perftrace.testing.synthetic import SERVICE, STAGES, synthetic_traces
from perftrace.tracing.records import TraceRecord


def later(trace: TraceRecord, seconds: int) -> TraceRecord:
    shift = seconds * 10**9
    moved = (s._replace(start_time_unix_nano=s.start_time_unix_nano + shift) for s in trace.spans)
    return TraceRecord(
        trace.trace_id, tuple(m._replace(end_time_unix_nano=m.end_time_unix_nano + shift) for m in moved)
    )


def test_turns_come_in_order_with_their_usage_cost_rounds_and_stage_shares() -> None:
    traces = conversation_traces("kitchen", 4, seed=1)[::-1]  # the buffer's order does not matter

    conversation = find_conversation(find_operations(traces, SERVICE), "kitchen")

    assert conversation is not None
    turns = conversation.turns
    assert [t.input_tokens for t in turns] == [TURN_INPUT_TOKENS + i * TURN_INPUT_GROWTH for i in range(4)]
    assert [t.started for t in turns] == sorted(t.started for t in turns)
    assert all(t.output_tokens == TURN_OUTPUT_TOKENS and t.cost_usd == 0.001 for t in turns)
    assert [t.largest_call_input_tokens for t in turns] == [t.input_tokens for t in turns]  # one call a turn
    assert all(t.llm_rounds == 1 and t.tool_calls == 0 and not t.failed for t in turns)
    first = turns[0]
    assert [s.name for s in first.stages] == [name for name, _ in STAGES]
    assert sum(s.duration_ms for s in first.stages) <= first.duration_ms
    staged_ms = sum(s.duration_ms for s in first.stages)
    assert sum(s.share for s in first.stages) == pytest.approx(staged_ms / first.duration_ms)
    assert {t.trace_id for t in turns} == {t.trace_id_hex for t in traces}


def test_totals_are_the_sums_of_the_turns_and_the_last_active_conversation_comes_first() -> None:
    older = conversation_traces("older", 3, seed=2)
    newer = conversation_traces("newer", 5, seed=3)
    shifted = [later(trace, seconds=100) for trace in newer]

    summaries = recent_conversations(find_operations([*shifted, *older, *synthetic_traces(2, seed=4)], SERVICE))

    assert [s.conversation_id for s in summaries] == ["newer", "older"]  # requests without an id are in none
    newest = summaries[0]
    assert newest.turns == 5 and newest.errors == 0 and newest.unpriced_turns == 0
    assert newest.input_tokens == sum(TURN_INPUT_TOKENS + i * TURN_INPUT_GROWTH for i in range(5))
    assert newest.output_tokens == 5 * TURN_OUTPUT_TOKENS
    assert newest.cost_usd == pytest.approx(0.005)
    conversation = find_conversation(find_operations(shifted, SERVICE), "newer")
    assert conversation is not None
    assert newest.total_duration_ms == pytest.approx(sum(t.duration_ms for t in conversation.turns))
    assert newest.first_started == conversation.turns[0].started < newest.last_ended
    assert recent_conversations(find_operations([*shifted, *older], SERVICE), limit=1) == summaries[:1]
    assert recent_conversations(find_operations(older, "another-service")) == []


def test_one_unpriced_turn_makes_the_total_cost_unknown_not_smaller() -> None:
    priced = conversation_traces("mixed", 3, seed=5)
    unpriced = conversation_traces("mixed", 1, seed=6, cost_usd=None)

    (summary,) = recent_conversations(find_operations([*priced, *unpriced], SERVICE))

    assert summary.turns == 4 and summary.cost_usd is None and summary.unpriced_turns == 1
    assert summary.input_tokens is not None and summary.input_tokens > 0
    assert "unknown (1 turns without a price)" in format_conversation(
        find_conversation(find_operations([*priced, *unpriced], SERVICE), "mixed")  # type: ignore[arg-type]
    )


def test_a_failed_stage_counts_as_an_error_of_its_turn_and_conversation() -> None:
    traces = conversation_traces("broken", 2, seed=7)
    failed = tuple(s._replace(status="ERROR") if s.name == "save_response" else s for s in traces[1].spans)
    traces[1] = TraceRecord(traces[1].trace_id, failed)

    conversation = find_conversation(find_operations(traces, SERVICE), "broken")

    assert conversation is not None and [t.failed for t in conversation.turns] == [False, True]
    assert conversation.totals.errors == 1
    assert find_conversation(find_operations(traces, SERVICE), "no-such-conversation") is None


def test_disliked_answers_are_the_turns_whose_latest_verdict_is_thumbs_down() -> None:
    traces = conversation_traces("judged", 4, seed=8, feedback={1: "thumbs_down", 2: "thumbs_up", 3: "thumbs_down"})

    disliked = disliked_answers(find_operations(traces, SERVICE))

    assert [d.turn.trace_id for d in disliked] == [traces[3].trace_id_hex, traces[1].trace_id_hex]
    assert {d.conversation_id for d in disliked} == {"judged"}
    assert [s.name for s in disliked[0].turn.stages] == [name for name, _ in STAGES]
    (summary,) = recent_conversations(find_operations(traces, SERVICE))
    assert summary.disliked == 2
    liked = conversation_traces("liked", 2, seed=9, feedback={0: "thumbs_up"})
    assert disliked_answers(find_operations(liked, SERVICE)) == []


def test_the_text_form_has_the_totals_and_a_line_per_turn() -> None:
    traces = conversation_traces("printed", 3, seed=10, feedback={2: "thumbs_down"})
    conversation = find_conversation(find_operations(traces, SERVICE), "printed")
    assert conversation is not None

    text = format_conversation(conversation)

    assert "conversation printed: 3 turns" in text and "cost $0.003000" in text
    turn_lines = [line for line in text.splitlines() if any(t.trace_id in line for t in conversation.turns)]
    assert len(turn_lines) == 3 and "thumbs_down" in turn_lines[2] and "openai_api_call" in turn_lines[0]
