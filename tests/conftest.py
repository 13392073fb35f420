from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ha_ai_agent.app import create_app
from ha_ai_agent.config import Settings
from ha_ai_agent.runtime import Runtime
from testsupport.otel_fixtures import exported, isolated_otel_env, tracing

__all__ = ["exported", "isolated_otel_env", "tracing"]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings of a service with embedded defaults, its database in the test's folder."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL", "HA_URL", "HA_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("HA_AGENT_")]:
        monkeypatch.delenv(name, raising=False)
    return Settings(data_dir=tmp_path / "data", llm_latency_ms=0, llm_stream_chunk_ms=0, _env_file=None)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app, its lifespan running (tracing, store, clients open)."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def runtime(client: TestClient) -> Runtime:
    """The open resources of the ``client`` app."""
    value: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return value
