"""Issue 24 against the real Home Assistant: who may use the agent, and actions that open the home.

A Home Assistant user's own token opens the agent. The verdict is kept for ``HA_AGENT_AUTH_CACHE_SECONDS`` by the
token's hash: a token deleted in Home Assistant is refused once that time has passed, not before. Unlocking the
front door is held until a "yes" in the same conversation within ``HA_AGENT_CONFIRM_SECONDS``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ha_ai_agent.app import create_app
from ha_ai_agent.auth.policy import AuthMode
from ha_ai_agent.config import Settings
from ha_ai_agent.runtime import Runtime
from ha_ai_agent.semconv import (
    ACTION_CONFIRMATION,
    OPENAI_API_CALL,
    PENDING_PREVIEW_CHECK,
    PREVIEW_ACTION,
    PREVIEW_PENDING,
    TOOL_EXECUTION,
)
from pydantic import SecretStr
from testsupport.home_assistant import HomeAssistantAdmin, HomeAssistantPeer

from tests.helpers import wait_for_trace
from tests.home.test_real_home_assistant import real_home

__all__ = ["real_home"]

CACHE_SECONDS = 2.0
CONFIRM_SECONDS = 3.0


def agent_on(settings: Settings, peer: HomeAssistantPeer, **update: Any) -> TestClient:
    """The agent on the real Home Assistant, with ``update`` to its settings (use it as a context manager)."""
    real = settings.model_copy(update={"ha_url": peer.url, "ha_token": SecretStr(peer.token), **update})
    return TestClient(create_app(real))


@pytest.fixture
def guarded_by_home(settings: Settings, real_home: HomeAssistantPeer) -> Iterator[TestClient]:
    with agent_on(settings, real_home, auth=AuthMode.HOME_ASSISTANT, auth_cache_seconds=CACHE_SECONDS) as client:
        yield client


def status_with(client: TestClient, token: str) -> int:
    return client.get("/api/v1/conversations", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_users_token_is_accepted_then_refused_within_the_cache_time_after_deletion(
    guarded_by_home: TestClient, real_home: HomeAssistantPeer
) -> None:
    with HomeAssistantAdmin(real_home.url, real_home.token) as admin:
        token = admin.create_token("phone")
        assert status_with(guarded_by_home, token) == 200
        assert status_with(guarded_by_home, token[:-4] + "AAAA") == 401
        admin.delete_token("phone")
    deleted_at = time.monotonic()
    assert real_home.rest("GET", "/api/").status_code == 200  # Home Assistant itself is fine

    while status_with(guarded_by_home, token) == 200:
        assert time.monotonic() - deleted_at < CACHE_SECONDS + 1.0, "still accepted past the cache time"
        time.sleep(0.1)
    assert status_with(guarded_by_home, token) == 401


def test_signing_in_on_the_page_with_a_users_token(guarded_by_home: TestClient, real_home: HomeAssistantPeer) -> None:
    with HomeAssistantAdmin(real_home.url, real_home.token) as admin:
        token = admin.create_token("browser")
    signed_in = guarded_by_home.post("/api/v1/session", json={"token": token})
    assert signed_in.status_code == 204
    assert guarded_by_home.post("/api/v1/chat", json={"message": "Is the front door locked?"}).status_code == 200
    assert guarded_by_home.post("/api/v1/session", json={"token": "not-a-home-assistant-token"}).status_code == 401


@pytest.fixture
def careful_agent(settings: Settings, real_home: HomeAssistantPeer) -> Iterator[TestClient]:
    # The exposure settings are read on every call (they are kept as long as the areas).
    with agent_on(settings, real_home, confirm_seconds=CONFIRM_SECONDS, context_areas_ttl_seconds=0) as client:
        yield client


def say(agent: TestClient, message: str, conversation_id: str | None = None) -> dict[str, Any]:
    response = agent.post("/api/v1/chat", json={"message": message, "conversation_id": conversation_id})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def front_door(peer: HomeAssistantPeer) -> str:
    return str(peer.rest("GET", "/api/states/lock.front_door").json()["state"])


@pytest.fixture
def asked(careful_agent: TestClient, real_home: HomeAssistantPeer) -> dict[str, Any]:
    """The agent's answer to "Unlock the front door", the door locked before."""
    assert real_home.rest("POST", "/api/services/lock/lock", {"entity_id": "lock.front_door"}).status_code == 200
    assert front_door(real_home) == "locked"
    return say(careful_agent, "Unlock the front door")


