from __future__ import annotations

import json
import logging
import re

import pytest
from fastapi.testclient import TestClient
from ha_ai_agent.runtime import Runtime
from ha_ai_agent.semconv import (
    CHAT_PATH,
    CHAT_STREAM_PATH,
    FEEDBACK_PATH,
    MESSAGE_ASSEMBLY,
    OPENAI_API_CALL,
    SESSION_PATH,
    TOOL_EXECUTION,
)
from ha_ai_agent.store.conversations import MAX_FEEDBACK_COMMENT_CHARS
from opentelemetry import trace
from perftrace.fastapi import BROWSER_TRACES_PATH, PAGE_PATH
from perftrace.tracker import create_report, end_tracking, start_tracking
from testsupport.processes import poll

from tests.helpers import STAGES_IN_ORDER, wait_for_trace


def test_health_reports_each_check(client: TestClient, runtime: Runtime) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["checks"] == {
        "database": "ok",
        "home_assistant": "ok",
        "llm": "embedded",
        "tracing": "embedded",
    }
    # Probes leave no traces behind to crowd the buffer.
    assert runtime.tracing.recent.traces() == []


def test_health_is_503_when_the_database_is_gone(client: TestClient, runtime: Runtime) -> None:
    runtime.store.close()
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "down"
    runtime.store.open()


def test_reports_endpoint_is_export_reports(client: TestClient, runtime: Runtime) -> None:
    ids = [
        client.post("/api/v1/chat", json={"message": "What devices are in the office?"}).json()["metadata"]["trace_id"]
        for _ in range(3)
    ]
    for trace_id in ids:
        wait_for_trace(runtime.tracing.recent, trace_id)
    reports = client.get("/api/v1/performance/reports").json()
    assert [r["trace_id"] for r in reports] == ids
    assert all(re.fullmatch(r"chat_request_\d{13}", r["operation"]) for r in reports)
    assert [m["name"] for m in reports[0]["metrics"]] == STAGES_IN_ORDER
    assert reports[0]["total_duration"] >= sum(
        m["duration"] for m in reports[0]["metrics"] if m["name"] != TOOL_EXECUTION
    )
    # A report made by hand with the old API is exported, but the stage table covers chat requests only,
    # as the table on /performance does.
    metric_id = start_tracking("legacy_stage")
    end_tracking(metric_id)
    create_report("legacy_operation", [metric_id])
    assert "legacy_operation" in [r["operation"] for r in client.get("/api/v1/performance/reports").json()]
    stages = {s["name"]: s for s in client.get("/api/v1/performance/stages").json()}
    assert "legacy_stage" not in stages
    assert stages[OPENAI_API_CALL]["count"] == 6
    assert stages[OPENAI_API_CALL]["p50_ms"] <= stages[OPENAI_API_CALL]["p99_ms"]


def test_performance_page_lists_traces_with_waterfall(client: TestClient, runtime: Runtime) -> None:
    trace_id = client.post("/api/v1/chat", json={"message": "What devices are in the kitchen?"}).json()["metadata"][
        "trace_id"
    ]
    wait_for_trace(runtime.tracing.recent, trace_id)
    page = client.get("/performance")
    assert page.status_code == 200
    html = page.text
    assert f'id="{trace_id}"' in html
    assert "slowest stage" in html
    for stage in (MESSAGE_ASSEMBLY, OPENAI_API_CALL, TOOL_EXECUTION):
        assert stage in html
    assert "p95 ms" in html
    assert "http://" not in html.split("<body>")[0]  # nothing loaded from elsewhere


def test_trace_endpoint_errors(client: TestClient) -> None:
    assert client.get("/api/v1/performance/traces/nothex").status_code == 422
    assert client.get(f"/api/v1/performance/traces/{'a' * 32}").status_code == 404


def test_chat_page_has_its_config_inlined(client: TestClient) -> None:
    response = client.get("/")
    if response.status_code == 503:
        assert "make web" in response.text
        return
    found = re.search(r'<script id="ha-agent-config" type="application/json">(.*?)</script>', response.text)
    assert found is not None
    config = json.loads(found[1])
    # Every path the page's scripts call or link to comes from its one constant on the server.
    assert config == {
        "jaegerUrl": None,
        "otlpPath": BROWSER_TRACES_PATH,
        "chatPath": CHAT_PATH,
        "chatStreamPath": CHAT_STREAM_PATH,
        "feedbackPath": FEEDBACK_PATH,
        "sessionPath": SESSION_PATH,
        "performancePath": PAGE_PATH,
        "feedbackCommentChars": MAX_FEEDBACK_COMMENT_CHARS,
    }
    assert client.get(config["performancePath"]).status_code == 200
    assert client.get("/static/app.js").status_code == 200


def test_log_records_carry_trace_and_span_ids(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with trace.get_tracer("test").start_as_current_span("logged") as span:
        logging.getLogger("ha_ai_agent.test").warning("inside a span")
    record = next(r for r in caplog.records if r.getMessage() == "inside a span")
    assert record.otelTraceID == format(span.get_span_context().trace_id, "032x")  # type: ignore[attr-defined]
    assert record.otelSpanID == format(span.get_span_context().span_id, "016x")  # type: ignore[attr-defined]

    body = client.post("/api/v1/chat", json={"message": "What devices are in the garage?"}).json()
    trace_id = body["metadata"]["trace_id"]

    def performance_line() -> str | None:
        lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("[Performance] chat_request_")]
        return lines[-1] if lines else None

    line = poll(performance_line, 5, interval_s=0.02, what="[Performance] line")
    assert line.endswith(f"trace_id={trace_id}")
    assert "Metrics: 9, Details: rate_limit_check=" in line
