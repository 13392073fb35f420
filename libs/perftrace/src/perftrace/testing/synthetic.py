"""Synthetic operation traces with known stage latencies (and conversations): for tests of the analysis and the page."""

from __future__ import annotations

import random

from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_CONVERSATION_ID,
    GEN_AI_EVALUATION_SCORE_LABEL,
    GEN_AI_OPERATION_NAME,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
)

from perftrace.tracing.records import SpanEvent, SpanRecord, TraceRecord
from perftrace.tracing.semconv import COST_USD_ATTRIBUTE, EVALUATION_RESULT_EVENT, OPERATION_ATTRIBUTE

#: Stage name and median latency in ms, run one after another under the operation span.
STAGES = (("rate_limit_check", 0.2), ("message_assembly", 4.0), ("openai_api_call", 400.0), ("save_response", 3.0))
SERVICE = "svc"


def synthetic_traces(
    count: int, seed: int, slower: dict[str, float] | None = None, stages: tuple[tuple[str, float], ...] = STAGES
) -> list[TraceRecord]:
    """``count`` traces whose stage latencies are log-normal around their medians (times ``slower[name]``)."""
    rng = random.Random(seed)
    traces = []
    for i in range(count):
        trace_id, start = i + 1 + seed * 10_000, 1_700_000_000_000_000_000 + i * 10**9
        cursor, spans = start, []
        for j, (name, median_ms) in enumerate(stages):
            ms = median_ms * (slower or {}).get(name, 1.0) * rng.lognormvariate(0, 0.25)
            end = cursor + int(ms * 1e6)
            spans.append(_span(trace_id, j + 2, 1, name, cursor, end))
            cursor = end
        root = _span(trace_id, 1, 0, "POST /chat", start, cursor + 100_000)
        spans.append(root._replace(attributes={OPERATION_ATTRIBUTE: f"chat_request_{i}"}))
        traces.append(TraceRecord(trace_id, tuple(spans)))
    return traces


def _span(trace_id: int, span_id: int, parent: int, name: str, start: int, end: int) -> SpanRecord:
    return SpanRecord(trace_id, span_id, parent, False, name, "INTERNAL", SERVICE, start, end, "OK", None, {})


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
                usage = {
                    GEN_AI_CONVERSATION_ID: conversation_id,
                    GEN_AI_USAGE_INPUT_TOKENS: TURN_INPUT_TOKENS + i * TURN_INPUT_GROWTH,
                    GEN_AI_USAGE_OUTPUT_TOKENS: TURN_OUTPUT_TOKENS,
                }
                span = span._replace(attributes={**span.attributes, **usage})
                if cost_usd is not None:
                    span = span._replace(attributes={**span.attributes, COST_USD_ATTRIBUTE: cost_usd})
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
            spans.append(_span(trace.trace_id, 99, 0, "feedback", end + 10**9, end + 10**9 + 10**6))
            spans[-1] = spans[-1]._replace(events=(verdict,))
        traces.append(TraceRecord(trace.trace_id, tuple(spans)))
    return traces
