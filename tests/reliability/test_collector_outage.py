"""Fault 1: the collector is SIGKILLed in the middle of a steady chat load and restarted 20 s later.

Pass: no chat fails; chat p99 during the outage is at most 1.05x the p99 before it; spans reach Jaeger again within
the SDK exporter's longest backoff + 2 s of the restart (a batch that failed just before the restart waits out that
backoff, which no setting shortens: 16 s, plus up to 20 % jitter, so 21.2 s); no span is lost (issue 12): the
service runs with the SDK queue and export timeout that compose ships (testsupport.stack.AGENT_ENV), which hold an
outage of about 30 s, and the collector keeps what it accepted on disk. The spans lost are counted here by
comparing, trace by trace, the service's own buffer with Jaeger, and by the service itself: the SDK's counters
(``otel.sdk.processor.span.processed`` / ``otel.sdk.exporter.span.exported`` with ``error.type``), read from
Prometheus.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from ha_ai_agent.semconv import CHAT_SERVER_SPAN, SERVICE_NAME
from opentelemetry.exporter.otlp.common.http import _DEFAULT_JITTER, _MAX_RETRIES
from perftrace.analysis.report import percentile
from testsupport.backend_queries import has_server_span, prometheus_query, span_count
from testsupport.chat_load import ChatLoad, ChatResult, between
from testsupport.collector_control import CollectorController
from testsupport.processes import running_agent
from testsupport.reliability_results import Outcome, record
from testsupport.stack import AGENT_ENV, Stack

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(600)]

WORKERS = 4
WARMUP_SECONDS = 3.0
BEFORE_SECONDS = 15.0
OUTAGE_SECONDS = 20.0
AFTER_SECONDS = 15.0
P99_RATIO_LIMIT = 1.05
#: The OTLP/HTTP exporter sleeps 2**retry s (±jitter) between its attempts; the last sleep it takes is retry
#: _MAX_RETRIES - 2 (16 s). Read from the SDK so that a new SDK with other backoffs fails here, not silently.
SDK_LONGEST_BACKOFF_SECONDS = 2 ** (_MAX_RETRIES - 2) * (1 + _DEFAULT_JITTER)
RECOVERY_LIMIT_SECONDS = SDK_LONGEST_BACKOFF_SECONDS + 2.0
FLUSH_WAIT_SECONDS = 10.0
#: What the SDK's batch processor and OTLP exporter log when a batch is dropped or an export fails.
EXPORT_FAILURE_MARKS = ("dropping", "Failed to export", "Transient error")
ENV = {
    "OTEL_SERVICE_NAME": SERVICE_NAME,
    "OTEL_BSP_SCHEDULE_DELAY": "500",
    "OTEL_BSP_MAX_QUEUE_SIZE": AGENT_ENV["OTEL_BSP_MAX_QUEUE_SIZE"],
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": AGENT_ENV["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"],
    # A model call of 200 ms makes a chat ~0.4 s, so the p99 compares the service, not scheduler noise.
    "HA_AGENT_LLM_LATENCY_MS": "200",
    "HA_AGENT_RATE_LIMIT_PER_MINUTE": "100000",
    "HA_AGENT_RECENT_TRACES": "2000",
    # The SDK's own counters of dropped and failed spans, exported every 2 s beside the GenAI metrics.
    "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED": "true",
    "OTEL_METRIC_EXPORT_INTERVAL": "2000",
}
#: Failed or dropped spans as the SDK counts them, once Prometheus has them (label error.type -> error_type).
SDK_LOSS_QUERY = 'sum by (__name__) ({__name__=~"otel_sdk_(processor|exporter)_span_.*", error_type!=""})'


def seconds_until_spans_flow(load: ChatLoad, jaeger_url: str, restarted: float) -> float:
    """From the restart until the trace of a chat started after it is in Jaeger (an upper bound)."""
    deadline = restarted + 3 * RECOVERY_LIMIT_SECONDS
    while time.monotonic() < deadline:
        fresh = [r for r in load.results() if r.started > restarted and r.trace_id]
        if fresh and any(has_server_span(jaeger_url, r.trace_id or "") for r in fresh[-3:]):
            return time.monotonic() - restarted
        time.sleep(0.2)
    return float("inf")


def buffered_span_counts(url: str) -> dict[str, int]:
    """Spans per chat trace in the service's own buffer (every span it recorded, exported or not)."""
    traces: list[dict[str, Any]] = httpx.get(f"{url}/api/v1/performance/traces?limit=1000", timeout=30).json()
    return {t["trace_id"]: int(t["span_count"]) for t in traces if t["root_name"] == CHAT_SERVER_SPAN}


