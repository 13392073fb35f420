from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from ha_ai_agent.config import Settings
from ha_ai_agent.runtime import open_runtime
from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor


async def test_start_up_failing_half_way_undoes_what_it_did(settings: Settings, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    broken = settings.model_copy(update={"data_dir": blocker})
    with pytest.raises((OSError, sqlite3.Error)):
        async with open_runtime(broken):
            pass  # pragma: no cover - never reached
    assert not OpenAIInstrumentor().is_instrumented_by_opentelemetry
