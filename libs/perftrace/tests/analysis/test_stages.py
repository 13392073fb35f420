"""Traces are grouped into operations and stages once; the report, the compare and the charts read that grouping."""

from __future__ import annotations

import pytest
from perftrace.analysis.compare import compare
from perftrace.analysis.report import build_report
from perftrace.analysis.stages import find_operation, find_operations, stage_durations_ms
from perftrace.fastapi.charts import chart_data
from perftrace.testing.synthetic import SERVICE, STAGES, synthetic_traces
from perftrace.tracing.records import TraceRecord


def test_an_operation_is_the_services_marked_span_and_its_direct_children() -> None:
    (trace,) = synthetic_traces(1, seed=4)

    operation = find_operation(trace, SERVICE)

    assert operation is not None and operation.name == "chat_request_0"
    assert [s.name for s in operation.stages] == [name for name, _ in STAGES]
    assert find_operation(trace, "another-service") is None


def test_a_child_started_after_the_operation_ended_is_in_the_trace_but_no_stage() -> None:
    (trace,) = synthetic_traces(1, seed=4)
    operation = find_operation(trace, SERVICE)
    assert operation is not None
    root = operation.span
    late = root._replace(
        span_id=999,
        parent_span_id=root.span_id,
        name="chat_feedback",
        attributes={},
        start_time_unix_nano=root.end_time_unix_nano + 1,
        end_time_unix_nano=root.end_time_unix_nano + 2_000_000,
    )
    at_the_end = late._replace(span_id=998, name="last_words", start_time_unix_nano=root.end_time_unix_nano)

    found = find_operation(TraceRecord(trace.trace_id, (*trace.spans, late, at_the_end)), SERVICE)

    assert found is not None
    assert [s.name for s in found.stages] == [*(name for name, _ in STAGES), "last_words"]
    assert any(s.name == "chat_feedback" for s in found.trace.spans)


def test_a_stage_whose_span_failed_counts_as_an_error_from_its_status_alone() -> None:
    traces = synthetic_traces(3, seed=5)
    failed = [s._replace(status="ERROR") if s.name == "save_response" else s for s in traces[0].spans]
    traces[0] = TraceRecord(traces[0].trace_id, tuple(failed))

    stats = {s.name: s for s in build_report(find_operations(traces, SERVICE)).stages}

    assert stats["save_response"].errors == 1 and stats["message_assembly"].errors == 0


def test_report_compare_and_charts_see_the_same_stage_durations() -> None:
    traces = synthetic_traces(20, seed=6)
    durations = stage_durations_ms(find_operations(traces, SERVICE))

    report = {s.name: s.count for s in build_report(find_operations(traces, SERVICE)).stages}
    compared = {s.name: s.calls_before for s in compare(traces, traces, SERVICE, resamples=10).stages}
    charted = {s["name"]: s["values"] for s in chart_data(find_operations(traces, SERVICE))["stages"]}

    assert report == {name: len(values) for name, values in durations.items()}
    assert compared == {"request": 20, **report}
    assert charted == {name: [round(v, 3) for v in values] for name, values in durations.items()}


def test_request_figures_read_usage_cost_rounds_first_token_and_the_latest_verdict() -> None:
    from perftrace.analysis.stages import request_figures
    from perftrace.tracing.records import SpanEvent

    (trace,) = synthetic_traces(1, seed=7)
    operation = find_operation(trace, SERVICE)
    assert operation is not None
    root = operation.span
    start = root.start_time_unix_nano
    root = root._replace(
        attributes={
            **root.attributes,
            "gen_ai.usage.input_tokens": 1200,
            "gen_ai.usage.output_tokens": 80,
            "chat.cost_usd": 0.00023,
            "gen_ai.conversation.id": "c1",
        },
        events=(SpanEvent("first_token", start + 250_000_000),),
    )
    llm = [
        s._replace(span_id=900 + i, attributes={"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": tokens})
        for i, (s, tokens) in enumerate(zip(trace.spans[:2], (500, 700), strict=True))
    ]
    tool = trace.spans[0]._replace(span_id=950, attributes={"gen_ai.operation.name": "execute_tool"})
    verdicts = [
        trace.spans[0]._replace(
            span_id=960 + i,
            events=(SpanEvent("gen_ai.evaluation.result", start + t, {"gen_ai.evaluation.score.label": label}),),
        )
        for i, (t, label) in enumerate([(9, "thumbs_up"), (5, "ignored"), (10, "thumbs_down")])
    ]
    spans = tuple(s for s in trace.spans if s.span_id != root.span_id) + (root, *llm, tool, *verdicts)
    found = find_operation(TraceRecord(trace.trace_id, spans), SERVICE)
    assert found is not None

    figures = request_figures(found)

    assert (figures.input_tokens, figures.output_tokens, figures.cached_input_tokens) == (1200, 80, None)
    assert figures.cost_usd == 0.00023 and figures.conversation_id == "c1"
    assert (figures.llm_rounds, figures.tool_calls) == (2, 1)
    assert figures.first_token_ms == 250.0 and figures.feedback == "thumbs_down"
    assert figures.largest_call_input_tokens == 700  # the larger of the two rounds' prompts
    bare = request_figures(find_operation(synthetic_traces(1, seed=8)[0], SERVICE))  # type: ignore[arg-type]
    assert (bare.cost_usd, bare.first_token_ms, bare.feedback, bare.llm_rounds) == (None, None, None, 0)
    assert bare.largest_call_input_tokens is None


def test_the_page_finds_the_operations_and_reads_each_ones_figures_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from perftrace.analysis import stages
    from perftrace.fastapi.page import render_performance_page
    from perftrace.paths import page_urls
    from perftrace.testing.conversations import conversation_traces

    traces = conversation_traces("kitchen", 5, seed=3, feedback={2: "thumbs_down"})
    read: list[str] = []
    real = stages.request_figures

    def counted(operation: stages.Operation) -> stages.RequestFigures:
        read.append(operation.trace_id)
        return real(operation)

    monkeypatch.setattr(stages, "request_figures", counted)
    page = render_performance_page(traces, service_name=SERVICE, urls=page_urls(""))

    # The report, the charts, the conversations and the disliked answers all read the same figures.
    assert sorted(read) == sorted(t.trace_id_hex for t in traces)
    assert 'data-conversation-id="kitchen"' in page and "Answers users disliked (1)" in page
