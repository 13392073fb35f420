"""Synthetic operation traces with known stage latencies: for tests of comparisons, snapshots and the page."""

from __future__ import annotations

import random

from perftrace.tracing.records import SpanRecord, TraceRecord
from perftrace.tracing.semconv import OPERATION_ATTRIBUTE

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
