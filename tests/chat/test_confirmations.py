"""Actions that open the home wait for a yes (issue 24), on the demo home; tests/home has the real Home Assistant."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ha_ai_agent.chat.confirmations import PendingAction, opens_the_home
from ha_ai_agent.runtime import Runtime


def say(client: TestClient, message: str, conversation_id: str | None = None) -> dict[str, Any]:
    response = client.post("/api/v1/chat", json={"message": message, "conversation_id": conversation_id})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def state(runtime: Runtime, entity_id: str) -> str:
    found = await runtime.home.get_state(entity_id)
    assert found is not None
    return str(found["state"])


@pytest.mark.parametrize(
    ("domain", "service", "device_class", "opens"),
    [
        ("lock", "unlock", None, True),
        ("lock", "open", None, True),
        ("lock", "lock", None, False),
        ("cover", "open_cover", "garage", True),
        ("cover", "toggle", "gate", True),
        ("cover", "close_cover", "garage", False),
        ("cover", "open_cover", "window", False),
        ("alarm_control_panel", "alarm_disarm", None, True),
        ("alarm_control_panel", "alarm_arm_away", None, False),
        ("light", "turn_on", None, False),
    ],
)
def test_which_calls_open_the_home(domain: str, service: str, device_class: str | None, opens: bool) -> None:
    assert opens_the_home(domain, service, device_class) is opens


def test_an_unlock_is_asked_for_held_and_made_on_yes(client: TestClient, runtime: Runtime) -> None:
    asked = say(client, "Unlock the garage side door")

    assert "I need your confirmation" in asked["message"]
    preview = client.get(f"/api/v1/conversations/{asked['conversation_id']}").json()["pending_preview"]
    held = PendingAction.from_preview(preview)
    assert held is not None and held.summary == "unlock Garage Side Door" and held.expires_at > time.time()
    assert asyncio.run(state(runtime, "lock.garage_side_door")) == "locked"
    done = say(client, "yes", asked["conversation_id"])
    assert done["message"] == "Done: Garage Side Door is now unlocked."
    assert client.get(f"/api/v1/conversations/{asked['conversation_id']}").json()["pending_preview"] is None


def test_anything_but_yes_cancels_and_no_declines(client: TestClient) -> None:
    asked = say(client, "Open the garage door")
    declined = say(client, "no", asked["conversation_id"])
    assert declined["message"] == "All right, I did not open Garage Door."
    asked = say(client, "Open the garage door")
    say(client, "What devices are in the kitchen?", asked["conversation_id"])
    late = say(client, "yes", asked["conversation_id"])
    assert all(c["name"] != "call_service" for c in late["tool_calls"])
    assert "Garage Door is now open" not in late["message"]
