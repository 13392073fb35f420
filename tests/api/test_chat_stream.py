"""``POST /api/v1/chat/stream`` over a real socket: a served ``ha-ai-agent`` read as a client reads it.

An in-process ASGI transport would hand the whole stream over at once, so every test here talks HTTP to a
real uvicorn process: the embedded model at a pace (text that comes word by word), or the tests' OpenAI
server (a model that fails before, or in the middle of, its answer).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from ha_ai_agent.api.chat import STREAM_EVENTS, ChatResponse, StreamErrorEvent
from ha_ai_agent.semconv import CHAT_STREAM_PATH, CHAT_STREAM_SERVER_SPAN, LLM_CHAT_SPAN_PREFIX, STAGES
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_CONVERSATION_ID,
    GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    GEN_AI_USAGE_OUTPUT_TOKENS,
)
from perftrace import FIRST_TOKEN_EVENT, LAST_TOKEN_EVENT
from testsupport.openai_server import create_openai_app
from testsupport.processes import poll, running_agent
from testsupport.servers import serve_in_thread

CHUNK_MS = 30
KITCHEN_LIGHTS = "Turn on the kitchen lights"


@dataclass(frozen=True)
class Event:
    """One server-sent event and when the client had it (``time.monotonic``)."""

    name: str
    data: dict[str, Any]
    at: float


def stream(url: str, body: dict[str, Any]) -> tuple[httpx2.Response, list[Event]]:
    """POST to the stream route; the response, and its events if it is a stream."""
    events: list[Event] = []
    with httpx2.stream("POST", f"{url}{CHAT_STREAM_PATH}", json=body, timeout=60) as response:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            for sse in httpx2.EventSource(response):
                data = sse.json()
                assert isinstance(data, dict)
                events.append(Event(sse.event, data, time.monotonic()))
        else:
            response.read()
    return response, events


@pytest.fixture(scope="module")
def paced_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service with the embedded model writing a word every ``CHUNK_MS``."""
    env = {"HA_AGENT_LLM_LATENCY_MS": "20", "HA_AGENT_LLM_STREAM_CHUNK_MS": str(CHUNK_MS)}
    with running_agent(tmp_path_factory.mktemp("paced-agent"), env) as (url, _):
        yield url


@pytest.fixture(scope="module")
def model_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service talking to the tests' OpenAI server (``#error``, ``#cut``), without retries."""
    with serve_in_thread(create_openai_app()) as model_url:
        env = {"OPENAI_BASE_URL": f"{model_url}/v1", "HA_AGENT_LLM_MAX_RETRIES": "0"}
        with running_agent(tmp_path_factory.mktemp("model-agent"), env) as (url, _):
            yield url


def test_tool_rounds_then_the_words_as_they_come_then_the_answer(paced_agent: str) -> None:
    response, events = stream(paced_agent, {"message": KITCHEN_LIGHTS})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    names = [e.name for e in events]
    assert set(names) <= set(STREAM_EVENTS)
    # Each tool call announced, then done; every tool round before the answer's words; the answer last.
    first_text = names.index("text")
    assert names[-1] == "done" and "text" not in names[:first_text] and set(names[first_text:-1]) == {"text"}
    calls = [e.data for e in events if e.name == "tool_call"]
    done_calls = [e.data for e in events if e.name == "tool_done"]
    assert [c["name"] for c in calls] == ["get_entities", "call_service", "call_service"]
    assert [d["id"] for d in done_calls] == [c["id"] for c in calls] and all(d["ok"] for d in done_calls)
    done = events[-1].data
    ChatResponse.model_validate(done)
    texts = [e for e in events if e.name == "text"]
    assert "".join(e.data["text"] for e in texts) == done["message"]
    assert "Kitchen Ceiling Light" in done["message"] and len(texts) > 10
    assert [c["id"] for c in done["tool_calls"]] == [c["id"] for c in calls]
    assert done["metadata"]["iterations"] == 3 and done["metadata"]["tokens_used"] > 0
    # Word by word: the last words came at least half the model's pace after the first (not all at once).
    assert texts[-1].at - texts[0].at >= 0.5 * (len(texts) - 1) * CHUNK_MS / 1000


def test_the_plain_route_answers_the_same_in_one_piece(paced_agent: str) -> None:
    plain = httpx2.post(f"{paced_agent}/api/v1/chat", json={"message": KITCHEN_LIGHTS}, timeout=60)
    _, events = stream(paced_agent, {"message": KITCHEN_LIGHTS})
    streamed = events[-1].data
    assert plain.status_code == 200 and set(plain.json()) == set(streamed)
    assert set(plain.json()["metadata"]) == set(streamed["metadata"])
    assert [c["name"] for c in plain.json()["tool_calls"]] == [c["name"] for c in streamed["tool_calls"]]


def trace_of(url: str, trace_id: str, root: str) -> dict[str, Any]:
    """The trace from the service's own buffer, once its server span has ended."""

    def ended() -> dict[str, Any] | None:
        response = httpx2.get(f"{url}/api/v1/performance/traces/{trace_id}", timeout=5)
        if response.status_code != 200:
            return None
        found: dict[str, Any] = response.json()
        return found if any(s["name"] == root for s in found["spans"]) else None

    return poll(ended, 10, interval_s=0.1, what=f"trace {trace_id}")


