"""Fault 8: span injection through the browser endpoint (``POST /otlp/v1/traces``).

A payload claiming ``service.name=ha-ai-agent`` is refused and never reaches Jaeger; a browser span with a
foreign trace id (a fresh one, and one of a real chat) reaches Jaeger as a browser span only, and the chat's
own server spans are untouched.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from ha_ai_agent.semconv import BROWSER_SERVICE_NAME, SERVICE_NAME
from testsupport.backend_queries import has_server_span, raw_trace
from testsupport.otlp_payloads import JSON_HEADERS, json_export
from testsupport.processes import poll, running_agent
from testsupport.reliability_results import Outcome, record
from testsupport.stack import Stack

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(300)]

VISIBLE_TIMEOUT_SECONDS = 30.0
REFUSED_WAIT_SECONDS = 5.0
ENV = {"OTEL_SERVICE_NAME": SERVICE_NAME, "OTEL_BSP_SCHEDULE_DELAY": "500", "HA_AGENT_LLM_LATENCY_MS": "0"}


def export_now(service: str, trace_id: str, span_id: str) -> bytes:
    """One span of ``service`` in ``trace_id``, timed now (Jaeger indexes by time)."""
    document = json_export(service=service, trace_id=trace_id, span_id=span_id)
    now = time.time_ns()
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span.update(name="injected_span", startTimeUnixNano=str(now - 5_000_000), endTimeUnixNano=str(now))
    return json.dumps(document).encode()


def services_by_span(jaeger_url: str, trace_id: str) -> dict[str, str]:
    """Span name (with id) -> the service Jaeger attributes it to."""
    data: list[dict[str, Any]] = json.loads(raw_trace(jaeger_url, trace_id) or "{}").get("data") or []
    if not data:
        return {}
    processes = data[0]["processes"]
    return {f"{s['operationName']}#{s['spanID']}": processes[s["processID"]]["serviceName"] for s in data[0]["spans"]}


def test_browser_endpoint_cannot_inject_backend_spans(reliability_stack: Stack, tmp_path: Path) -> None:
    jaeger = reliability_stack.jaeger_query
    ids = random.Random()
    impostor, foreign = f"{ids.getrandbits(128) | 1:032x}", f"{ids.getrandbits(128) | 1:032x}"
    env = {**ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": reliability_stack.collector_otlp_http}
    with running_agent(tmp_path, env, tmp_path / "agent.log") as (url, _managed):
        browser_endpoint = f"{url}/otlp/v1/traces"
        refused = httpx.post(
            browser_endpoint, content=export_now(SERVICE_NAME, impostor, "00000000000000a1"), headers=JSON_HEADERS
        )
        chat = httpx.post(f"{url}/api/v1/chat", json={"message": "What devices are in the kitchen?"}, timeout=30)
        chat_trace = chat.json()["metadata"]["trace_id"]
        poll(lambda: has_server_span(jaeger, chat_trace), VISIBLE_TIMEOUT_SECONDS, what="chat trace in Jaeger")
        backend_before = sorted(services_by_span(jaeger, chat_trace).items())
        accepted = [
            httpx.post(
                browser_endpoint, content=export_now(BROWSER_SERVICE_NAME, trace_id, span_id), headers=JSON_HEADERS
            ).status_code
            for trace_id, span_id in ((foreign, "00000000000000b1"), (chat_trace, "00000000000000c1"))
        ]
        poll(lambda: services_by_span(jaeger, foreign), VISIBLE_TIMEOUT_SECONDS, what="foreign-trace span")
        poll(
            lambda: any(k.startswith("injected_span") for k in services_by_span(jaeger, chat_trace)),
            VISIBLE_TIMEOUT_SECONDS,
            what="injected span in the chat's trace",
        )
        time.sleep(REFUSED_WAIT_SECONDS)  # the refused export had as long as the others to show up
    impostor_spans = services_by_span(jaeger, impostor)
    injected = {
        name: service
        for trace_id in (foreign, chat_trace)
        for name, service in services_by_span(jaeger, trace_id).items()
        if name.startswith("injected_span")
    }
    injected_as_backend = sum(service == SERVICE_NAME for service in injected.values())
    chat_after = sorted(
        (k, v) for k, v in services_by_span(jaeger, chat_trace).items() if k.startswith("injected") is False
    )
    passed = (
        refused.status_code == 403
        and not impostor_spans
        and accepted == [200, 200]
        and len(injected) == 2
        and injected_as_backend == 0
        and chat_after == backend_before
    )
    record(
        Outcome(
            "8 span injection via the browser endpoint",
            "1 export claiming service.name=ha-ai-agent; 2 browser exports with a foreign trace id "
            "(a fresh one, a real chat's)",
            "impostor refused and absent from Jaeger; injected spans stay browser spans; chat spans unchanged",
            f"impostor: HTTP {refused.status_code}, {len(impostor_spans)} spans in Jaeger; browser exports: "
            f"HTTP {accepted}, {len(injected)} in Jaeger, {injected_as_backend} as {SERVICE_NAME}; "
            f"chat trace's backend spans {'unchanged' if chat_after == backend_before else 'CHANGED'}",
            passed,
        )
    )
    assert refused.status_code == 403 and not impostor_spans
    assert accepted == [200, 200] and len(injected) == 2 and injected_as_backend == 0, injected
    assert chat_after == backend_before
