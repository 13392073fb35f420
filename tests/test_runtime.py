from __future__ import annotations

import gc
import logging
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ha_ai_agent.app import create_app
from ha_ai_agent.config import Settings
from ha_ai_agent.runtime import Runtime, open_runtime, performance_tracing
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor
from opentelemetry.instrumentation.logging import LoggingInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


async def test_start_up_failing_half_way_undoes_what_it_did(settings: Settings, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    broken = settings.model_copy(update={"data_dir": blocker})
    with pytest.raises((OSError, sqlite3.Error)):
        async with open_runtime(broken, performance_tracing(broken)):
            pass  # pragma: no cover - never reached
    assert not OpenAIInstrumentor().is_instrumented_by_opentelemetry


async def test_the_app_freezes_its_start_up_heap_only_while_it_runs(settings: Settings) -> None:
    gc.unfreeze()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        # Start-up objects are out of the collector's way while the service runs (docs/performance.md) ...
        assert gc.get_freeze_count() > 0
    # ... and handed back when it stops, so a process running apps in turn does not keep each one's garbage.
    assert gc.get_freeze_count() == 0


def _chat(client: TestClient) -> None:
    response = client.post("/api/v1/chat", json={"message": "What devices are in the kitchen?"})
    assert response.status_code == 200, response.text


def test_with_the_sdk_disabled_the_service_installs_no_tracing_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    LoggingInstrumentor().uninstrument()  # other tests' services leave it installed in this process
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    settings = Settings(data_dir=tmp_path / "data", llm_latency_ms=0, llm_stream_chunk_ms=0, _env_file=None)
    app = create_app(settings)
    with TestClient(app) as client:
        _chat(client)
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        # No provider made global, no instrumentation wrapping anything (not even no-op ones).
        assert not isinstance(trace.get_tracer_provider(), TracerProvider)
        assert OpenTelemetryMiddleware.__name__ not in {getattr(m.cls, "__name__", "") for m in app.user_middleware}
        assert not OpenAIInstrumentor().is_instrumented_by_opentelemetry
        assert not LoggingInstrumentor().is_instrumented_by_opentelemetry
        assert type(runtime.store._connection) is sqlite3.Connection
        assert client.get("/api/v1/performance/reports").json() == []


def test_left_to_an_agent_the_service_makes_no_spans_of_its_own(settings: Settings) -> None:
    # What `opentelemetry-instrument` does before the service starts: a global SDK provider.
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    with TestClient(create_app(settings.model_copy(update={"builtin_tracing": False}))) as client:
        _chat(client)
        assert client.get("/api/v1/performance/reports").json() == []
    # No stage, context, SQLite, HTTP or GenAI span. FastAPI's own telemetry follows the global provider (the
    # agent's), as it would without the service's code.
    scopes = {span.instrumentation_scope.name for span in exporter.get_finished_spans() if span.instrumentation_scope}
    assert scopes <= {"fastapi"}


def test_with_no_recent_traces_kept_spans_are_only_exported(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with TestClient(create_app(settings.model_copy(update={"recent_traces": 0}))) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        exporter = InMemorySpanExporter()
        runtime.tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
        _chat(client)
        assert client.get("/api/v1/performance/reports").json() == []
    names = {span.name for span in exporter.get_finished_spans()}
    assert {"message_assembly", "save_response", "POST /api/v1/chat"} <= names
    assert not [r for r in caplog.records if r.getMessage().startswith("[Performance]")]
