"""A 5-turn conversation through the real service and openai client: tokens, cost, the conversation id, a verdict.

The model is the tests' OpenAI-compatible server, which reports a known usage per call (cached input included);
the service exports to the real collector, Jaeger and Prometheus. The library's conversation view of it (the
JSON routes of the running service, ``perftrace report --conversation`` against Jaeger) adds the same usage up.
The user gives one answer a thumbs-down with a comment (content capture off), which Jaeger shows in that
answer's trace, without the comment.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from ha_ai_agent.semconv import (
    CHAT_COST_USD,
    CHAT_FEEDBACK,
    CHAT_ITERATIONS,
    CHAT_SERVER_SPAN,
    FEEDBACK_EVALUATION_NAME,
    FEEDBACK_EVENT,
    GEN_AI_CONVERSATION_ID,
    GEN_AI_EVALUATION_EXPLANATION,
    GEN_AI_EVALUATION_NAME,
    GEN_AI_EVALUATION_SCORE_LABEL,
    GEN_AI_EVALUATION_SCORE_VALUE,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    METRIC_COST,
    METRIC_FEEDBACK,
    SERVICE_NAME,
    THUMBS_DOWN,
)
from perftrace import SpanRecord, TraceRecord
from perftrace.analysis.stages import find_operation, request_figures
from perftrace.paths import CONVERSATIONS_PATH
from testsupport.backend_queries import finite_values, has_server_span, jaeger_trace, prometheus_query, raw_trace
from testsupport.openai_server import MODEL, create_openai_app
from testsupport.processes import poll, running_agent
from testsupport.servers import serve_in_thread
from testsupport.stack import AGENT_ENV, Stack

from tests.test_cli import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

TURNS = ("What devices are in the kitchen?", "And the bedroom?", "Which lights are on?", "Thanks!", "Anything else?")
#: USD per million tokens for the test server's model, given to the service as HA_AGENT_PRICES.
PRICE = {"input": 2.0, "cached_input": 0.5, "output": 8.0}
VISIBLE_TIMEOUT_S = 30.0
METRICS_TIMEOUT_S = 60.0
#: The answer the user dislikes (0-based), and what they say about it.
DISLIKED_TURN = 2
COMMENT = "Wrong lights #dislike-comment"


@dataclass(frozen=True)
class Turn:
    """One answered turn: its trace id and the usage the model reported for each of its calls."""

    trace_id: str
    usages: list[dict[str, Any]]


@dataclass(frozen=True)
class Conversation:
    """The five turns of one conversation, and the service that still runs it."""

    id: str
    turns: list[Turn]
    url: str


def cost(usages: list[dict[str, Any]]) -> float:
    """What the calls cost by the table: uncached input, cached input and output at their prices."""
    total = 0.0
    for usage in usages:
        cached = usage["prompt_tokens_details"]["cached_tokens"]
        total += (usage["prompt_tokens"] - cached) * PRICE["input"] + cached * PRICE["cached_input"]
        total += usage["completion_tokens"] * PRICE["output"]
    return total / 1_000_000


@pytest.fixture(scope="module")
def conversation(stack: Stack, tmp_path_factory: pytest.TempPathFactory, agent_instance: str) -> Iterator[Conversation]:
    served: list[dict[str, Any]] = []
    with serve_in_thread(create_openai_app(served)) as model_url:
        env = {
            **AGENT_ENV,
            "OTEL_EXPORTER_OTLP_ENDPOINT": stack.collector_otlp_http,
            "OTEL_RESOURCE_ATTRIBUTES": f"service.instance.id={agent_instance}",
            "OPENAI_BASE_URL": f"{model_url}/v1",
            "HA_AGENT_PRICES": json.dumps({MODEL: PRICE}),
        }
        log_path = stack.log_dir / f"ha-ai-agent-{agent_instance}.log"
        with running_agent(tmp_path_factory.mktemp("agent"), env, log_path) as (url, managed):
            stack.processes.append(managed)
            turns: list[Turn] = []
            conversation_id = None
            for message in TURNS:
                before = len(served)
                response = httpx.post(
                    f"{url}/api/v1/chat", json={"message": message, "conversation_id": conversation_id}, timeout=30.0
                )
                assert response.status_code == 200, response.text
                body = response.json()
                conversation_id = body["conversation_id"]
                turns.append(Turn(body["metadata"]["trace_id"], served[before:]))
            assert conversation_id is not None
            verdict = {"score": "down", "comment": COMMENT}
            disliked = httpx.post(f"{url}/api/v1/chat/{turns[DISLIKED_TURN].trace_id}/feedback", json=verdict)
            assert disliked.status_code == 200, disliked.text
            yield Conversation(conversation_id, turns, url)


def server_span(stack: Stack, trace_id: str) -> SpanRecord:
    poll(partial(has_server_span, stack.jaeger_query, trace_id), VISIBLE_TIMEOUT_S, what=f"{trace_id} in Jaeger")
    spans = jaeger_trace(stack.jaeger_query, trace_id) or []
    return next(span for span in spans if span.name == CHAT_SERVER_SPAN)


def test_request_totals_in_jaeger_are_the_sum_of_the_reported_usage(stack: Stack, conversation: Conversation) -> None:
    for turn in conversation.turns:
        span = server_span(stack, turn.trace_id)
        assert span.attribute(CHAT_ITERATIONS) == len(turn.usages) == 2
        assert span.attribute(GEN_AI_USAGE_INPUT_TOKENS) == sum(u["prompt_tokens"] for u in turn.usages)
        assert span.attribute(GEN_AI_USAGE_OUTPUT_TOKENS) == sum(u["completion_tokens"] for u in turn.usages)
        cached = sum(u["prompt_tokens_details"]["cached_tokens"] for u in turn.usages)
        assert span.attribute(GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS) == cached
        assert span.attribute(CHAT_COST_USD) == pytest.approx(cost(turn.usages), rel=1e-9)
        assert span.attribute(GEN_AI_CONVERSATION_ID) == conversation.id


def test_jaeger_finds_the_five_traces_by_conversation_id(stack: Stack, conversation: Conversation) -> None:
    def found() -> set[str] | None:
        params = {
            "service": SERVICE_NAME,
            "tags": json.dumps({GEN_AI_CONVERSATION_ID: conversation.id}),
            "lookback": "1h",
            "limit": "50",
        }
        response = httpx.get(f"{stack.jaeger_query}/api/traces", params=params, timeout=10.0)
        response.raise_for_status()
        ids = {trace["traceID"].rjust(32, "0") for trace in response.json()["data"] or []}
        return ids if len(ids) >= len(TURNS) else None

    assert poll(found, VISIBLE_TIMEOUT_S, what="the conversation's traces") == {t.trace_id for t in conversation.turns}


def test_prometheus_has_tokens_and_cost_without_a_conversation_label(
    stack: Stack, conversation: Conversation, agent_instance: str
) -> None:
    selector = f'service_name="{SERVICE_NAME}", instance="{agent_instance}"'
    tokens = f'gen_ai_client_token_usage_sum{{{selector}, gen_ai_token_type="input"}}'
    reported = sum(u["prompt_tokens"] for turn in conversation.turns for u in turn.usages)
    poll(
        lambda: finite_values(prometheus_query(stack.prometheus, f"sum({tokens})")) == [float(reported)],
        METRICS_TIMEOUT_S,
        interval_s=1.0,
        what=f"{reported} input tokens in Prometheus",
    )
    total_cost = f"sum({METRIC_COST.replace('.', '_')}_total{{{selector}}})"
    expected = sum(cost(turn.usages) for turn in conversation.turns)
    values = poll(
        lambda: finite_values(prometheus_query(stack.prometheus, total_cost)) or None,
        METRICS_TIMEOUT_S,
        interval_s=1.0,
        what=total_cost,
    )
    assert values[0] == pytest.approx(expected, rel=1e-9)
    series = prometheus_query(stack.prometheus, f'{{{selector}, __name__=~"gen_ai_.*|chat_.*"}}')
    assert series
    trace_ids = {turn.trace_id for turn in conversation.turns}
    for sample in series:
        labels = sample["metric"]
        assert not any("conversation" in name or "trace" in name for name in labels), labels
        assert not ({conversation.id, *trace_ids} & set(labels.values())), labels


def test_the_thumbs_down_is_in_that_answers_trace_in_jaeger_without_the_comment(
    stack: Stack, conversation: Conversation
) -> None:
    trace_id = conversation.turns[DISLIKED_TURN].trace_id

    def with_verdict() -> list[SpanRecord] | None:
        spans = jaeger_trace(stack.jaeger_query, trace_id) or []
        names = {span.name for span in spans}
        return spans if {CHAT_SERVER_SPAN, CHAT_FEEDBACK} <= names else None

    spans = poll(with_verdict, VISIBLE_TIMEOUT_S, what=f"the verdict in {trace_id} in Jaeger")
    server = next(span for span in spans if span.name == CHAT_SERVER_SPAN)
    (verdict,) = [span for span in spans if span.name == CHAT_FEEDBACK]
    assert verdict.parent_span_id == server.span_id
    assert verdict.attribute(GEN_AI_CONVERSATION_ID) == conversation.id
    (event,) = verdict.events
    assert event.name == FEEDBACK_EVENT
    assert {key: event.attributes.get(key) for key in (GEN_AI_EVALUATION_NAME, GEN_AI_EVALUATION_SCORE_LABEL)} == {
        GEN_AI_EVALUATION_NAME: FEEDBACK_EVALUATION_NAME,
        GEN_AI_EVALUATION_SCORE_LABEL: THUMBS_DOWN,
    }
    assert float(event.attributes[GEN_AI_EVALUATION_SCORE_VALUE]) == 0.0
    assert GEN_AI_EVALUATION_EXPLANATION not in event.attributes
    assert "#dislike-comment" not in raw_trace(stack.jaeger_query, trace_id)
    # The library reads the verdict from Jaeger's copy (what its CLI reports), and only that answer has one.
    for turn in conversation.turns:
        operation = find_operation(TraceRecord(int(turn.trace_id, 16), tuple(server_spans(stack, turn.trace_id))))
        assert operation is not None
        expected = THUMBS_DOWN if turn.trace_id == trace_id else None
        assert request_figures(operation).feedback == expected, turn.trace_id
    # So does /performance: the conversation's turns, that one with its thumbs-down.
    held = httpx.get(f"{conversation.url}{CONVERSATIONS_PATH}/{conversation.id}", timeout=10.0).json()
    assert [turn["feedback"] for turn in held["turns"]] == [
        THUMBS_DOWN if index == DISLIKED_TURN else None for index in range(len(TURNS))
    ]


def server_spans(stack: Stack, trace_id: str) -> list[SpanRecord]:
    """The trace's spans in Jaeger once its server span is there."""
    server_span(stack, trace_id)
    return jaeger_trace(stack.jaeger_query, trace_id) or []


