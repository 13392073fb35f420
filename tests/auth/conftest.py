from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from ha_ai_agent.app import create_app
from ha_ai_agent.auth.credentials import new_token
from ha_ai_agent.config import Settings


@pytest.fixture
def own_token() -> tuple[str, str]:
    """A token of the agent's own and its stored form."""
    return new_token()


@pytest.fixture
def guarded_settings(settings: Settings, own_token: tuple[str, str]) -> Settings:
    """The service with one own token configured (auto: tokens mode)."""
    return settings.model_copy(update={"auth_token_hashes": [own_token[1]], "auth_failures_per_minute": 5})


@pytest.fixture
def guarded(guarded_settings: Settings) -> Iterator[TestClient]:
    """The guarded app, its lifespan running."""
    with TestClient(create_app(guarded_settings)) as client:
        yield client


@pytest.fixture
def bearer(own_token: tuple[str, str]) -> dict[str, str]:
    """The header that signs a request in."""
    return {"Authorization": f"Bearer {own_token[0]}"}
