"""Time to effect against the embedded demo home: its WebSocket API reports the state changes, as Home Assistant's.

The demo home's bedroom blinds move over 2 s (``opening`` → ``open``); its lights switch at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ha_ai_agent.app import create_app
from ha_ai_agent.config import Settings
from ha_ai_agent.home.demo import COVER_STEP_PERCENT, COVER_STEP_SECONDS
from ha_ai_agent.home.effects import target_of
from ha_ai_agent.runtime import Runtime
from ha_ai_agent.semconv import (
    CHAT_SERVER_SPAN,
    EFFECT_CANCELLED,
    EFFECT_REACHED,
    EFFECT_TIMEOUT,
    EFFECT_UNOBSERVED,
    HA_DOMAIN,
    HA_EFFECT_FINAL_STATE,
    HA_EFFECT_GROUP,
    HA_EFFECT_TARGET,
    HA_SERVICE,
    HOME_EFFECT,
    TOOL_EXECUTION,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tests.helpers import wait_for_trace
from tests.home.effect_spans import by_name, ended_effects, export_spans, outcome, states_reported, wait_for_effect

BLINDS = "cover.bedroom_blinds"
BLINDS_TRAVEL_S = 100 / COVER_STEP_PERCENT * COVER_STEP_SECONDS


def ask(client: TestClient, question: str) -> dict[str, Any]:
    response = client.post("/api/v1/chat", json={"message": question})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def exporter(runtime: Runtime) -> InMemorySpanExporter:
    return export_spans(runtime)


def test_opening_blinds_answers_at_once_and_the_effect_span_ends_when_they_are_open(
    client: TestClient, exporter: InMemorySpanExporter
) -> None:
    asked = time.monotonic()
    body = ask(client, "Open the bedroom blinds")
    answered_s = time.monotonic() - asked
    assert body["message"] == "Done: Bedroom Blinds is now opening."
    trace_id = body["metadata"]["trace_id"]
    assert ended_effects(exporter, trace_id) == []  # the answer did not wait for the blinds
    assert answered_s < BLINDS_TRAVEL_S

    effect = wait_for_effect(exporter, trace_id, BLINDS)
    assert outcome(effect) == EFFECT_REACHED
    assert states_reported(effect) == ["opening", "open"]
    attributes = effect.attributes or {}
    assert attributes[HA_EFFECT_TARGET] == "open" and attributes[HA_EFFECT_FINAL_STATE] == "open"
    assert attributes[HA_DOMAIN] == attributes[HA_EFFECT_GROUP] == "cover"
    assert attributes[HA_SERVICE] == "cover.open_cover"
    assert effect.start_time is not None and effect.end_time is not None
    assert (effect.end_time - effect.start_time) / 1e9 >= BLINDS_TRAVEL_S * 0.9
    assert effect.events[-1].timestamp == effect.end_time  # it ends when the demo home reports "open"

    spans = exporter.get_finished_spans()
    server = by_name(spans, CHAT_SERVER_SPAN)[0]
    tool = [s for s in by_name(spans, TOOL_EXECUTION) if s.context and s.context.trace_id == int(trace_id, 16)]
    assert effect.parent is not None and effect.parent.span_id in {s.context.span_id for s in tool if s.context}
    assert server.end_time is not None and effect.end_time > server.end_time  # ended after the answer


def test_the_late_effect_span_reaches_the_kept_trace_and_the_performance_routes(
    client: TestClient, runtime: Runtime, exporter: InMemorySpanExporter
) -> None:
    trace_id = ask(client, "Open the bedroom blinds")["metadata"]["trace_id"]
    wait_for_effect(exporter, trace_id, BLINDS)
    kept = wait_for_trace(runtime.tracing.recent, trace_id)
    assert [s.name for s in kept.spans].count(HOME_EFFECT) == 1
    served = client.get(f"/api/v1/performance/traces/{trace_id}").json()
    assert HOME_EFFECT in [s["name"] for s in served["spans"]]
    effects = client.get("/performance").text.split('id="effects"')[1]
    assert '<tr><td>cover</td><td class="num">1</td><td class="num">0</td>' in effects  # time to effect per domain


def test_each_light_a_call_changes_gets_its_own_effect_span(client: TestClient, exporter: InMemorySpanExporter) -> None:
    body = ask(client, "Turn off everything in the kitchen")
    assert "Kitchen Ceiling Light is now off" in body["message"] and "Coffee Maker is already off" in body["message"]
    effect = wait_for_effect(exporter, body["metadata"]["trace_id"], "light.kitchen_ceiling")
    assert outcome(effect) == EFFECT_REACHED and states_reported(effect) == ["off"]
    time.sleep(0.3)
    # Already off: nothing happened in the home, so nothing to wait for.
    ended = ended_effects(exporter, body["metadata"]["trace_id"])
    assert sorted(str((s.attributes or {})["ha.entity_id"]) for s in ended) == ["light.kitchen_ceiling"]


def test_a_device_slower_than_the_bound_gets_a_span_ended_at_the_bound_marked_timed_out(settings: Settings) -> None:
    bound_s = 0.5
    with TestClient(create_app(settings.model_copy(update={"effect_timeout_seconds": bound_s}))) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        exporter = export_spans(runtime)
        body = ask(client, "Open the bedroom blinds")
        effect = wait_for_effect(exporter, body["metadata"]["trace_id"], BLINDS)
    assert outcome(effect) == EFFECT_TIMEOUT
    assert effect.status.status_code == StatusCode.ERROR
    assert "did not reach open within 0.5 s" in str(effect.status.description)
    assert effect.start_time is not None and effect.end_time is not None
    assert effect.end_time - effect.start_time == int(bound_s * 1e9)
    assert states_reported(effect) == ["opening"]
    assert (effect.attributes or {})[HA_EFFECT_FINAL_STATE] == "opening"
    assert (effect.attributes or {})[HA_EFFECT_GROUP] == "cover"  # reported as the domain's timeout


def test_without_state_changes_the_span_ends_with_the_answer_marked_unobserved(
    client: TestClient, runtime: Runtime, exporter: InMemorySpanExporter
) -> None:
    assert runtime.effects is not None and runtime.effects.stream is not None
    client.portal.call(runtime.effects.stream.aclose)  # type: ignore[union-attr]
    body = ask(client, "Open the bedroom blinds")
    effect = wait_for_effect(exporter, body["metadata"]["trace_id"], BLINDS, timeout_s=1.0)
    assert outcome(effect) == EFFECT_UNOBSERVED
    assert (effect.attributes or {})[HA_EFFECT_FINAL_STATE] == "opening"
    assert HA_EFFECT_GROUP not in (effect.attributes or {})  # its time is the call's, not the effect's


def test_stopping_the_service_ends_and_exports_an_open_effect_span(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        exporter = export_spans(runtime)
        body = ask(client, "Open the bedroom blinds")
    effect = wait_for_effect(exporter, body["metadata"]["trace_id"], BLINDS, timeout_s=1.0)
    assert outcome(effect) == EFFECT_CANCELLED


def test_one_websocket_connection_serves_every_chat(client: TestClient, runtime: Runtime) -> None:
    demo = runtime.home.http._transport.app.state.home  # type: ignore[attr-defined]
    for question in ("Turn on the living room lights", "Open the bedroom blinds", "Turn off the office monitor"):
        ask(client, question)
    assert len(demo.listeners) == 1


@pytest.fixture
def no_effects(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"effect_timeout_seconds": 0}))) as client:
        yield client


def test_a_bound_of_zero_watches_nothing_and_opens_no_connection(no_effects: TestClient) -> None:
    runtime: Runtime = no_effects.app.state.runtime  # type: ignore[attr-defined]
    assert runtime.effects is None
    exporter = export_spans(runtime)
    body = ask(no_effects, "Open the bedroom blinds")
    time.sleep(0.2)
    assert ended_effects(exporter, body["metadata"]["trace_id"]) == []
    assert not runtime.home.http._transport.app.state.home.listeners  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("domain", "service", "data", "target"),
    [
        ("light", "turn_on", {"brightness_pct": 30}, "on"),
        ("cover", "close_cover", {}, "closed"),
        ("lock", "unlock", {}, "unlocked"),
        ("climate", "set_hvac_mode", {"hvac_mode": "cool"}, "cool"),
        ("climate", "set_temperature", {"temperature": 21}, "temperature=21"),
        ("cover", "set_cover_position", {"position": 40}, "current_position=40"),
        ("switch", "toggle", {}, "?"),  # the state the call's answer reports
        ("scene", "turn_on", {}, None),  # a scene's state is when it last ran
        ("light", "flash", {}, None),
    ],
)
def test_the_state_each_service_asks_for(domain: str, service: str, data: dict[str, Any], target: str | None) -> None:
    found = target_of(domain, service, data)
    assert (found.describe() if found else None) == target
