"""Tokens, cost and the conversation id on a chat's spans; tokens per prompt part; the service's metrics.

The model is the tests' OpenAI-compatible server, reached by the real ``openai`` client, which reports a
known usage per call (cached input tokens included).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ha_ai_agent.app import create_app
from ha_ai_agent.config import Settings
from ha_ai_agent.llm.pricing import ModelPrice
from ha_ai_agent.runtime import Runtime
from ha_ai_agent.semconv import (
    CHAT_COST_USD,
    CHAT_INPUT_TOKENS_ESTIMATE,
    CHAT_ITERATIONS,
    CHAT_SERVER_SPAN,
    CHAT_STREAM_PATH,
    CHAT_STREAM_SERVER_SPAN,
    CHAT_TOOL_CALLS,
    GEN_AI_CONVERSATION_ID,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    LLM_CHAT_SPAN_PREFIX,
    MESSAGE_ASSEMBLY,
    METRIC_ATTR_PROMPT_PART,
    METRIC_COST,
    METRIC_LLM_ROUNDS,
    METRIC_PROMPT_TOKENS,
    PROMPT_PARTS,
    PROMPT_TOKENS_ATTRIBUTES,
    STAGES,
)
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK
from opentelemetry.semconv._incubating.metrics.gen_ai_metrics import GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK
from opentelemetry.test.globals_test import reset_metrics_globals
from perftrace import TraceRecord
from testsupport.openai_server import MODEL, create_openai_app
from testsupport.servers import serve_in_thread

from tests.helpers import metric_points, wait_for_trace

PRICE = ModelPrice(input=3.0, cached_input=1.0, output=5.0)
QUESTIONS = ("What devices are in the kitchen?", "And the bedroom?", "Turn on the kitchen light")


@dataclass
class Model:
    url: str
    served: list[dict[str, Any]]


@pytest.fixture
def model() -> Iterator[Model]:
    served: list[dict[str, Any]] = []
    with serve_in_thread(create_openai_app(served)) as url:
        yield Model(url, served)


@pytest.fixture
def metric_reader() -> Iterator[InMemoryMetricReader]:
    """The global meter provider (embedded mode has no exporter of its own), read in memory."""
    reset_metrics_globals()
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    yield reader
    reset_metrics_globals()


def start(settings: Settings, model: Model, prices: dict[str, ModelPrice]) -> TestClient:
    update = {"openai_base_url": f"{model.url}/v1", "llm_max_retries": 0, "prices": prices}
    return TestClient(create_app(settings.model_copy(update=update)))


def converse(client: TestClient, model: Model) -> list[tuple[TraceRecord, list[dict[str, Any]]]]:
    """The three questions in one conversation: each trace with the usages the model reported for it."""
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    turns = []
    conversation_id = None
    for question in QUESTIONS:
        before = len(model.served)
        response = client.post("/api/v1/chat", json={"message": question, "conversation_id": conversation_id})
        assert response.status_code == 200, response.text
        body = response.json()
        conversation_id = body["conversation_id"]
        turns.append((wait_for_trace(runtime.tracing.recent, body["metadata"]["trace_id"]), model.served[before:]))
    return turns


def expected_cost(usages: list[dict[str, Any]]) -> float:
    total = 0.0
    for usage in usages:
        cached = usage["prompt_tokens_details"]["cached_tokens"]
        uncached = usage["prompt_tokens"] - cached
        total += uncached * PRICE.input + cached * (PRICE.cached_input or 0) + usage["completion_tokens"] * PRICE.output
    return total / 1_000_000


def test_request_totals_equal_the_reported_usage_and_cost_follows_the_table(
    settings: Settings, model: Model, metric_reader: InMemoryMetricReader
) -> None:
    with start(settings, model, {MODEL: PRICE}) as client:
        turns = converse(client, model)
    for record, usages in turns:
        server = record.find(CHAT_SERVER_SPAN)[0]
        assert usages and server.attribute(CHAT_ITERATIONS) == len(usages) == 2
        assert server.attribute(CHAT_TOOL_CALLS) == 1
        assert server.attribute(GEN_AI_USAGE_INPUT_TOKENS) == sum(u["prompt_tokens"] for u in usages)
        assert server.attribute(GEN_AI_USAGE_OUTPUT_TOKENS) == sum(u["completion_tokens"] for u in usages)
        cached = sum(u["prompt_tokens_details"]["cached_tokens"] for u in usages)
        assert server.attribute(GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS) == cached
        assert server.attribute(CHAT_COST_USD) == pytest.approx(expected_cost(usages), rel=1e-12)
    # The history grows: later turns read more (and, from the model's cache, more cached) tokens.
    inputs = [record.find(CHAT_SERVER_SPAN)[0].attribute(GEN_AI_USAGE_INPUT_TOKENS) for record, _ in turns]
    assert inputs == sorted(inputs) and inputs[0] < inputs[-1]


def streamed_chat(client: TestClient, message: str) -> dict[str, Any]:
    """A chat on the stream route, read whole (in-process: the events come at once); its ``done`` event's data."""
    response = client.post(CHAT_STREAM_PATH, json={"message": message})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    done = response.text.split("event: done\ndata: ", 1)[1].split("\n", 1)[0]
    body: dict[str, Any] = json.loads(done)
    return body


