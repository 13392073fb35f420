from __future__ import annotations

from perftrace.analysis.report import critical_path, percentile
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
