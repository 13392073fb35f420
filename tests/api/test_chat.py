from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx
import httpx2
import pytest
from fastapi.testclient import TestClient
from ha_ai_agent.api.chat import ANSWER_FIELDS, ChatMetadata, ChatResponse
from ha_ai_agent.app import create_app
from ha_ai_agent.chat.context import SECTIONS
from ha_ai_agent.chat.pipeline import ChatResult
from ha_ai_agent.config import Settings
from ha_ai_agent.home.demo import DEMO_TOKEN, create_demo_home_app
from ha_ai_agent.runtime import Runtime
from ha_ai_agent.semconv import (
    CHAT_SERVER_SPAN,
    CONTEXT_CACHE_HITS,
    CONTEXT_CACHE_MISSES,
    CONTEXT_SPAN_PREFIX,
    CONVERSATION_MANAGEMENT,
    MESSAGE_ASSEMBLY,
    OPENAI_API_CALL,
    PENDING_PREVIEW_CHECK,
    RATE_LIMIT_CHECK,
    TOOL_EXECUTION,
)
from pydantic import SecretStr
from testsupport.servers import closed_port, serve_in_thread

from tests.helpers import STAGES_IN_ORDER, stage_names, wait_for_trace

KITCHEN = "What devices are in the kitchen?"


def chat(client: TestClient, message: str = KITCHEN, **extra: object) -> httpx2.Response:
    return client.post("/api/v1/chat", json={"message": message, **extra})


def test_kitchen_question_answers_with_tool_and_stage_spans(client: TestClient, runtime: Runtime) -> None:
    response = chat(client)
    assert response.status_code == 200, response.text
    body = response.json()
    for device in ("Kitchen Ceiling Light", "Coffee Maker", "Fridge Power"):
        assert device in body["message"]
    assert "Bedside Lamp" not in body["message"]
    assert body["tool_calls"] == [
        {"id": body["tool_calls"][0]["id"], "name": "get_entities", "arguments": {"area": "kitchen"}}
    ]
    metadata = body["metadata"]
    assert metadata["iterations"] == 2
    assert metadata["tokens_used"] > 0
    assert metadata["model"] == "gpt-4o-mini"
    assert set(metadata["token_breakdown"]) == {
        "system_tokens",
        "history_tokens",
        "new_message_tokens",
        "total_tokens",
        "max_input_tokens",
        "within_budget",
    }
    assert metadata["token_breakdown"]["within_budget"] is True

    record = wait_for_trace(runtime.tracing.recent, metadata["trace_id"])
    assert stage_names(record) == STAGES_IN_ORDER
    by_name = {s.name: s for s in record.spans}
    server = by_name[CHAT_SERVER_SPAN]
    assert server.kind == "SERVER" and server.parent_span_id == 0
    # The GenAI instrumentation's span sits inside each openai_api_call.
    llm_calls = record.find(OPENAI_API_CALL)
    chats = [s for s in record.spans if s.name.startswith("chat ")]
    assert len(chats) == 2
    assert {c.parent_span_id for c in chats} == {c.span_id for c in llm_calls}
    assert chats[0].attribute("gen_ai.usage.input_tokens") > 0
    assert chats[0].attribute("gen_ai.request.model") == "gpt-4o-mini"
    # The first chat builds every context section: each a child of message_assembly, which lists them as misses.
    assembly = by_name[MESSAGE_ASSEMBLY]
    sections = {s.name: s for s in record.spans if s.name.startswith(CONTEXT_SPAN_PREFIX)}
    assert sorted(sections) == [CONTEXT_SPAN_PREFIX + name for name in sorted(SECTIONS)]
    assert all(s.parent_span_id == assembly.span_id for s in sections.values())
    assert assembly.attribute(CONTEXT_CACHE_HITS) == ()
    assert set(assembly.attribute(CONTEXT_CACHE_MISSES)) == set(SECTIONS)
    # Home Assistant HTTP calls (a section's under the section span) and SQLite statements are spans too.
    states = [s for s in record.spans if s.kind == "CLIENT" and "demo-home/api/states" in str(s.attribute("http.url"))]
    assert any(s.parent_span_id in {section.span_id for section in sections.values()} for s in states)
    assert any(s.attribute("db.system.name", s.attribute("db.system")) == "sqlite" for s in record.spans)
    # No prompt or answer text in any span unless capture is opted in.
    assert not any(KITCHEN in str(v) for s in record.spans for v in s.attributes.values())


def test_second_request_uses_the_context_cache_unless_refresh(client: TestClient, runtime: Runtime) -> None:
    chat(client)
    warm = chat(client).json()["metadata"]["trace_id"]
    refreshed = chat(client, refresh_context=True).json()["metadata"]["trace_id"]
    # Served from the cache: no section span, the hits listed on message_assembly.
    warm_trace = wait_for_trace(runtime.tracing.recent, warm)
    assert not [s for s in warm_trace.spans if s.name.startswith(CONTEXT_SPAN_PREFIX)]
    assembly = warm_trace.find(MESSAGE_ASSEMBLY)[0]
    assert set(assembly.attribute(CONTEXT_CACHE_HITS)) == set(SECTIONS)
    assert assembly.attribute(CONTEXT_CACHE_MISSES) == ()
    # Refreshed: every section built again, each a span.
    cold = wait_for_trace(runtime.tracing.recent, refreshed).spans
    assert len([s for s in cold if s.name.startswith(CONTEXT_SPAN_PREFIX)]) == len(SECTIONS)


