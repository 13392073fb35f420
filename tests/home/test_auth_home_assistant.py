"""A Home Assistant user's own token opens the agent, checked against the real Home Assistant.

The verdict is kept for ``HA_AGENT_AUTH_CACHE_SECONDS`` by the token's hash: a token deleted in Home Assistant is
refused once that time has passed, not before (the README says so).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from ha_ai_agent.app import create_app
from ha_ai_agent.auth.policy import AuthMode
from ha_ai_agent.config import Settings
from pydantic import SecretStr
from testsupport.home_assistant import HomeAssistantAdmin, HomeAssistantPeer

from tests.home.test_real_home_assistant import real_home

__all__ = ["real_home"]

CACHE_SECONDS = 2.0


@pytest.fixture
def guarded_by_home(settings: Settings, real_home: HomeAssistantPeer) -> Iterator[TestClient]:
    real = settings.model_copy(
        update={
            "ha_url": real_home.url,
            "ha_token": SecretStr(real_home.token),
            "auth": AuthMode.HOME_ASSISTANT,
            "auth_cache_seconds": CACHE_SECONDS,
        }
    )
    with TestClient(create_app(real)) as client:
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
