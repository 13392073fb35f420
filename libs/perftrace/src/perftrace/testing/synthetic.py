"""Synthetic operation traces with known stage latencies: for tests of comparisons, snapshots and the page."""

from __future__ import annotations

import random

from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
)

from perftrace.tracing.records import SpanEvent, SpanRecord, TraceRecord
from perftrace.tracing.semconv import COST_USD_ATTRIBUTE, FIRST_TOKEN_EVENT, OPERATION_ATTRIBUTE

#: Stage name and median latency in ms, run one after another under the operation span.
STAGES = (("rate_limit_check", 0.2), ("message_assembly", 4.0), ("openai_api_call", 400.0), ("save_response", 3.0))
SERVICE = "svc"
#: What ``figures`` may give a median of (scaled by ``slower`` like a stage): the first token's ms after the
#: operation's start (a ``first_token`` event), its input and output tokens, its cost in USD.
FIGURES = {
    "first token": FIRST_TOKEN_EVENT,
    "input tokens": GEN_AI_USAGE_INPUT_TOKENS,
    "output tokens": GEN_AI_USAGE_OUTPUT_TOKENS,
    "cost USD": COST_USD_ATTRIBUTE,
}


def synthetic_traces(
    count: int,
    seed: int,
    slower: dict[str, float] | None = None,
    stages: tuple[tuple[str, float], ...] = STAGES,
    figures: dict[str, float] | None = None,
) -> list[TraceRecord]:
    """``count`` traces whose stage latencies (and ``figures``) are log-normal around their medians.

    Each median is multiplied by ``slower[name]``; a figure's name is one of ``FIGURES``.
    """
    rng = random.Random(seed)

    def draw(name: str, median: float) -> float:
        return median * (slower or {}).get(name, 1.0) * rng.lognormvariate(0, 0.25)

    traces = []
    for i in range(count):
        trace_id, start = i + 1 + seed * 10_000, 1_700_000_000_000_000_000 + i * 10**9
        cursor, spans = start, []
        for j, (name, median_ms) in enumerate(stages):
            end = cursor + int(draw(name, median_ms) * 1e6)
            spans.append(_span(trace_id, j + 2, 1, name, cursor, end))
            cursor = end
        attributes: dict[str, object] = {OPERATION_ATTRIBUTE: f"chat_request_{i}"}
        events = []
        for name, median in (figures or {}).items():
            value = draw(name, median)
            if FIGURES[name] == FIRST_TOKEN_EVENT:
                events.append(SpanEvent(FIRST_TOKEN_EVENT, start + int(value * 1e6)))
            else:
                attributes[FIGURES[name]] = value if FIGURES[name] == COST_USD_ATTRIBUTE else round(value)
        root = _span(trace_id, 1, 0, "POST /chat", start, cursor + 100_000)
        spans.append(root._replace(attributes=attributes, events=tuple(events)))
        traces.append(TraceRecord(trace_id, tuple(spans)))
    return traces


def _span(trace_id: int, span_id: int, parent: int, name: str, start: int, end: int) -> SpanRecord:
    return SpanRecord(trace_id, span_id, parent, False, name, "INTERNAL", SERVICE, start, end, "OK", None, {})