def test_conversation_continues_and_is_stored(client: TestClient) -> None:
    first = chat(client).json()
    second = chat(client, "Turn on the garage light", conversation_id=first["conversation_id"]).json()
    assert second["conversation_id"] == first["conversation_id"]
    assert [c["name"] for c in second["tool_calls"]] == ["get_entities", "call_service"]
    assert second["tool_calls"][1]["arguments"] == {
        "domain": "light",
        "service": "turn_on",
        "entity_id": "light.garage",
    }
    assert "Garage Light is now on" in second["message"]
    stored = client.get(f"/api/v1/conversations/{first['conversation_id']}").json()
    roles = [m["role"] for m in stored["messages"]]
    assert roles == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "assistant",
    ]
    # The tool result the model saw is the real result, not empty (a bug of the original).
    assert "Kitchen Ceiling Light" in stored["messages"][2]["content"]


def test_invalid_bodies_get_4xx_and_store_nothing(client: TestClient, settings: Settings) -> None:
    assert (
        client.post("/api/v1/chat", content=b"{not json", headers={"content-type": "application/json"}).status_code
        == 422
    )
    assert client.post("/api/v1/chat", json={"conversation_id": None}).status_code == 422
    assert client.post("/api/v1/chat", json={"message": 42}).status_code == 422
    blank = chat(client, "   ")
    assert blank.status_code == 422 and "blank" in blank.json()["detail"]
    too_long = chat(client, "x" * (settings.max_message_chars + 1))
    assert too_long.status_code == 400 and "longer than" in too_long.json()["detail"]
    assert client.get("/api/v1/conversations").json()["total"] == 0


def test_unknown_conversation_is_404_with_error_span(client: TestClient, runtime: Runtime) -> None:
    response = chat(client, conversation_id="conv-does-not-exist")
    assert response.status_code == 404
    body = response.json()
    assert "not found" in body["detail"]
    record = wait_for_trace(runtime.tracing.recent, body["trace_id"])
    (stage,) = record.find(CONVERSATION_MANAGEMENT)
    assert stage.status == "ERROR"
    assert stage_names(record) == [RATE_LIMIT_CHECK, CONVERSATION_MANAGEMENT]


