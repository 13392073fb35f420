"""Fault 9: 100,000 distinct span names from the browser do not blow up the span-metrics series.

The browser endpoint forwards them to the collector, whose span_metrics connector has
``aggregation_cardinality_limit: 2000``: past it, new combinations go to one overflow series. The number of
``traces_span_metrics_calls_total`` series of the browser's service in Prometheus must stay at that bound
(plus the overflow series).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
import yaml
from ha_ai_agent.semconv import SERVICE_NAME
from testsupport.backend_queries import prometheus_query
from testsupport.otlp_payloads import JSON_HEADERS, json_export
from testsupport.processes import poll, running_agent
from testsupport.reliability_results import Outcome, record
from testsupport.stack import COLLECTOR_CONFIGS, Stack

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(600)]

DISTINCT_NAMES = 100_000
SPANS_PER_EXPORT = 500  # under the browser endpoint's 512-span cap
SETTLE_SECONDS = 20.0  # two span-metrics flushes (5 s) plus Prometheus ingestion, with room
SERIES_QUERY = 'count(traces_span_metrics_calls_total{service_name="ai-automation-ui"})'
ENV = {
    "OTEL_SERVICE_NAME": SERVICE_NAME,
    "HA_AGENT_LLM_LATENCY_MS": "0",
    "HA_AGENT_BROWSER_ENDPOINT__RATE_LIMIT_PER_MINUTE": "100000",
}


def configured_limit() -> int:
    config = yaml.safe_load(COLLECTOR_CONFIGS["one-box"][0].read_text(encoding="utf-8"))
    return int(config["connectors"]["span_metrics"]["aggregation_cardinality_limit"])


def export_with_names(first: int) -> bytes:
    """SPANS_PER_EXPORT browser spans, each with its own name and trace, timed now."""
    document = json_export(spans=SPANS_PER_EXPORT)
    now = time.time_ns()
    for offset, span in enumerate(document["resourceSpans"][0]["scopeSpans"][0]["spans"]):
        span.update(
            name=f"click-{first + offset}",
            traceId=f"{first + offset + 1:032x}",
            startTimeUnixNano=str(now - 1_000_000),
            endTimeUnixNano=str(now),
        )
    return json.dumps(document).encode()


def series_count(prometheus_url: str) -> int:
    result = prometheus_query(prometheus_url, SERIES_QUERY)
    return int(float(result[0]["value"][1])) if result else 0


def test_distinct_span_names_stay_at_the_cardinality_limit(reliability_stack: Stack, tmp_path: Path) -> None:
    limit = configured_limit()
    env = {**ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": reliability_stack.collector_otlp_http}
    statuses: dict[int, int] = {}
    started = time.monotonic()
    with running_agent(tmp_path, env, tmp_path / "agent.log") as (url, _managed), httpx.Client() as client:
        for first in range(0, DISTINCT_NAMES, SPANS_PER_EXPORT):
            response = client.post(f"{url}/otlp/v1/traces", content=export_with_names(first), headers=JSON_HEADERS)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        sending_seconds = time.monotonic() - started
        chat = client.post(f"{url}/api/v1/chat", json={"message": "What devices are in the kitchen?"}, timeout=30)
    poll(lambda: series_count(reliability_stack.prometheus) > 0, 60, what="browser span metrics in Prometheus")
    time.sleep(SETTLE_SECONDS)
    series = series_count(reliability_stack.prometheus)
    bound = limit + 1  # the overflow series
    passed = series <= bound and chat.status_code == 200
    record(
        Outcome(
            "9 span-name cardinality",
            f"{DISTINCT_NAMES:,} distinct browser span names through the browser endpoint, "
            f"{SPANS_PER_EXPORT} per export "
            f"({sending_seconds:.0f} s; HTTP {statuses})",
            f"traces_span_metrics_calls_total series of the browser service (≤ {limit} + 1 overflow)",
            f"{series:,} series; a chat afterwards: HTTP {chat.status_code}",
            passed,
        )
    )
    assert statuses == {200: DISTINCT_NAMES // SPANS_PER_EXPORT}, statuses
    assert series <= bound, series
    assert chat.status_code == 200
