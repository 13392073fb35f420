"""The chat page at ``/`` (built by ``npm run build`` into ``static/``)."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from perftrace.fastapi import BROWSER_TRACES_PATH

from ha_ai_agent.api.deps import RuntimeDep

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
CONFIG_PLACEHOLDER = "<!--HA_AGENT_CONFIG-->"

router = APIRouter(tags=["ui"])


@router.get("/", response_class=HTMLResponse)
async def index(runtime: RuntimeDep) -> HTMLResponse:
    """The chat page, with its configuration inlined."""
    page = STATIC_DIR / "index.html"
    if not page.is_file():
        return HTMLResponse(
            "<!doctype html><title>Chat page not built</title><p>The chat page has not been built: run "
            "<code>make web</code> (or <code>make run</code>). The API and <a href=/performance>/performance</a> "
            "work without it.</p>",
            status_code=503,
        )
    config = {"jaegerUrl": runtime.settings.jaeger_url, "otlpPath": BROWSER_TRACES_PATH}
    # "</" cannot end the script element early when written as "<\/".
    payload = json.dumps(config).replace("</", "<\\/")
    script = f'<script id="ha-agent-config" type="application/json">{payload}</script>'
    return HTMLResponse(page.read_text(encoding="utf-8").replace(CONFIG_PLACEHOLDER, script))
