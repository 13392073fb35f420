"""Pytest fixtures for tracing, shared by the library's and the service's tests (import them into a conftest)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.test.globals_test import reset_trace_globals
from perftrace import TracingConfig, TracingHandle, setup_tracing

_OTEL_VARS_TO_ISOLATE = [name for name in os.environ if name.startswith("OTEL_")]


@pytest.fixture(autouse=True)
def isolated_otel_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No OTEL_* variable of the developer's shell, and a fresh global tracer provider per test."""
    for name in _OTEL_VARS_TO_ISOLATE:
        monkeypatch.delenv(name, raising=False)
    reset_trace_globals()
    yield
    reset_trace_globals()


@pytest.fixture
def tracing() -> Iterator[TracingHandle]:
    """Tracing as a service sets it up (embedded mode), for one test."""
    handle = setup_tracing(TracingConfig(service_name="test-service"))
    yield handle
    handle.shutdown()


@pytest.fixture
def exported(tracing: TracingHandle) -> InMemorySpanExporter:
    """Every span the test's provider ends, as SDK span objects."""
    exporter = InMemorySpanExporter()
    tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter
