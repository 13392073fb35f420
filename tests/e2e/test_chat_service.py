"""Chats through the real service and the real collector: every stage span lands in Jaeger (and Tempo)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import pytest
from ha_ai_agent.semconv import CHAT_SERVER_SPAN, OPENAI_API_CALL, SERVICE_NAME, STAGES, TOOL_EXECUTION
from perftrace import SpanRecord
from testsupport.backend_queries import (
    assert_chat_tree,
    finite_values,
    jaeger_trace,
    prometheus_query,
    tempo_search,
    tempo_trace,
)
from testsupport.processes import poll
from testsupport.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600)]

QUESTION = "What devices are in the kitchen?"
CHATS = 3
VISIBLE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Chat:
    """One answered chat and the trace id the service reported for it."""

    trace_id: str
    body: dict[str, Any]


@pytest.fixture(scope="module")
def chats(agent_url: str) -> list[Chat]:
    """A few answered chats, each in a new conversation."""
    answered = []
    for _ in range(CHATS):
        response = httpx.post(f"{agent_url}/api/v1/chat", json={"message": QUESTION}, timeout=30.0)
        assert response.status_code == 200, response.text
        body = response.json()
        trace_id = body["metadata"]["trace_id"]
        assert isinstance(trace_id, str) and len(trace_id) == 32 and int(trace_id, 16)
        answered.append(Chat(trace_id, body))
    return answered


def complete(lookup: Callable[[str, str], list[SpanRecord] | None], url: str, trace_id: str) -> list[SpanRecord] | None:
    """The trace once its server span is in: that span ends last, so the stages were exported before it."""
    spans = lookup(url, trace_id)
    if spans and any(span.name == CHAT_SERVER_SPAN for span in spans):
        return spans
    return None


def assert_stage_tree(spans: list[SpanRecord], chat: Chat, backend: str) -> None:
    """The chat tree (``assert_chat_tree``) with as many model calls as the answer reported."""
    names = assert_chat_tree(spans, STAGES, backend)
    assert names.count(OPENAI_API_CALL) == chat.body["metadata"]["iterations"], backend
    assert any(name.startswith("chat ") for name in names), f"{backend}: no LLM span"


def test_every_chat_is_one_trace_in_jaeger_with_every_stage(stack: Stack, chats: list[Chat]) -> None:
    for chat in chats:
        spans = poll(
            partial(complete, jaeger_trace, stack.jaeger_query, chat.trace_id),
            VISIBLE_TIMEOUT_S,
            what=f"{chat.trace_id} in Jaeger",
        )
        assert_stage_tree(spans, chat, "jaeger")


def test_every_chat_is_the_same_trace_in_tempo(stack: Stack, tempo_url: str, chats: list[Chat]) -> None:
    for chat in chats:
        in_tempo = poll(
            partial(complete, tempo_trace, tempo_url, chat.trace_id),
            VISIBLE_TIMEOUT_S,
            what=f"{chat.trace_id} in Tempo",
        )
        assert_stage_tree(in_tempo, chat, "tempo")
        in_jaeger = jaeger_trace(stack.jaeger_query, chat.trace_id) or []
        assert {span.span_id for span in in_tempo} == {span.span_id for span in in_jaeger}
    query = f'{{resource.service.name="{SERVICE_NAME}" && name="{TOOL_EXECUTION}"}}'
    found = {trace["traceID"].rjust(32, "0") for trace in tempo_search(tempo_url, query)}
    assert {chat.trace_id for chat in chats} <= found


def test_jaeger_lists_the_service_and_its_stage_operations(stack: Stack, chats: list[Chat]) -> None:
    def operations() -> set[str] | None:
        response = httpx.get(f"{stack.jaeger_query}/api/operations", params={"service": SERVICE_NAME}, timeout=10.0)
        response.raise_for_status()
        names = {operation["name"] for operation in response.json()["data"] or []}
        return names if set(STAGES) <= names else None

    assert CHAT_SERVER_SPAN in poll(operations, VISIBLE_TIMEOUT_S, what="stage operations in Jaeger")


def test_llm_token_usage_of_the_service_reaches_prometheus(
    stack: Stack, chats: list[Chat], agent_instance: str
) -> None:
    """The dashboard's "LLM tokens per chat request" panel reads this metric, recorded by the GenAI instrumentation.

    Counted for this module's agent only (``instance``): other modules' agents export to the same Prometheus.
    """
    labels = f'service_name="{SERVICE_NAME}", instance="{agent_instance}", gen_ai_token_type="input"'
    expr = f"sum(gen_ai_client_token_usage_sum{{{labels}}})"
    values = poll(lambda: finite_values(prometheus_query(stack.prometheus, expr)), 60, interval_s=1.0, what=expr)
    tokens_reported = sum(chat.body["metadata"]["tokens_used"] for chat in chats)
    assert 0 < values[0] <= tokens_reported
