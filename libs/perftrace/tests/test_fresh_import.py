from __future__ import annotations

import json
import subprocess
import sys

#: What a service that installs the library must never get with it.
NEVER_LOADED = {"ha_ai_agent", "openai"}
WEB_FRAMEWORK = {"fastapi", "starlette", "jinja2"}


def top_level_modules_after(statement: str) -> set[str]:
    """The top-level modules loaded by ``statement`` in a fresh interpreter (isolated mode: no cwd on the path)."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    completed = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in json.loads(completed.stdout)}


def test_the_core_loads_opentelemetry_only() -> None:
    loaded = top_level_modules_after("import perftrace")
    assert {"perftrace", "opentelemetry"} <= loaded
    assert not loaded & (NEVER_LOADED | WEB_FRAMEWORK)


def test_the_fastapi_extra_loads_fastapi_but_no_service() -> None:
    loaded = top_level_modules_after("from perftrace.fastapi import PerformanceTracing")
    assert "fastapi" in loaded
    assert not loaded & NEVER_LOADED
