"""Each provisioned alert rule fires after a load that should fire it, and not after one that should not.

The rules are evaluated as Grafana would (tests/e2e/grafana_alerts.py) against a Prometheus fed by the real collector's
span metrics. The stack is this module's own, so that no other test's chats move a percentile or a ratio, and its
span metrics are flushed every second. Chats are sent with the Python SDK with explicit start and end times, so a
"12 s" chat costs no waiting. Loads are sized from the thresholds in the rules file, so the test follows a change of
threshold. Grafana's `for: 5m` pending period is Grafana's own timer and is not part of what is checked here.

Prometheus' rate() only sees what a counter gained between two samples, so each load is sent in two waves and the
second one is sent after the first one is counted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from ha_ai_agent.semconv import CHAT_SERVER_SPAN, SERVICE_NAME, STAGES, TOOL_EXECUTION
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from testsupport.backend_queries import finite_values, prometheus_query
from testsupport.processes import poll
from testsupport.stack import BackendUnavailable, Stack, running_stack

from tests.helpers import missing_dependency

from .grafana_alerts import AlertRule, provisioned_rules

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SLOW_STAGE = TOOL_EXECUTION
CHAT_P95_RULE = "ha-ai-agent-chat-p95-slow"
STAGE_P95_RULE = "ha-ai-agent-chat-stage-p95-slow"
ERROR_RULE = "ha-ai-agent-chat-errors"
CHATS_PER_WAVE = 10
CALM_CHAT_MS = 40.0
CALM_STAGE_MS = 2.0
# The slow spans of the bad load are this much over their rule's threshold.
OVER_THRESHOLD = 1.2
# Half the chats of the bad load fail: with the calm load in the same 5-minute window, rate() sees about 20 % errors.
FAILED_SHARE = 0.5
METRICS_TIMEOUT_S = 60.0
FIRING_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Load:
    """How the chats of one load look: durations in milliseconds and the share that fails."""

    chat_ms: float
    slow_stage_ms: float
    failed_share: float


@dataclass(frozen=True)
class Verdicts:
    """What every rule said right after a load: all series with their values, and the firing ones' labels."""

    series: dict[str, list[tuple[dict[str, str], float]]]
    firing: dict[str, list[dict[str, str]]]


@pytest.fixture(scope="module")
def rules() -> dict[str, AlertRule]:
    """The provisioned rules; this test knows a load for each of them, so a new rule needs one here too."""
    found = provisioned_rules()
    assert set(found) == {CHAT_P95_RULE, STAGE_P95_RULE, ERROR_RULE}, "add a firing load for the new rule"
    return found


@pytest.fixture(scope="module")
def alert_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of this module's own: a fresh Prometheus, span metrics flushed every second."""
    log_dir: Path = tmp_path_factory.mktemp("e2e-alert-stack")
    try:
        with running_stack(log_dir, {"OTELCOL_SPANMETRICS_FLUSH_INTERVAL": "1s"}) as started:
            yield started
    except BackendUnavailable as error:
        missing_dependency(f"observability backends unavailable: {error}")


@pytest.fixture(scope="module")
def tracer_provider(alert_stack: Stack) -> Iterator[TracerProvider]:
    """An SDK tracer provider exporting to the module's collector."""
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{alert_stack.collector_otlp_http}/v1/traces"))
    )
    yield provider
    provider.shutdown()


def _send_chat(tracer: Tracer, chat_ms: float, slow_stage_ms: float, failed: bool) -> None:
    """One chat trace that ended now: the server span and its stages, back to back, with the given durations."""
    end_ns = time.time_ns()
    start_ns = end_ns - int(chat_ms * 1e6)
    server = tracer.start_span(CHAT_SERVER_SPAN, kind=SpanKind.SERVER, start_time=start_ns)
    context = trace.set_span_in_context(server)
    cursor_ns = start_ns
    for stage in STAGES:
        stage_ns = int((slow_stage_ms if stage == SLOW_STAGE else CALM_STAGE_MS) * 1e6)
        span = tracer.start_span(stage, context=context, start_time=cursor_ns)
        span.end(end_time=cursor_ns + stage_ns)
        cursor_ns += stage_ns
    if failed:
        server.set_status(Status(StatusCode.ERROR, "model unreachable"))
    server.end(end_time=end_ns)


def _chats_counted(prometheus_url: str) -> int:
    expr = f'sum(traces_span_metrics_calls_total{{service_name="{SERVICE_NAME}", span_name="{CHAT_SERVER_SPAN}"}})'
    values = finite_values(prometheus_query(prometheus_url, expr))
    return int(values[0]) if values else 0


def _counted_at_least(prometheus_url: str, expected: int) -> bool:
    return _chats_counted(prometheus_url) >= expected


