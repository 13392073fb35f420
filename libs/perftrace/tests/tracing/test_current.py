from __future__ import annotations

import re

from opentelemetry import trace
from perftrace import TracingHandle, current_trace_id, install_tracker, mark_operation


def test_a_marked_span_is_a_report_with_its_children_as_stages(tracing: TracingHandle) -> None:
    tracker = install_tracker(tracing.recent)
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("POST /api/v1/orders"):
        operation = mark_operation("order_request")
        trace_id = current_trace_id()
        with tracer.start_as_current_span("validate"):
            pass
        with tracer.start_as_current_span("store"):
            pass
    reports = [r for r in tracker.get_reports() if r.trace_id == trace_id]
    assert re.fullmatch(r"order_request_\d{13}", operation)
    assert trace_id is not None and re.fullmatch(r"[0-9a-f]{32}", trace_id)
    assert [r.operation for r in reports] == [operation]
    assert [m.name for m in reports[0].metrics] == ["validate", "store"]


def test_outside_a_trace_there_is_no_trace_id() -> None:
    assert current_trace_id() is None
