"""The chat page at ``/`` (built by ``npm run build`` into ``static/``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from perftrace.fastapi import BROWSER_TRACES_PATH, PAGE_PATH

from ha_ai_agent.api.deps import RuntimeDep
from ha_ai_agent.semconv import CHAT_PATH, CHAT_STREAM_PATH, FEEDBACK_PATH, SESSION_PATH
from ha_ai_agent.store.conversations import MAX_FEEDBACK_COMMENT_CHARS

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
CONFIG_PLACEHOLDER = "<!--HA_AGENT_CONFIG-->"
#: Where the sign-in page says how to authenticate.
HOW_PLACEHOLDER = "<!--HA_AGENT_HOW-->"
#: Where the chat page gets its sign-out button, when access control is on.
SIGN_OUT_PLACEHOLDER = "<!--HA_AGENT_SIGN_OUT-->"
SIGN_OUT_BUTTON = '<button id="sign-out" type="button">Sign out</button>'

router = APIRouter(tags=["ui"])


@router.get(
    "/",
    response_class=HTMLResponse,
    responses={503: {"description": "The page has not been built (`make web`)", "content": {"text/html": {}}}},
)
async def index(runtime: RuntimeDep) -> HTMLResponse:
    """The chat page, with its configuration inlined."""
    page = STATIC_DIR / "index.html"
    if not page.is_file():
        return HTMLResponse(
            "<!doctype html><title>Chat page not built</title><p>The chat page has not been built: run "
            f"<code>make web</code> (or <code>make run</code>). The API and <a href={PAGE_PATH}>{PAGE_PATH}</a> "
            "work without it.</p>",
            status_code=503,
        )
    sign_out = SIGN_OUT_BUTTON if runtime.access.auth.required else ""
    html = _with_config(page.read_text(encoding="utf-8"), runtime.settings.jaeger_url)
    return HTMLResponse(html.replace(SIGN_OUT_PLACEHOLDER, sign_out))


def page_config(jaeger_url: str | None = None) -> dict[str, str | int | None]:
    """What the pages' scripts are told (``web/src/config.ts``): every path they call or link to, from its constant."""
    return {
        "jaegerUrl": jaeger_url,
        "otlpPath": BROWSER_TRACES_PATH,
        "chatPath": CHAT_PATH,
        "chatStreamPath": CHAT_STREAM_PATH,
        "feedbackPath": FEEDBACK_PATH,
        "sessionPath": SESSION_PATH,
        "performancePath": PAGE_PATH,
        "feedbackCommentChars": MAX_FEEDBACK_COMMENT_CHARS,
    }


def _with_config(html: str, jaeger_url: str | None) -> str:
    # "</" cannot end the script element early when written as "<\/".
    payload = json.dumps(page_config(jaeger_url)).replace("</", "<\\/")
    return html.replace(CONFIG_PLACEHOLDER, f'<script id="ha-agent-config" type="application/json">{payload}</script>')


def sign_in_page(how: str, headers: Mapping[str, str]) -> HTMLResponse:
    """The 401 a browser gets for a page: a form to paste a token into (``static/sign-in.html``)."""
    page = STATIC_DIR / "sign-in.html"
    if page.is_file():
        body = _with_config(page.read_text(encoding="utf-8"), None).replace(HOW_PLACEHOLDER, escape(how))
    else:
        body = f"<!doctype html><title>Sign in</title><p>{escape(how)}. (The sign-in page is not built: `make web`.)"
    return HTMLResponse(body, status_code=401, headers=dict(headers))
