from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ai_automation.app import create_app
from fastapi.testclient import TestClient
from testsupport.otel_fixtures import isolated_otel_env
from testsupport.processes import running_agent

__all__ = ["isolated_otel_env"]


@pytest.fixture(scope="module")
def agent_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real chat agent, a process of its own with embedded defaults (its model answers at once)."""
    work_dir: Path = tmp_path_factory.mktemp("agent")
    with running_agent(work_dir) as (url, _):
        yield url


@pytest.fixture
def client(agent_url: str) -> Iterator[TestClient]:
    """The example app, its lifespan running, asking the real agent."""
    with TestClient(create_app(agent_url)) as test_client:
        yield test_client
