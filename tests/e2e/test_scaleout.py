"""The scale-out layout (docker-compose.scale.yml) on real programs: agent -> Kafka -> 2 gateways -> 2 Jaegers ->
a three-node Cassandra cluster (replication 2).

The agent partitions spans by trace id and the two gateways share one consumer group, so each trace meets
whole in one gateway: tail sampling keeps the failed, slow and truncated chats whole and drops the normal ones
(the "rest" share is 0 % here), both gateways take part, and span metrics count every chat exactly once.
Gateway n sends to Jaeger n; both Jaegers write, and every kept trace reads the same and whole through either
(Jaeger holds nothing: the traces are in Cassandra). Prometheus scrapes the gateways' own metrics, their Kafka
consumer lag among them, and loads the layer's alert rule on it.
The long runs (1,000 chats, gateways stopped, killed and joining under load, Kafka down, Cassandra nodes and a
Jaeger killed) are `make reliability`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from functools import partial

import httpx
import pytest
from testsupport.backend_queries import jaeger_trace, prometheus_query
from testsupport.cassandra import running_cassandra
from testsupport.processes import poll
from testsupport.sampled_chats import (
    DECISION_WAIT_S,
    KEPT_KINDS,
    SLOW_MS,
    SentChat,
    agent_with_test_model,
    chat_calls_counted,
    complete_trace,
    mixed_kinds,
    sampling_env,
    send_all,
)
from testsupport.scaleout import ScaleOut, running_scaleout
from testsupport.stack import BackendUnavailable, built_backends

from tests.helpers import missing_dependency

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

#: 15 kept traces over 12 partitions shared by two gateways: that every kept trace lands on one gateway, leaving the
#: other Jaeger nothing to write, has a chance of 2**-14 (with 8 kept it was 1 in 128, and it happened).
COUNTS = {"normal": 8, "error": 10, "slow": 2, "length": 2, "content_filter": 1}
ACCEPTED = re.compile(r'^otelcol_receiver_accepted_spans(?:_total)?\{[^}]*receiver="kafka"[^}]*\} (\S+)$', re.MULTILINE)
#: Spans Jaeger's storage exporter wrote (Jaeger v2 is a collector: its own metrics have the collector's names).
WRITTEN = re.compile(
    r'^otelcol_exporter_sent_spans(?:_total)?\{[^}]*exporter="jaeger_storage_exporter"[^}]*\} (\S+)$', re.MULTILINE
)
LAG_ALERT = "GatewayKafkaLagGrowing"


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleOut]:
    """Three Cassandra nodes, Prometheus, two Jaegers over them, Kafka, two gateways and the agent."""
    try:
        jars = built_backends()["cassandra"]
        with (
            running_cassandra(jars, tmp_path_factory.mktemp("cassandra")) as cluster,
            running_scaleout(
                tmp_path_factory.mktemp("scaleout"), 2, sampling_env(0), cassandra=cluster, jaegers=2
            ) as started,
        ):
            yield started
    except BackendUnavailable as error:
        missing_dependency(f"scale-out backends unavailable: {error}")


@pytest.fixture(scope="module")
def sent(layout: ScaleOut, tmp_path_factory: pytest.TempPathFactory) -> list[SentChat]:
    """Every kind of chat, shuffled, through the real service sending to the agent."""
    with agent_with_test_model(tmp_path_factory.mktemp("agent"), layout.stack.collector_otlp_http) as url:
        return send_all(url, mixed_kinds(COUNTS), SLOW_MS, workers=1)


def test_kept_traces_are_whole_and_normal_ones_dropped(layout: ScaleOut, sent: list[SentChat]) -> None:
    jaeger = layout.stack.jaeger_query
    for chat in sent:
        if chat.kind in KEPT_KINDS:
            poll(partial(complete_trace, jaeger, chat.trace_id), 60, what=f"{chat.kind} trace {chat.trace_id} whole")
    time.sleep(DECISION_WAIT_S + 3)  # past every decision: a normal chat about to be kept would be in by now
    kept_normal = [chat.trace_id for chat in sent if chat.kind == "normal" and complete_trace(jaeger, chat.trace_id)]
    assert not kept_normal


def test_both_gateways_consume_from_kafka(layout: ScaleOut, sent: list[SentChat]) -> None:
    assert sent
    for metrics_url in layout.gateway_metrics:
        accepted = sum(float(value) for value in ACCEPTED.findall(httpx.get(metrics_url, timeout=5).text))
        assert accepted > 0, f"{metrics_url}: this gateway took no spans from Kafka"


def test_span_metrics_count_every_chat_once(layout: ScaleOut, sent: list[SentChat]) -> None:
    counted = poll(
        lambda: (calls := chat_calls_counted(layout.stack.prometheus)) >= len(sent) and calls,
        60,
        interval_s=1.0,
        what="span metrics of every chat",
    )
    assert counted == len(sent)


def same_spans(first: str, second: str, trace_id: str) -> bool:
    """Whether two Jaegers return the same spans (ids) of the trace, and some."""
    spans = [{span.span_id for span in jaeger_trace(url, trace_id) or []} for url in (first, second)]
    return bool(spans[0]) and spans[0] == spans[1]


def test_every_trace_reads_whole_and_the_same_through_either_jaeger(layout: ScaleOut, sent: list[SentChat]) -> None:
    first, second = layout.jaeger_queries
    kept = [chat for chat in sent if chat.kind in KEPT_KINDS]
    for chat in kept:
        poll(partial(complete_trace, first, chat.trace_id), 60, what=f"{chat.kind} trace {chat.trace_id} whole")
    for chat in kept:
        # LOCAL_ONE reads may lag a write for a moment; the second Jaeger must converge on the very same spans.
        poll(partial(same_spans, first, second, chat.trace_id), 30, what=f"trace {chat.trace_id} via the second")
        assert complete_trace(second, chat.trace_id)
    written = [
        sum(float(v) for v in WRITTEN.findall(httpx.get(f"http://127.0.0.1:{ports['jaeger_metrics']}/metrics").text))
        for ports in layout.jaegers
    ]
    assert all(count > 0 for count in written), f"spans written per Jaeger: {written}: one of them wrote nothing"


def test_gateways_are_scraped_with_their_kafka_lag_and_the_lag_alert_is_loaded(
    layout: ScaleOut, sent: list[SentChat]
) -> None:
    assert sent
    query = 'count by (instance) (otelcol_kafka_receiver_offset_lag{job="otel-gateway"})'
    instances = poll(
        lambda: len(prometheus_query(layout.stack.prometheus, query)) == len(layout.gateways) and query,
        60,
        interval_s=1.0,
        what="the lag of every gateway in Prometheus",
    )
    assert instances
    rules = httpx.get(f"{layout.stack.prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    alert = next(rule for group in rules for rule in group["rules"] if rule["name"] == LAG_ALERT)
    assert alert["health"] in ("ok", "unknown"), alert
    assert alert["state"] == "inactive", alert