def _send_load(stack: Stack, provider: TracerProvider, load: Load) -> None:
    """Two waves of chats; each wave is counted in Prometheus before the next one leaves."""
    tracer = provider.get_tracer("tests.e2e.alerts")
    failed_per_wave = round(CHATS_PER_WAVE * load.failed_share)
    for _ in range(2):
        expected = _chats_counted(stack.prometheus) + CHATS_PER_WAVE
        for index in range(CHATS_PER_WAVE):
            _send_chat(tracer, load.chat_ms, load.slow_stage_ms, failed=index < failed_per_wave)
        assert provider.force_flush(10_000), "span export to the collector failed"
        poll(
            partial(_counted_at_least, stack.prometheus, expected),
            METRICS_TIMEOUT_S,
            interval_s=0.5,
            what=f"{expected} chats counted in Prometheus",
        )


def _verdicts(rules: dict[str, AlertRule], prometheus_url: str) -> Verdicts:
    series = {uid: rule.evaluate(prometheus_url) for uid, rule in rules.items()}
    firing = {uid: [labels for labels, value in series[uid] if rules[uid].fires_at(value)] for uid in rules}
    return Verdicts(series, firing)


def _every_query_has_data(rules: dict[str, AlertRule], prometheus_url: str) -> Verdicts | None:
    """The verdicts once each query gives a number for each series it should have (each stage, the chat)."""
    verdicts = _verdicts(rules, prometheus_url)
    finite = {
        uid: [labels for labels, value in found if math.isfinite(value)] for uid, found in verdicts.series.items()
    }
    stages = {labels.get("span_name") for labels in finite[STAGE_P95_RULE]}
    complete = bool(finite[CHAT_P95_RULE]) and bool(finite[ERROR_RULE]) and stages == set(STAGES)
    return verdicts if complete else None


def _every_rule_fires(rules: dict[str, AlertRule], prometheus_url: str) -> Verdicts | None:
    verdicts = _verdicts(rules, prometheus_url)
    return verdicts if all(verdicts.firing.values()) else None


@pytest.fixture(scope="module")
def after_calm_load(alert_stack: Stack, tracer_provider: TracerProvider, rules: dict[str, AlertRule]) -> Verdicts:
    """Fast chats (well under every threshold) and no errors; the verdicts once every query sees them."""
    _send_load(alert_stack, tracer_provider, Load(CALM_CHAT_MS, CALM_STAGE_MS, failed_share=0.0))
    return poll(
        partial(_every_query_has_data, rules, alert_stack.prometheus),
        METRICS_TIMEOUT_S,
        interval_s=0.5,
        what="every alert query answering with numbers after the calm load",
    )


@pytest.fixture(scope="module")
def after_bad_load(
    alert_stack: Stack, tracer_provider: TracerProvider, rules: dict[str, AlertRule], after_calm_load: Verdicts
) -> Verdicts:
    """After the calm load: chats over the chat threshold, one stage over the stage threshold, half of them failed."""
    load = Load(
        chat_ms=rules[CHAT_P95_RULE].threshold * OVER_THRESHOLD,
        slow_stage_ms=rules[STAGE_P95_RULE].threshold * OVER_THRESHOLD,
        failed_share=FAILED_SHARE,
    )
    assert load.slow_stage_ms < load.chat_ms, "the slow stage must fit in the slow chat"
    assert rules[ERROR_RULE].threshold < 0.15, "the bad load's error ratio (about 20 %) must exceed the threshold"
    _send_load(alert_stack, tracer_provider, load)
    return poll(
        partial(_every_rule_fires, rules, alert_stack.prometheus),
        FIRING_TIMEOUT_S,
        interval_s=0.5,
        what="every alert rule firing after the bad load",
    )


@pytest.mark.parametrize("uid", [CHAT_P95_RULE, STAGE_P95_RULE, ERROR_RULE])
def test_rule_stays_quiet_after_a_calm_load(after_calm_load: Verdicts, uid: str) -> None:
    assert after_calm_load.firing[uid] == [], after_calm_load.series[uid]


def test_chat_p95_rule_fires_when_chats_are_slower_than_its_threshold(after_bad_load: Verdicts) -> None:
    assert len(after_bad_load.firing[CHAT_P95_RULE]) == 1, after_bad_load.series[CHAT_P95_RULE]


def test_stage_p95_rule_fires_for_the_slow_stage_only(after_bad_load: Verdicts) -> None:
    firing = [labels["span_name"] for labels in after_bad_load.firing[STAGE_P95_RULE]]
    assert firing == [SLOW_STAGE], after_bad_load.series[STAGE_P95_RULE]


def test_error_ratio_rule_fires_when_chats_fail(after_bad_load: Verdicts, rules: dict[str, AlertRule]) -> None:
    [(_, ratio)] = after_bad_load.series[ERROR_RULE]
    assert ratio > rules[ERROR_RULE].threshold