def test_prometheus_counts_the_verdict_by_label_only(
    stack: Stack, conversation: Conversation, agent_instance: str
) -> None:
    selector = f'service_name="{SERVICE_NAME}", instance="{agent_instance}"'
    counted = f"{METRIC_FEEDBACK.replace('.', '_')}_total{{{selector}}}"
    series = poll(
        lambda: prometheus_query(stack.prometheus, counted) or None,
        METRICS_TIMEOUT_S,
        interval_s=1.0,
        what=counted,
    )
    label = GEN_AI_EVALUATION_SCORE_LABEL.replace(".", "_")
    assert [(sample["metric"][label], float(sample["value"][1])) for sample in series] == [(THUMBS_DOWN, 1.0)]


def test_the_conversation_routes_add_up_the_reported_usage_exactly(conversation: Conversation) -> None:
    response = httpx.get(f"{conversation.url}{CONVERSATIONS_PATH}/{conversation.id}", timeout=10.0)
    assert response.status_code == 200, response.text
    body = response.json()
    usages = [u for turn in conversation.turns for u in turn.usages]

    totals = body["totals"]
    assert totals["turns"] == len(TURNS) and totals["errors"] == 0 and totals["unpriced_turns"] == 0
    assert totals["input_tokens"] == sum(u["prompt_tokens"] for u in usages)
    assert totals["output_tokens"] == sum(u["completion_tokens"] for u in usages)
    assert totals["cost_usd"] == pytest.approx(cost(usages), rel=1e-9)
    turns = body["turns"]
    assert [t["trace_id"] for t in turns] == [t.trace_id for t in conversation.turns]
    for served, turn in zip(conversation.turns, turns, strict=True):
        assert turn["input_tokens"] == sum(u["prompt_tokens"] for u in served.usages)
        assert turn["largest_call_input_tokens"] == max(u["prompt_tokens"] for u in served.usages)
        assert turn["output_tokens"] == sum(u["completion_tokens"] for u in served.usages)
        assert turn["cost_usd"] == pytest.approx(cost(served.usages), rel=1e-9)
        assert turn["llm_rounds"] == len(served.usages) and not turn["failed"]
    listed = httpx.get(f"{conversation.url}{CONVERSATIONS_PATH}", timeout=10.0).json()
    assert [c for c in listed if c["conversation_id"] == conversation.id] == [totals]
    unknown = httpx.get(f"{conversation.url}{CONVERSATIONS_PATH}/no-such-conversation", timeout=10.0)
    assert unknown.status_code == 404


def test_the_library_cli_reads_the_five_turns_from_jaeger(stack: Stack, conversation: Conversation) -> None:
    command = [str(Path(sys.executable).parent / "perftrace"), "report", "--jaeger", stack.jaeger_query]
    command += ["--service", SERVICE_NAME, "--conversation", conversation.id, "--lookback", "1h"]
    expected = [turn.trace_id for turn in conversation.turns]

    def turn_lines() -> list[str] | None:
        result = run_cli(command, timeout=60)
        assert result.returncode in (0, 1), result.stderr  # 1 until Jaeger holds a first turn
        lines = [line for line in result.stdout.splitlines() if any(t in line for t in expected)]
        return lines if len(lines) == len(expected) else None

    lines = poll(turn_lines, VISIBLE_TIMEOUT_S, interval_s=1.0, what="the five turns from perftrace report")
    assert [next(t for t in expected if t in line) for line in lines] == expected  # in order
    for line, turn in zip(lines, conversation.turns, strict=True):
        assert str(sum(u["prompt_tokens"] for u in turn.usages)) in line.split()
