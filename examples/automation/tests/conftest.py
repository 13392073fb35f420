from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from ai_automation.app import create_app
from fastapi.testclient import TestClient
from opentelemetry.test.globals_test import reset_trace_globals
from testsupport.processes import running_agent

_OTEL_VARS_TO_ISOLATE = [name for name in os.environ if name.startswith("OTEL_")]


@pytest.fixture(autouse=True)
def isolated_otel_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No OTEL_* variable of the developer's shell, and a fresh global tracer provider per test."""
    for name in _OTEL_VARS_TO_ISOLATE:
        monkeypatch.delenv(name, raising=False)
    reset_trace_globals()
    yield
    reset_trace_globals()


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
