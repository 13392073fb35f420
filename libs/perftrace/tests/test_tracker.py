from __future__ import annotations

import logging
import time
from dataclasses import fields

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from perftrace import TracingHandle
from perftrace.tracing.semconv import OPERATION_ATTRIBUTE
from perftrace.tracker import (
    PerformanceMetric,
    PerformanceReport,
    PerformanceTracker,
    create_report,
    end_tracking,
    format_report_line,
    get_tracker,
    install_tracker,
    report_from_trace,
    start_tracking,
)

STAGES = [
    "rate_limit_check",
    "pending_preview_check",
    "message_assembly",
    "token_count_retrieval",
    "openai_api_call",
]


def test_original_call_pattern_keeps_names_and_types(exported: InMemorySpanExporter) -> None:
    tracker = PerformanceTracker()
    ids = []
    for name in STAGES:
        metric_id = tracker.start(name, {"stage": name})
        time.sleep(0.001)
        ended = tracker.end(metric_id, {"ok": True})
        assert isinstance(ended, PerformanceMetric)
        ids.append(metric_id)
    report = tracker.create_report("chat_request_1765061925771", ids, {"user": "test"})

    assert [f.name for f in fields(PerformanceMetric)] == [
        "name",
        "start_time",
        "end_time",
        "duration",
        "metadata",
    ]
    assert [f.name for f in fields(PerformanceReport)][:4] == [
        "operation",
        "total_duration",
        "metrics",
        "timestamp",
    ]
    assert isinstance(report.total_duration, float) and isinstance(report.timestamp, float)
    assert [m.name for m in report.metrics] == STAGES
    assert all(isinstance(m.duration, float) and m.duration > 0 for m in report.metrics)
    assert report.metrics[0].metadata == {"stage": "rate_limit_check", "ok": True, "user": "test"}
    assert tracker.get_reports() == [report]

    exported_reports = tracker.export_reports()
    assert len(exported_reports) == 1
    assert set(exported_reports[0]) >= {"operation", "total_duration", "timestamp", "metrics"}
    assert set(exported_reports[0]["metrics"][0]) == {"name", "duration", "metadata"}
    # Every metric was a real span.
    assert [s.name for s in exported.get_finished_spans()] == STAGES


def test_total_is_wall_clock_not_a_sum_of_overlapping_metrics(tracing: TracingHandle) -> None:
    tracker = PerformanceTracker()
    a = tracker.start("tool_execution")
    b = tracker.start("tool_execution")  # parallel tool calls
    time.sleep(0.05)
    tracker.end(a)
    tracker.end(b)
    report = tracker.create_report("op", [a, b])
    summed = sum(m.duration or 0 for m in report.metrics)
    assert report.total_duration < summed * 0.75
    assert report.total_duration >= 0.05


def test_same_name_same_millisecond_metrics_both_survive(tracing: TracingHandle) -> None:
    tracker = PerformanceTracker()
    ids = [tracker.start("tool_execution") for _ in range(50)]  # far more than one per millisecond
    assert len(set(ids)) == 50
    assert all(tracker.end(i) is not None for i in ids)
    assert len(tracker.create_report("op", ids).metrics) == 50


def test_end_of_unknown_id_returns_none() -> None:
    assert PerformanceTracker().end("nope_0_0") is None


def test_open_metrics_are_bounded_and_their_spans_ended(exported: InMemorySpanExporter) -> None:
    tracker = PerformanceTracker(max_active_metrics=10)
    for _ in range(25):
        tracker.start("forgotten")
    abandoned = exported.get_finished_spans()
    assert len(abandoned) == 15
    assert all(s.status.status_code is StatusCode.ERROR for s in abandoned)
    tracker.clear()
    assert len(exported.get_finished_spans()) == 25


def test_a_failing_stage_still_ends_its_span(exported: InMemorySpanExporter, tracing: TracingHandle) -> None:
    tracer = trace.get_tracer("t")
    with pytest.raises(RuntimeError):
        with tracer.start_as_current_span("POST /api/v1/chat") as root:
            root.set_attribute(OPERATION_ATTRIBUTE, "chat_request_1")
            with tracer.start_as_current_span("message_assembly"):
                raise RuntimeError("home assistant down")
    spans = {s.name: s for s in exported.get_finished_spans()}
    assert spans["message_assembly"].status.status_code is StatusCode.ERROR
    tracker = install_tracker(tracing.recent, "test-service")
    (report,) = tracker.get_reports()
    assert [m.name for m in report.metrics] == ["message_assembly"]
    assert report.metrics[0].metadata["status"] == "ERROR"


def test_reports_come_from_chat_traces(tracing: TracingHandle, caplog: pytest.LogCaptureFixture) -> None:
    tracker = install_tracker(tracing.recent, "test-service")
    assert get_tracker() is tracker
    tracer = trace.get_tracer("t")
    caplog.set_level(logging.INFO, logger="perftrace.performance")
    for n in range(3):
        with tracer.start_as_current_span("POST /api/v1/chat") as root:
            root.set_attribute(OPERATION_ATTRIBUTE, f"chat_request_{1000 + n}")
            for stage in STAGES:
                with tracer.start_as_current_span(stage):
                    pass
            time.sleep(0.01)  # untracked time still counts in the total
    with tracer.start_as_current_span("unrelated"):
        pass

    reports = tracker.get_reports()
    assert [r.operation for r in reports] == ["chat_request_1000", "chat_request_1001", "chat_request_1002"]
    for report in reports:
        assert [m.name for m in report.metrics] == STAGES
        assert report.total_duration >= 0.01 > sum(m.duration or 0 for m in report.metrics)
        assert report.trace_id is not None and len(report.trace_id) == 32
    assert len(tracker.get_reports_for_operation("chat_request")) == 3
    average = tracker.get_average_duration("chat_request")
    assert average is not None and average >= 0.01
    assert tracker.get_average_duration("nothing") is None

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("[Performance]")]
    assert len(lines) == 3
    assert lines == [format_report_line(report) for report in reports]
    assert lines[0].startswith("[Performance] chat_request_1000: Total: ")
    assert "Metrics: 5, Details: rate_limit_check=" in lines[0]
    assert lines[0].endswith(f"trace_id={reports[0].trace_id}")

    tracker.clear()
    assert tracker.get_reports() == []


def test_module_functions_use_the_process_tracker(tracing: TracingHandle) -> None:
    install_tracker(tracing.recent)
    metric_id = start_tracking("legacy", {"k": "v"})
    metric = end_tracking(metric_id)
    assert metric is not None and metric.name == "legacy"
    report = create_report("legacy_op", [metric_id])
    assert report in get_tracker().get_reports()


def test_report_finds_an_operation_span_that_did_not_end_last(tracing: TracingHandle) -> None:
    tracer = trace.get_tracer("t")
    with tracer.start_as_current_span("browser click"):
        with tracer.start_as_current_span("POST /api/v1/chat") as operation:
            operation.set_attribute(OPERATION_ATTRIBUTE, "chat_request_7")
            for stage in STAGES[:2]:
                with tracer.start_as_current_span(stage):
                    pass
    (recorded,) = tracing.recent.traces()
    assert recorded.spans[-1].name == "browser click"
    report = report_from_trace(recorded)
    assert report is not None and [m.name for m in report.metrics] == STAGES[:2]
    assert report_from_trace(recorded, "another-service") is None
