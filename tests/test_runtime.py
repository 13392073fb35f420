from __future__ import annotations

import gc
import sqlite3
from pathlib import Path

import pytest
from ha_ai_agent.app import create_app
from ha_ai_agent.config import Settings
from ha_ai_agent.runtime import open_runtime, performance_tracing
from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor


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
