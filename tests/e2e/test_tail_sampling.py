"""Tail sampling on the one box (collector/tail-sampling.yaml, as docker-compose.sampling.yml turns it on).

The real service answers chats with the real openai client talking to the OpenAI-compatible test server, which
fails, slows down or truncates the chats that ask for it. With the "rest" share at 0 %, Jaeger must hold exactly
the failed, slow and truncated chats, each whole, and no normal one; span metrics must still count every chat.
The shares at a configured percentage over 1,000 chats are a row of `make reliability`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

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
from testsupport.stack import BackendUnavailable, Stack, running_stack

from tests.helpers import missing_dependency

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

COUNTS = {"normal": 6, "error": 2, "slow": 2, "length": 2, "content_filter": 2}


@pytest.fixture(scope="module")
def sampling_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of this module's own with the tail-sampling overlay on."""
    try:
        with running_stack(tmp_path_factory.mktemp("sampling-stack"), sampling_env(0), sampling=True) as stack:
            yield stack
    except BackendUnavailable as error:
        missing_dependency(f"observability backends unavailable: {error}")


@pytest.fixture(scope="module")
def sent(sampling_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> list[SentChat]:
    """Every kind of chat, shuffled, through the real service."""
    work: Path = tmp_path_factory.mktemp("agent")
    with agent_with_test_model(work, sampling_stack.collector_otlp_http) as url:
        return send_all(url, mixed_kinds(COUNTS), SLOW_MS, workers=1)


def test_every_chat_was_answered_or_failed_as_asked(sent: list[SentChat]) -> None:
    for chat in sent:
        assert (chat.status >= 500) == (chat.kind == "error"), chat


def test_failed_slow_and_truncated_chats_are_kept_whole_and_the_rest_dropped(
    sampling_stack: Stack, sent: list[SentChat]
) -> None:
    jaeger = sampling_stack.jaeger_query
    kept = [chat for chat in sent if chat.kind in KEPT_KINDS]
    for chat in kept:
        poll(partial(complete_trace, jaeger, chat.trace_id), 30, what=f"{chat.kind} trace {chat.trace_id} whole")
    # Past the decision wait of the last chat, a normal chat that was going to be kept would be in Jaeger.
    time.sleep(DECISION_WAIT_S + 3)
    for chat in sent:
        if chat.kind not in KEPT_KINDS:
            assert complete_trace(jaeger, chat.trace_id) is None, f"normal chat {chat.trace_id} was kept"


def test_span_metrics_count_every_chat_sampled_or_not(sampling_stack: Stack, sent: list[SentChat]) -> None:
    counted = poll(
        lambda: (calls := chat_calls_counted(sampling_stack.prometheus)) >= len(sent) and calls,
        60,
        interval_s=1.0,
        what="span metrics of every chat",
    )
    assert counted == len(sent)
