"""In real Chromium against a guarded ``ha-ai-agent serve``: sign in, chat, open /performance, sign out, refused.

The browser's spans reach the span endpoint only because the page is signed in: the session cookie goes with
the same-origin export, and the endpoint is guarded like every other route.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ha_ai_agent.auth.credentials import new_token
from ha_ai_agent.auth.sessions import SESSION_COOKIE
from testsupport.processes import poll, running_agent

from tests.browser.test_chat_page import KITCHEN, browser

__all__ = ["browser"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def guarded_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    static = Path(__file__).resolve().parents[2] / "services" / "ha_ai_agent" / "static" / "sign-in.js"
    if not static.is_file():
        pytest.fail("the sign-in page is not built: run `make web`")
    token, digest = new_token()
    env = {"HA_AGENT_AUTH": "tokens", "HA_AGENT_AUTH_TOKEN_HASHES": json.dumps([digest])}
    with running_agent(tmp_path_factory.mktemp("guarded-agent"), env=env) as (url, _):
        yield url, token


def test_sign_in_chat_performance_sign_out_and_refused(browser: Any, guarded_agent: tuple[str, str]) -> None:
    url, token = guarded_agent
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()

    first = page.goto(f"{url}/")
    assert first is not None and first.status == 401
    page.fill("#token", "not-the-token")
    page.click("#sign-in")
    page.wait_for_selector("#sign-in-error:not([hidden])", timeout=10_000)
    assert "ha-ai-agent token" in page.inner_text("#sign-in-error")
    page.fill("#token", token)
    page.click("#sign-in")
    page.wait_for_selector("body[data-state=idle]", timeout=15_000)

    cookie = next(c for c in context.cookies() if c["name"] == SESSION_COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > 0
    assert page.evaluate("document.cookie") == ""  # page scripts cannot read it
    page.fill("#message", KITCHEN)
    page.click("#send")
    answer = page.wait_for_selector("#messages .assistant[data-trace-id]", timeout=30_000)
    assert answer is not None and "Kitchen Ceiling Light" in answer.inner_text()
    trace_id = answer.get_attribute("data-trace-id")
    page.evaluate("window.haAgent.flushTraces()")

    signed = {"Authorization": f"Bearer {token}"}

    def browser_spans_kept() -> bool:
        response = httpx.get(f"{url}/api/v1/performance/traces/{trace_id}", headers=signed, timeout=5)
        return response.status_code == 200 and "send_message" in {s["name"] for s in response.json()["spans"]}

    poll(browser_spans_kept, 15, interval_s=0.2, what="the signed-in page's spans accepted by the span endpoint")
    performance = page.goto(f"{url}/performance")
    assert performance is not None and performance.status == 200
    assert page.locator("table").count() >= 1

    page.goto(f"{url}/")
    page.wait_for_selector("body[data-state=idle]", timeout=15_000)
    page.click("#sign-out")
    page.wait_for_selector("#sign-in-form", timeout=10_000)
    assert not [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    replayed = httpx.get(f"{url}/performance", cookies={SESSION_COOKIE: cookie["value"]}, timeout=5)
    assert replayed.status_code == 401
    again = page.goto(f"{url}/performance")
    assert again is not None and again.status == 401
    context.close()