def counted_by_service(prometheus_url: str) -> dict[str, float]:
    """The SDK's counts of lost spans per metric, as Prometheus holds them (empty when it has none)."""
    return {
        str(sample["metric"].get("__name__")): float(sample["value"][1])
        for sample in prometheus_query(prometheus_url, SDK_LOSS_QUERY)
    }


def p99_ms(results: list[ChatResult]) -> float:
    return percentile([r.seconds for r in results], 99) * 1000


def test_collector_killed_and_restarted_under_load(reliability_stack: Stack, tmp_path: Path) -> None:
    controller = CollectorController(reliability_stack)
    env = {**ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": reliability_stack.collector_otlp_http}
    with running_agent(tmp_path, env, tmp_path / "agent.log") as (url, managed):
        load = ChatLoad(url, WORKERS).start()
        started = time.monotonic()
        time.sleep(WARMUP_SECONDS + BEFORE_SECONDS)
        killed = time.monotonic()
        controller.kill()
        time.sleep(OUTAGE_SECONDS)
        restarted = time.monotonic()
        controller.restart()
        recovery = seconds_until_spans_flow(load, reliability_stack.jaeger_query, restarted)
        time.sleep(max(0.0, restarted + AFTER_SECONDS - time.monotonic()))
        results = load.stop()
        time.sleep(FLUSH_WAIT_SECONDS)
        produced = buffered_span_counts(url)
        log_text = managed.log_path.read_text(encoding="utf-8", errors="replace")
        drop_lines = sum(any(mark in line for mark in EXPORT_FAILURE_MARKS) for line in log_text.splitlines())
        # The counters reach Prometheus through the restarted collector: cumulative, so none is lost.
        time.sleep(FLUSH_WAIT_SECONDS)
        service_count = counted_by_service(reliability_stack.prometheus)
    exported = {trace_id: span_count(reliability_stack.jaeger_query, trace_id) for trace_id in produced}
    lost = sum(produced.values()) - sum(min(exported[t], n) for t, n in produced.items())

    failed = sum(r.status != 200 for r in results)
    before = p99_ms(between(results, started + WARMUP_SECONDS, killed))
    during = p99_ms(between(results, killed, restarted))
    ratio = during / before if before else float("inf")
    medians = [
        percentile([r.seconds for r in between(results, a, b)], 50) * 1000
        for a, b in ((started + WARMUP_SECONDS, killed), (killed, restarted))
    ]
    passed = failed == 0 and ratio <= P99_RATIO_LIMIT and recovery <= RECOVERY_LIMIT_SECONDS
    record(
        Outcome(
            "1 collector SIGKILL, restart after 20 s",
            f"{WORKERS} chat workers back to back (~0.4 s a chat), {len(results)} chats in "
            f"{WARMUP_SECONDS + BEFORE_SECONDS:.0f} s before + {OUTAGE_SECONDS:.0f} s outage + "
            f"{AFTER_SECONDS:.0f} s after",
            f"failed chats (0); p99 during/before (≤ {P99_RATIO_LIMIT}); restart → spans in Jaeger "
            f"(≤ the SDK's longest backoff + 2 s = {RECOVERY_LIMIT_SECONDS:.1f} s)",
            f"{failed} failed; p99 {before:.0f} ms before, {during:.0f} ms during = {ratio:.3f}x "
            f"(p50 {medians[0]:.0f} → {medians[1]:.0f} ms); "
            f"spans flow {recovery:.1f} s after the restart",
            passed,
        )
    )
    record(
        Outcome(
            "1 spans lost in the outage",
            "the same outage; SDK queue 20000 spans, traces export timeout 40 s (as compose ships them)",
            "spans missing in Jaeger (0); the service's own count of lost spans (its otel.sdk.* counters) agrees",
            f"this test counts {lost} of {sum(produced.values())} spans of {len(produced)} chat traces missing in "
            f"Jaeger (buffer vs Jaeger); service counts {sum(service_count.values()):.0f} {service_count}; "
            f"{drop_lines} export-failure log lines",
            lost == 0 and sum(service_count.values()) == 0,
        )
    )
    assert failed == 0, managed.log_tail()
    assert ratio <= P99_RATIO_LIMIT, (before, during)
    assert recovery <= RECOVERY_LIMIT_SECONDS, recovery
    assert lost == 0, f"{lost} spans lost"
    assert sum(service_count.values()) == 0, service_count