def test_a_streamed_chat_reports_the_same_exact_usage_and_the_time_to_first_chunk(
    settings: Settings, model: Model, metric_reader: InMemoryMetricReader
) -> None:
    with start(settings, model, {MODEL: PRICE}) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        body = streamed_chat(client, QUESTIONS[0])
        record = wait_for_trace(runtime.tracing.recent, body["metadata"]["trace_id"], root_name=CHAT_STREAM_SERVER_SPAN)
    usages = model.served
    server = record.find(CHAT_STREAM_SERVER_SPAN)[0]
    assert server.attribute(CHAT_ITERATIONS) == len(usages) == 2
    assert server.attribute(GEN_AI_USAGE_INPUT_TOKENS) == sum(u["prompt_tokens"] for u in usages)
    assert server.attribute(GEN_AI_USAGE_OUTPUT_TOKENS) == sum(u["completion_tokens"] for u in usages)
    assert server.attribute(CHAT_COST_USD) == pytest.approx(expected_cost(usages), rel=1e-12)
    assert body["metadata"]["tokens_used"] == sum(u["total_tokens"] for u in usages)
    llm_calls = [s for s in record.spans if s.name.startswith(LLM_CHAT_SPAN_PREFIX)]
    assert len(llm_calls) == 2 and all(s.attribute(GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK) > 0 for s in llm_calls)
    first_chunks = metric_points(metric_reader, GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK)
    assert sum(point.count for point in first_chunks) == 2


def test_every_span_from_message_assembly_on_names_the_conversation(settings: Settings, model: Model) -> None:
    with start(settings, model, {MODEL: PRICE}) as client:
        turns = converse(client, model)
    ids = set()
    for record, _ in turns:
        named = STAGES[STAGES.index(MESSAGE_ASSEMBLY) :]
        spans = [s for s in record.spans if s.name in named or s.name.startswith(LLM_CHAT_SPAN_PREFIX)]
        spans.append(record.find(CHAT_SERVER_SPAN)[0])
        assert {s.name for s in spans} >= {*named, CHAT_SERVER_SPAN, LLM_CHAT_SPAN_PREFIX + settings.openai_model}
        ids |= {s.attribute(GEN_AI_CONVERSATION_ID) for s in spans}
    assert len(ids) == 1 and next(iter(ids)).startswith("conv-")


def test_message_assembly_counts_the_tokens_of_each_prompt_part(settings: Settings, model: Model) -> None:
    with start(settings, model, {MODEL: PRICE}) as client:
        turns = converse(client, model)
    history = []
    for record, _ in turns:
        assembly = record.find(MESSAGE_ASSEMBLY)[0]
        parts = {part: assembly.attribute(PROMPT_TOKENS_ATTRIBUTES[part]) for part in PROMPT_PARTS}
        assert all(isinstance(tokens, int) and tokens >= 0 for tokens in parts.values()), parts
        assert parts["system_instructions"] > 0 and parts["devices"] > 0 and parts["new_message"] > 0
        # The parts add up to the prompt's estimate (each part rounds up on its own).
        assert 0 <= sum(parts.values()) - assembly.attribute(CHAT_INPUT_TOKENS_ESTIMATE) <= len(PROMPT_PARTS)
        history.append(parts["history"])
    assert history[0] == 0 and history[0] < history[1] < history[2]


def test_a_model_without_a_price_gets_no_cost_and_one_warning(
    settings: Settings, model: Model, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="ha_ai_agent.llm.pricing"), start(settings, model, {}) as client:
        turns = converse(client, model)
    for record, _ in turns:
        server = record.find(CHAT_SERVER_SPAN)[0]
        assert server.attribute(GEN_AI_USAGE_INPUT_TOKENS) > 0
        assert CHAT_COST_USD not in server.attributes
    warnings = [r.getMessage() for r in caplog.records if r.name == "ha_ai_agent.llm.pricing"]
    assert len(warnings) == 1 and MODEL in warnings[0]


def test_metrics_carry_tokens_cost_and_rounds_but_no_conversation_or_trace(
    settings: Settings, model: Model, metric_reader: InMemoryMetricReader
) -> None:
    with start(settings, model, {MODEL: PRICE}) as client:
        turns = converse(client, model)
    data = metric_reader.get_metrics_data()
    assert data is not None
    points: dict[str, list[Any]] = {}
    for resource_metrics in data.resource_metrics:
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                points.setdefault(metric.name, []).extend(metric.data.data_points)
    assert {METRIC_PROMPT_TOKENS, METRIC_COST, METRIC_LLM_ROUNDS, "gen_ai.client.token.usage"} <= set(points)
    assert "gen_ai.client.operation.duration" in points
    # Not streamed (POST /api/v1/chat): no time to a first chunk.
    assert GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK not in points
    assert {p.attributes[METRIC_ATTR_PROMPT_PART] for p in points[METRIC_PROMPT_TOKENS]} == set(PROMPT_PARTS)
    assert sum(p.value for p in points[METRIC_COST]) == pytest.approx(sum(expected_cost(usages) for _, usages in turns))
    assert sum(p.count for p in points[METRIC_LLM_ROUNDS]) == len(QUESTIONS)
    forbidden = {r.find(CHAT_SERVER_SPAN)[0].attribute(GEN_AI_CONVERSATION_ID) for r, _ in turns}
    forbidden |= {format(r.trace_id, "032x") for r, _ in turns}
    for name, data_points in points.items():
        for point in data_points:
            attributes = dict(point.attributes or {})
            assert not any("conversation" in key or "trace" in key for key in attributes), (name, attributes)
            assert not forbidden & {str(value) for value in attributes.values()}, (name, attributes)
