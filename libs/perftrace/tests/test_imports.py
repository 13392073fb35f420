"""The core installs and imports without the web extra, the agent or any LLM client."""

from __future__ import annotations

import json
import subprocess
import sys

CORE_MODULES = [
    "perftrace",
    "perftrace.analysis.report",
    "perftrace.cli",
    "perftrace.analysis.compare",
    "perftrace.analysis.compare_report",
    "perftrace.tracing.decorator",
    "perftrace.tracing.logs",
    "perftrace.ratelimit",
    "perftrace.tracing.recent",
    "perftrace.tracing.records",
    "perftrace.tracing.semconv",
    "perftrace.tracing.setup",
    "perftrace.formats.jaeger",
    "perftrace.formats.snapshot",
    "perftrace.formats.spans",
    "perftrace.testing.synthetic",
    "perftrace.tracker",
]
FORBIDDEN = ("ha_ai_agent", "fastapi", "starlette", "jinja2", "openai", "httpx")


def loaded_after_importing(modules: list[str]) -> list[str]:
    script = (
        f"import importlib, json, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    # -I: a fresh, isolated interpreter (no PYTHON* variables, no user site, no current directory on the path).
    result = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def test_the_core_loads_no_web_agent_or_llm_module() -> None:
    loaded = loaded_after_importing(CORE_MODULES)
    assert "perftrace.tracker" in loaded and "opentelemetry.sdk.trace" in loaded
    offending = [m for m in loaded if m.split(".")[0] in FORBIDDEN]
    assert offending == []


def test_tracing_alone_loads_no_wire_format_models() -> None:
    # pydantic is a core dependency for the wire formats, which the CLI and the routes load, not the span path.
    loaded = loaded_after_importing(["perftrace", "perftrace.tracing.recent", "perftrace.tracker"])
    assert "perftrace.tracing.records" in loaded
    assert [m for m in loaded if m.split(".")[0] == "pydantic" or m.startswith("perftrace.formats")] == []


def test_the_fastapi_extra_loads_fastapi_but_not_the_agent() -> None:
    loaded = loaded_after_importing(["perftrace.fastapi"])
    assert "fastapi" in loaded and "jinja2" in loaded
    assert [m for m in loaded if m.split(".")[0] in ("ha_ai_agent", "openai")] == []
