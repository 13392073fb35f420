"""Synthetic conversations: turns of one ``gen_ai.conversation.id`` with known usage, cost and verdicts."""

from __future__ import annotations

from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_CONVERSATION_ID,
    GEN_AI_EVALUATION_SCORE_LABEL,
    GEN_AI_OPERATION_NAME,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
)

from perftrace.testing.synthetic import synthetic_traces
from perftrace.tracing.records import SpanEvent, TraceRecord
from perftrace.tracing.semconv import COST_USD_ATTRIBUTE, EVALUATION_RESULT_EVENT, OPERATION_ATTRIBUTE

#: What each synthetic turn's model calls used: input tokens growing with the history, a fixed output.
TURN_INPUT_TOKENS, TURN_INPUT_GROWTH, TURN_OUTPUT_TOKENS = 1000, 300, 50


def conversation_traces(
    conversation_id: str,
    turns: int,
    seed: int,
    *,
    cost_usd: float | None = 0.001,
    feedback: dict[int, str] | None = None,
) -> list[TraceRecord]:
    """``turns`` synthetic requests of one conversation, as a GenAI service's operation spans report them.

    Turn ``i`` (from 0) read ``TURN_INPUT_TOKENS + i * TURN_INPUT_GROWTH`` tokens and wrote
    ``TURN_OUTPUT_TOKENS``, made one LLM call and cost ``cost_usd`` (None: no price, no cost attribute).
    ``feedback`` maps a turn to the ``gen_ai.evaluation.score.label`` of a verdict given after the answer.
    """
    traces = []
    for i, trace in enumerate(synthetic_traces(turns, seed)):
        spans = []
        for span in trace.spans:
            if span.attribute(OPERATION_ATTRIBUTE) is not None:
                usage: dict[str, object] = {
                    GEN_AI_CONVERSATION_ID: conversation_id,
                    GEN_AI_USAGE_INPUT_TOKENS: TURN_INPUT_TOKENS + i * TURN_INPUT_GROWTH,
                    GEN_AI_USAGE_OUTPUT_TOKENS: TURN_OUTPUT_TOKENS,
                }
                if cost_usd is not None:
                    usage[COST_USD_ATTRIBUTE] = cost_usd
                span = span._replace(attributes={**span.attributes, **usage})
            elif span.name == "openai_api_call":
                call = {
                    GEN_AI_OPERATION_NAME: "chat",
                    GEN_AI_USAGE_INPUT_TOKENS: TURN_INPUT_TOKENS + i * TURN_INPUT_GROWTH,
                }
                span = span._replace(attributes=call)
            spans.append(span)
        label = (feedback or {}).get(i)
        if label is not None:
            end = trace.end_time_unix_nano
            verdict = SpanEvent(EVALUATION_RESULT_EVENT, end + 10**9, {GEN_AI_EVALUATION_SCORE_LABEL: label})
            # A span of its own, given after the answer, as a service records a reader's verdict.
            (first, *_) = trace.spans
            spans.append(
                first._replace(
                    span_id=99,
                    parent_span_id=0,
                    name="feedback",
                    start_time_unix_nano=end + 10**9,
                    end_time_unix_nano=end + 10**9 + 10**6,
                    attributes={},
                    events=(verdict,),
                )
            )
        traces.append(TraceRecord(trace.trace_id, tuple(spans)))
    return traces