def test_the_trace_holds_the_first_chunk_then_the_first_word_out(paced_agent: str) -> None:
    _, events = stream(paced_agent, {"message": "What devices are in the kitchen?"})
    done = events[-1].data
    ChatResponse.model_validate(done)
    assert done["metadata"]["trace_id"] is not None
    spans = trace_of(paced_agent, done["metadata"]["trace_id"], CHAT_STREAM_SERVER_SPAN)["spans"]
    server = next(s for s in spans if s["name"] == CHAT_STREAM_SERVER_SPAN)
    assert set(STAGES) <= {s["name"] for s in spans}
    assert server["attributes"][GEN_AI_CONVERSATION_ID] == done["conversation_id"]
    assert server["attributes"][GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    marks = {e["name"]: e["time_unix_nano"] for e in server["events"]}
    assert server["start_time_unix_nano"] < marks[FIRST_TOKEN_EVENT] < marks[LAST_TOKEN_EVENT]
    assert marks[LAST_TOKEN_EVENT] <= server["end_time_unix_nano"]
    llm_calls = sorted(
        (s for s in spans if s["name"].startswith(LLM_CHAT_SPAN_PREFIX)), key=lambda s: s["start_time_unix_nano"]
    )
    assert len(llm_calls) == done["metadata"]["iterations"]
    for call in llm_calls:
        assert 0 < call["attributes"][GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] < 10
    # The answering call's first chunk reached the service before the first word went to the client.
    answering = llm_calls[-1]
    first_chunk = answering["start_time_unix_nano"] + answering["attributes"][GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] * 1e9
    assert first_chunk < marks[FIRST_TOKEN_EVENT]


def test_errors_before_the_first_byte_are_the_plain_routes_json_errors(paced_agent: str) -> None:
    bodies = [
        {"message": "x" * 4001},
        {"message": "hello", "conversation_id": "conv-unknown"},
        {"message": " \t"},
    ]
    for body in bodies:
        streamed, events = stream(paced_agent, body)
        plain = httpx2.post(f"{paced_agent}/api/v1/chat", json=body, timeout=30)
        assert not events and streamed.status_code == plain.status_code, body
        assert streamed.headers["content-type"] == "application/json"
        assert streamed.json()["detail"] == plain.json()["detail"]
    assert [stream(paced_agent, b)[0].status_code for b in bodies] == [400, 404, 422]


def test_a_model_that_fails_at_once_is_a_json_503(model_agent: str) -> None:
    response, events = stream(model_agent, {"message": "hello #error"})
    assert response.status_code == 503 and not events
    assert "language model" in response.json()["detail"]


def messages_of(url: str, conversation_id: str) -> list[dict[str, Any]]:
    response = httpx2.get(f"{url}/api/v1/conversations/{conversation_id}", timeout=10)
    assert response.status_code == 200
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


def test_a_model_that_fails_mid_answer_is_an_error_event_and_nothing_is_stored(model_agent: str) -> None:
    _, first = stream(model_agent, {"message": "What is in the kitchen?"})
    conversation_id = first[-1].data["conversation_id"]
    before = messages_of(model_agent, conversation_id)

    response, events = stream(model_agent, {"message": "And now? #cut", "conversation_id": conversation_id})
    assert response.status_code == 200
    names = [e.name for e in events]
    assert names[:2] == ["tool_call", "tool_done"] and "text" in names and names[-1] == "error"
    error = StreamErrorEvent.model_validate(events[-1].data)
    assert error.status == 503 and "language model" in error.detail and error.trace_id is not None
    assert messages_of(model_agent, conversation_id) == before
    spans = trace_of(model_agent, error.trace_id, CHAT_STREAM_SERVER_SPAN)["spans"]
    server = next(s for s in spans if s["name"] == CHAT_STREAM_SERVER_SPAN)
    assert server["status"] == "ERROR" and FIRST_TOKEN_EVENT in {e["name"] for e in server["events"]}


def test_an_action_that_opens_the_home_waits_for_a_yes_on_the_stream(paced_agent: str) -> None:
    _, asked = stream(paced_agent, {"message": "Unlock the garage side door"})
    question = asked[-1].data
    ChatResponse.model_validate(question)
    assert [e.data["text"] for e in asked if e.name == "text"][-1] == question["message"]
    _, confirmed = stream(paced_agent, {"message": "yes", "conversation_id": question["conversation_id"]})
    names = [e.name for e in confirmed]
    assert names == ["tool_call", "tool_done", "text", "done"]
    assert confirmed[0].data["name"] == "call_service" and confirmed[1].data["ok"] is True
    assert "unlocked" in confirmed[-1].data["message"]


def test_a_client_that_goes_away_mid_answer_leaves_nothing_stored(paced_agent: str) -> None:
    _, first = stream(paced_agent, {"message": "What is in the kitchen?"})
    conversation_id = first[-1].data["conversation_id"]
    before = messages_of(paced_agent, conversation_id)
    body = {"message": KITCHEN_LIGHTS, "conversation_id": conversation_id}
    with httpx2.stream("POST", f"{paced_agent}{CHAT_STREAM_PATH}", json=body, timeout=60) as response:
        first_event = next(iter(httpx2.EventSource(response)))
    assert first_event.event == "tool_call"
    # Longer than the whole answer takes at this pace: a request that carried on would have saved it by now.
    time.sleep(5)
    assert messages_of(paced_agent, conversation_id) == before