def test_unlocking_waits_for_a_yes_in_the_same_conversation(
    careful_agent: TestClient, real_home: HomeAssistantPeer, asked: dict[str, Any]
) -> None:
    assert "I need your confirmation" in asked["message"] and "Front Door" in asked["message"]
    assert front_door(real_home) == "locked"
    elsewhere = say(careful_agent, "yes")  # another (new) conversation
    assert front_door(real_home) == "locked", elsewhere["message"]
    other = say(careful_agent, "What devices are in the kitchen?")
    assert say(careful_agent, "yes", other["conversation_id"])["tool_calls"] == []
    assert front_door(real_home) == "locked"

    done = say(careful_agent, "yes", asked["conversation_id"])

    assert done["message"] == "Done: Front Door is now unlocked."
    assert front_door(real_home) == "unlocked"
    again = say(careful_agent, "yes", asked["conversation_id"])  # the yes was used up
    assert again["tool_calls"] == [] or all(c["name"] != "call_service" for c in again["tool_calls"])


def test_a_yes_after_the_time_limit_does_nothing(
    careful_agent: TestClient, real_home: HomeAssistantPeer, asked: dict[str, Any]
) -> None:
    time.sleep(CONFIRM_SECONDS + 0.5)

    late = say(careful_agent, "yes", asked["conversation_id"])

    assert "too late" in late["message"] and late["tool_calls"] == []
    assert front_door(real_home) == "locked"


def test_the_trace_shows_the_pending_and_the_confirmed_action(
    careful_agent: TestClient, real_home: HomeAssistantPeer, asked: dict[str, Any]
) -> None:
    done = say(careful_agent, "yes", asked["conversation_id"])
    runtime: Runtime = careful_agent.app.state.runtime  # type: ignore[attr-defined]

    held = wait_for_trace(runtime.tracing.recent, asked["metadata"]["trace_id"])
    confirmed = wait_for_trace(runtime.tracing.recent, done["metadata"]["trace_id"])

    tools = [s for s in held.spans if s.name == TOOL_EXECUTION and s.attribute(ACTION_CONFIRMATION)]
    assert [s.attribute(ACTION_CONFIRMATION) for s in tools] == ["pending"]
    check = next(s for s in confirmed.spans if s.name == PENDING_PREVIEW_CHECK)
    assert check.attribute(PREVIEW_PENDING) is True and check.attribute(PREVIEW_ACTION) == "confirmed"
    made = [s for s in confirmed.spans if s.name == TOOL_EXECUTION]
    assert [s.attribute(ACTION_CONFIRMATION) for s in made] == ["confirmed"]
    assert not [s for s in confirmed.spans if s.name == OPENAI_API_CALL]  # the model had no say in it
    assert front_door(real_home) == "unlocked"


def test_the_agent_acts_only_on_entities_home_assistant_exposes_to_conversation_agents(
    careful_agent: TestClient, real_home: HomeAssistantPeer
) -> None:
    assert real_home.rest("POST", "/api/services/light/turn_off", {"entity_id": "light.bed_light"}).status_code == 200
    with HomeAssistantAdmin(real_home.url, real_home.token) as admin:
        admin.command(
            "homeassistant/expose_entity",
            assistants=["conversation"],
            entity_ids=["light.bed_light"],
            should_expose=False,
        )
        try:
            refused = say(careful_agent, "Turn on the bed light")
            assert real_home.rest("GET", "/api/states/light.bed_light").json()["state"] == "off", refused["message"]
            assert "does not expose" in refused["message"] or "expose" in refused["message"].lower(), refused
        finally:
            admin.command(
                "homeassistant/expose_entity",
                assistants=["conversation"],
                entity_ids=["light.bed_light"],
                should_expose=True,
            )
    done = say(careful_agent, "Turn on the bed light")
    assert real_home.rest("GET", "/api/states/light.bed_light").json()["state"] == "on", done["message"]
