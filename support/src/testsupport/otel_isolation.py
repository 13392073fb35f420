"""A pytest plugin (``-p testsupport.otel_isolation``) for tests that start tracing in the test process."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from opentelemetry.test.globals_test import reset_trace_globals

_OTEL_VARS_TO_ISOLATE = [name for name in os.environ if name.startswith("OTEL_")]


@pytest.fixture(autouse=True)
def isolated_otel_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No OTEL_* variable of the developer's shell, and a fresh global tracer provider per test."""
    for name in _OTEL_VARS_TO_ISOLATE:
        monkeypatch.delenv(name, raising=False)
    reset_trace_globals()
    yield
    reset_trace_globals()
