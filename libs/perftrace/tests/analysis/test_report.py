from __future__ import annotations

from perftrace import EFFECT_ATTRIBUTE
from perftrace.analysis.report import FIRST_TOKEN, REQUEST, build_report, critical_path, format_report, percentile
from perftrace.analysis.stages import find_operations
from perftrace.testing.synthetic import SERVICE, synthetic_traces
from perftrace.tracing.records import SpanRecord, TraceRecord

MS = 1_000_000


def span(span_id: int, parent: int, name: str, start_ms: float, end_ms: float) -> SpanRecord:
    return SpanRecord(
        1, span_id, parent, False, name, "INTERNAL", "svc", int(start_ms * MS), int(end_ms * MS), "UNSET", None, {}
    )


def test_critical_path_skips_the_shorter_parallel_sibling_and_keeps_gaps_on_the_parent() -> None:
    trace = TraceRecord(
        1,
        (
            span(1, 0, "request", 0, 100),
            span(2, 1, "message_assembly", 5, 20),
            span(3, 1, "tool_execution fast", 30, 40),
            span(4, 1, "tool_execution slow", 30, 70),
            span(5, 1, "openai_api_call", 72, 95),
        ),
    )
    path = {step.name: step.self_ms for step in critical_path(trace)}
    assert "tool_execution fast" not in path
    assert path["tool_execution slow"] == 40
    assert path["openai_api_call"] == 23
    assert path["message_assembly"] == 15
    assert path["request"] == 100 - 15 - 40 - 23  # the gaps nobody else covers
    assert sum(path.values()) == 100


def test_critical_path_leaves_out_a_child_that_outlived_its_parent() -> None:
    trace = TraceRecord(
        1,
        (
            span(1, 0, "request", 0, 100),
            span(2, 1, "tool_execution", 10, 60),
            span(3, 2, "POST /api/services", 12, 58),
            span(4, 2, "home_effect", 11, 3000),  # started by the tool, ended long after the answer
        ),
    )
    path = {step.name: step.self_ms for step in critical_path(trace)}
    assert "home_effect" not in path
    assert path["POST /api/services"] == 46
    assert sum(path.values()) == 100


def test_percentile_interpolates() -> None:
    assert percentile([], 50) == 0.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5  # any order


def operation_trace(trace_id: int, duration_ms: float, rounds: int, tokens: int | None, **extra: object) -> TraceRecord:
    """A server span with ``rounds`` LLM call spans under it; ``tokens`` split 9:1 into input and output."""
    usage = (
        {}
        if tokens is None
        else {"gen_ai.usage.input_tokens": tokens * 9 // 10, "gen_ai.usage.output_tokens": tokens // 10}
    )
    root = span(1, 0, "POST /chat", 0, duration_ms)._replace(
        trace_id=trace_id, attributes={"performance.operation": f"chat_{trace_id}", **usage, **extra}
    )
    calls = [
        span(10 + i, 1, "chat m", i, i + 1)._replace(trace_id=trace_id, attributes={"gen_ai.operation.name": "chat"})
        for i in range(rounds)
    ]
    return TraceRecord(trace_id, (root, *calls))


def test_the_report_lists_the_requests_by_llm_rounds_and_what_the_extra_round_cost() -> None:
    traces = [operation_trace(i, 1000 + i, 1, 1000) for i in range(1, 7)]
    traces += [operation_trace(i, 3000 + i, 2, 2500) for i in range(7, 10)]
    traces.append(operation_trace(10, 5, 0, None))  # refused before the model: no round, no usage

    report = build_report(find_operations(traces, "svc"))

    rows = [(r.rounds, r.requests, r.share, r.p50_tokens, r.extra_tokens) for r in report.rounds]
    assert rows == [(0, 1, 0.1, None, None), (1, 6, 0.6, 1000, None), (2, 3, 0.3, 2500, 1500)]
    assert report.rounds[1].extra_ms is not None and report.rounds[2].extra_ms == 3008 - 1003.5
    text = format_report(report)
    assert "LLM rounds" in text and "+2004.5 ms, +1500 tokens" in text
    no_model = find_operations([operation_trace(1, 10, 0, None)], "svc")
    assert build_report(no_model).rounds == []  # no model call anywhere: no table


def test_the_first_token_is_a_row_of_its_own_beside_the_request_with_its_share_of_the_wait() -> None:
    traces = [synthetic_traces(1, seed=s, figures={"first token": 100.0})[0] for s in range(20)]
    traces += synthetic_traces(5, seed=99)  # requests without the event: in the request row only

    felt = {row.name: row for row in build_report(find_operations(traces, SERVICE)).felt}

    roots = [t.spans[-1] for t in traces[:20]]  # the operation's span: its event is the first token
    firsts = [(root.events[0].time_unix_nano - root.start_time_unix_nano) / 1e6 for root in roots]
    assert (felt[REQUEST].count, felt[FIRST_TOKEN].count) == (25, 20)
    assert felt[FIRST_TOKEN].p50_ms == percentile(firsts, 50)
    assert 0 < felt[FIRST_TOKEN].share < 1 and felt[REQUEST].share == 1
    assert "first token" in format_report(build_report(find_operations(traces, SERVICE)))


def test_effects_are_reported_per_group_with_timeouts_apart_from_the_percentiles() -> None:
    effects = [("light", 300, "OK"), ("light", 500, "OK"), ("cover", 12_000, "OK"), ("cover", 30_000, "ERROR")]
    spans = [span(1, 0, "POST /chat", 0, 900)._replace(attributes={"performance.operation": "chat"})]
    for i, (group, ms, status) in enumerate(effects):
        spans.append(
            span(20 + i, 1, "home_effect", 100, 100 + ms)._replace(status=status, attributes={EFFECT_ATTRIBUTE: group})
        )
    spans.append(span(30, 1, "home_effect", 100, 101))  # no group: an effect that measured nothing

    report = build_report(find_operations([TraceRecord(1, tuple(spans))], "svc"))

    assert [(e.group, e.count, e.timeouts, e.p50_ms, e.p95_ms) for e in report.effects] == [
        ("cover", 2, 1, 12_000, 12_000),
        ("light", 2, 0, 400, 490),
    ]
    assert "cover                           2         1   12000.0   12000.0" in format_report(report)
