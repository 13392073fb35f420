"""The example service (examples/automation) asks the agent: one trace across both services in Jaeger."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from functools import partial

import httpx
import pytest
from ai_automation import SERVICE_NAME as EXAMPLE_SERVICE
from ai_automation.app import AGENT_URL_ENV
from ha_ai_agent.semconv import CHAT_SERVER_SPAN, STAGES
from ha_ai_agent.semconv import SERVICE_NAME as AGENT_SERVICE
from perftrace import SpanRecord
from testsupport.backend_queries import assert_chat_tree, jaeger_dependencies, jaeger_trace
from testsupport.processes import poll, running_service
from testsupport.stack import AGENT_ENV, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

EXAMPLE_SERVER_SPAN = "POST /api/v1/suggestions"
VISIBLE_TIMEOUT_S = 30.0
DEPENDENCY_LOOKBACK_MS = 3_600_000


def example_command(port: int) -> list[str]:
    """The example served by uvicorn from the tests' virtualenv, as its Dockerfile serves it."""
    app = "ai_automation.app:create_app"
    return [sys.executable, "-m", "uvicorn", "--factory", app, "--host", "127.0.0.1", "--port", str(port)]


@pytest.fixture(scope="module")
def example_url(stack: Stack, agent_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """ai-automation on a free loopback port, asking the agent and exporting to the test collector."""
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": stack.collector_otlp_http,
        "OTEL_BSP_SCHEDULE_DELAY": AGENT_ENV["OTEL_BSP_SCHEDULE_DELAY"],
        AGENT_URL_ENV: agent_url,
    }
    work_dir = tmp_path_factory.mktemp("example")
    log_path = stack.log_dir / f"{EXAMPLE_SERVICE}.log"
    with running_service(EXAMPLE_SERVICE, example_command, work_dir, env, log_path) as (url, managed):
        stack.processes.append(managed)
        yield url


@pytest.fixture(scope="module")
def trace_id(example_url: str) -> str:
    """The trace of one suggestion, as the example reported it."""
    response = httpx.post(f"{example_url}/api/v1/suggestions", json={"goal": "lights off at midnight"}, timeout=60.0)
    assert response.status_code == 200, response.text
    value: str = response.json()["trace_id"]
    return value


def both_server_spans(jaeger_url: str, trace_id: str) -> list[SpanRecord] | None:
    """The trace once both services' server spans are in (each ends after everything below it)."""
    spans = jaeger_trace(jaeger_url, trace_id) or []
    names = {span.name for span in spans}
    return spans if {EXAMPLE_SERVER_SPAN, CHAT_SERVER_SPAN} <= names else None


def test_one_trace_holds_both_services_the_agent_under_the_examples_call(stack: Stack, trace_id: str) -> None:
    spans = poll(
        partial(both_server_spans, stack.jaeger_query, trace_id), VISIBLE_TIMEOUT_S, what=f"{trace_id} in Jaeger"
    )
    by_id = {span.span_id: span for span in spans}
    assert {span.service_name for span in spans} == {EXAMPLE_SERVICE, AGENT_SERVICE}
    roots = [span for span in spans if span.parent_span_id not in by_id]
    assert [(root.service_name, root.name) for root in roots] == [(EXAMPLE_SERVICE, EXAMPLE_SERVER_SPAN)]
    agent_server = next(span for span in spans if span.name == CHAT_SERVER_SPAN)
    caller = by_id[agent_server.parent_span_id]
    assert (caller.service_name, caller.kind) == (EXAMPLE_SERVICE, "CLIENT")
    assert by_id[caller.parent_span_id].name == "ask_agent"
    # The agent's part is its usual chat tree.
    assert_chat_tree([span for span in spans if span.service_name == AGENT_SERVICE], STAGES, "jaeger")


def test_jaegers_dependency_view_has_the_edge_from_the_example_to_the_agent(stack: Stack, trace_id: str) -> None:
    poll(partial(both_server_spans, stack.jaeger_query, trace_id), VISIBLE_TIMEOUT_S, what=f"{trace_id} in Jaeger")
    edges = jaeger_dependencies(stack.jaeger_query, DEPENDENCY_LOOKBACK_MS)
    assert (EXAMPLE_SERVICE, AGENT_SERVICE) in edges
    assert (AGENT_SERVICE, EXAMPLE_SERVICE) not in edges