def test_rate_limit_is_429_with_retry_after(settings: Settings) -> None:
    limited = settings.model_copy(update={"rate_limit_per_minute": 3})
    with TestClient(create_app(limited)) as client:
        codes = [chat(client).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        response = chat(client)
        assert response.status_code == 429
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        record = wait_for_trace(runtime.tracing.recent, response.json()["trace_id"])
        (stage,) = record.find(RATE_LIMIT_CHECK)
        assert stage.status == "ERROR" and stage.attribute("rate_limit.limited") is True


def test_llm_unavailable_is_503_and_stores_nothing(settings: Settings) -> None:
    broken = settings.model_copy(
        update={"openai_base_url": f"http://127.0.0.1:{closed_port()}/v1", "llm_max_retries": 0}
    )
    with TestClient(create_app(broken)) as client:
        response = chat(client)
        assert response.status_code == 503
        body = response.json()
        assert body["detail"] == "The language model is unavailable; try again shortly"
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        record = wait_for_trace(runtime.tracing.recent, body["trace_id"])
        (call,) = record.find(OPENAI_API_CALL)
        assert call.status == "ERROR"
        assert client.get("/api/v1/conversations").json()["total"] == 0


@pytest.fixture
def demo_home_server() -> Iterator[tuple[str, object]]:
    app = create_demo_home_app(DEMO_TOKEN)
    with serve_in_thread(app) as url:
        yield url, app


def test_home_assistant_over_real_http_receives_the_trace(
    settings: Settings, demo_home_server: tuple[str, object]
) -> None:
    url, ha_app = demo_home_server
    real = settings.model_copy(update={"ha_url": url, "ha_token": SecretStr(DEMO_TOKEN)})
    with TestClient(create_app(real)) as client:
        body = chat(client).json()
        assert "Kitchen Ceiling Light" in body["message"]
        trace_id = body["metadata"]["trace_id"]
        received = list(ha_app.state.received_traceparents)  # type: ignore[attr-defined]
        assert received and all(tp.split("-")[1] == trace_id for tp in received)


def test_home_assistant_down_is_503_with_error_span(settings: Settings) -> None:
    down = settings.model_copy(update={"ha_url": f"http://127.0.0.1:{closed_port()}", "ha_token": SecretStr("x")})
    with TestClient(create_app(down)) as client:
        response = chat(client)
        assert response.status_code == 503
        assert "Home Assistant" in response.json()["detail"]
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        record = wait_for_trace(runtime.tracing.recent, response.json()["trace_id"])
        (assembly,) = record.find(MESSAGE_ASSEMBLY)
        assert assembly.status == "ERROR"
        assert client.get("/health").status_code == 503


def test_unexpected_error_is_500_without_exception_text(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals: api_key=sk-123")

    monkeypatch.setattr(runtime.agent, "chat", explode)
    response = TestClient(client.app, raise_server_exceptions=False).post("/api/v1/chat", json={"message": KITCHEN})
    assert response.status_code == 500
    assert "secret" not in response.text and "sk-123" not in response.text
    assert response.json()["detail"] == "Internal server error"
    assert len(response.json()["trace_id"]) == 32


def test_pending_preview_approve_is_rewritten(client: TestClient, runtime: Runtime) -> None:
    first = chat(client).json()
    conversation_id = first["conversation_id"]
    asyncio.run(runtime.store.set_pending_preview(conversation_id, {"summary": "Lights on at sunset"}))
    body = chat(client, "approve", conversation_id=conversation_id).json()
    record = wait_for_trace(runtime.tracing.recent, body["metadata"]["trace_id"])
    (check,) = record.find(PENDING_PREVIEW_CHECK)
    assert check.attribute("preview.action") == "approve"
    stored = client.get(f"/api/v1/conversations/{conversation_id}").json()
    assert stored["pending_preview"] is None
    last_user = [m for m in stored["messages"] if m["role"] == "user"][-1]
    assert last_user["content"].startswith("I approve the automation preview (Lights on at sunset)")


async def test_fifty_concurrent_chats_make_fifty_separate_traces(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        runtime: Runtime = app.state.runtime
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
            responses = await asyncio.gather(
                *(client.post("/api/v1/chat", json={"message": KITCHEN}) for _ in range(50))
            )
        assert [r.status_code for r in responses] == [200] * 50
        trace_ids = {r.json()["metadata"]["trace_id"] for r in responses}
        assert len(trace_ids) == 50
        for trace_id in trace_ids:
            record = wait_for_trace(runtime.tracing.recent, trace_id)
            assert stage_names(record) == STAGES_IN_ORDER
            assert {s.trace_id_hex for s in record.spans} == {trace_id}
        reports = runtime.tracker.get_reports()
        assert len(reports) == 50
        assert {r.trace_id for r in reports} == trace_ids
        assert all([m.name for m in r.metrics] == STAGES_IN_ORDER for r in reports)


def test_database_is_a_file_under_the_data_dir(client: TestClient, settings: Settings) -> None:
    chat(client)
    assert settings.database_path.is_file()
    assert settings.database_path.parent == Path(settings.data_dir).resolve()


def test_parallel_tool_calls_are_concurrent_sibling_spans(
    settings: Settings, demo_home_server: tuple[str, object]
) -> None:
    url, _ = demo_home_server  # real sockets: a tool call waiting on Home Assistant lets the other run
    real = settings.model_copy(update={"ha_url": url, "ha_token": SecretStr(DEMO_TOKEN)})
    with TestClient(create_app(real)) as client:
        body = chat(client, "What devices are in the kitchen and the office?").json()
        assert [c["arguments"] for c in body["tool_calls"]] == [{"area": "kitchen"}, {"area": "office"}]
        assert "Kitchen Ceiling Light" in body["message"] and "Office Desk Lamp" in body["message"]
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        record = wait_for_trace(runtime.tracing.recent, body["metadata"]["trace_id"])
        tools = record.find(TOOL_EXECUTION)
        assert len(tools) == 2
        assert tools[0].parent_span_id == tools[1].parent_span_id
        assert tools[1].start_time_unix_nano < tools[0].end_time_unix_nano  # overlapping, not one after the other


def test_query_strings_stay_out_of_server_spans(client: TestClient, runtime: Runtime) -> None:
    secret = "api_key=sk-canary-123&email=alice%40example.com"
    body = client.post(f"/api/v1/chat?{secret}", json={"message": KITCHEN}).json()
    record = wait_for_trace(runtime.tracing.recent, body["metadata"]["trace_id"])
    server = next(s for s in record.spans if s.name == CHAT_SERVER_SPAN)
    assert server.attribute("http.target") == "/api/v1/chat"
    assert not any("canary" in str(v) or "alice" in str(v) for s in record.spans for v in s.attributes.values())


def test_the_answer_and_its_metadata_are_the_pipeline_result_regrouped(client: TestClient) -> None:
    # A field added to ChatResult is in the API (and its schema) with no other edit.
    result_fields = {f.name for f in dataclasses.fields(ChatResult)}
    assert set(ChatResponse.model_fields) == {*ANSWER_FIELDS, "metadata"}
    assert set(ChatMetadata.model_fields) == result_fields - set(ANSWER_FIELDS)
    answer = client.post("/api/v1/chat", json={"message": "What devices are in the kitchen?"}).json()
    assert set(answer) | set(answer["metadata"]) == result_fields | {"metadata"}
    schema = client.get("/openapi.json").json()["components"]["schemas"]["ChatMetadata"]
    assert set(schema["properties"]) == result_fields - set(ANSWER_FIELDS)
