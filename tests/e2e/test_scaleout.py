"""The scale-out layout (docker-compose.scale.yml) on a real Kafka: agent -> Kafka -> 2 gateways -> Jaeger.

The agent partitions spans by trace id and the two gateways share one consumer group, so each trace meets
whole in one gateway: tail sampling keeps the failed, slow and truncated chats whole and drops the normal ones
(the "rest" share is 0 % here), both gateways take part, and span metrics count every chat exactly once.
The long runs (1,000 chats, gateways stopped, killed and joining under load, Kafka down) are `make reliability`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from functools import partial

import httpx
import pytest
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
from testsupport.stack import BackendUnavailable

from tests.helpers import missing_dependency

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

COUNTS = {"normal": 8, "error": 3, "slow": 2, "length": 2, "content_filter": 1}
ACCEPTED = re.compile(r'^otelcol_receiver_accepted_spans(?:_total)?\{[^}]*receiver="kafka"[^}]*\} (\S+)$', re.MULTILINE)


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleOut]:
    """Prometheus, Jaeger, Kafka, two gateways and the agent."""
    try:
        with running_scaleout(tmp_path_factory.mktemp("scaleout"), gateways=2, gateway_env=sampling_env(0)) as started:
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
