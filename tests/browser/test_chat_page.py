from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ha_ai_agent.semconv import BROWSER_SERVICE_NAME, CHAT_SERVER_SPAN, CHAT_STREAM_SERVER_SPAN, SERVICE_NAME
from perftrace import FIRST_TOKEN_EVENT, LAST_TOKEN_EVENT
from testsupport.processes import poll, running_agent

from tests.helpers import STAGES_IN_ORDER, missing_dependency

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
KITCHEN = "What devices are in the kitchen?"
#: The embedded model's pace in the streaming tests: a word every 40 ms.
CHUNK_MS = 40
BACKEND_STAGES = set(STAGES_IN_ORDER)
# Chromium's closed-network flags: without them it keeps trying Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        missing_dependency(f"no Chromium at {CHROMIUM}: `make chromium` installs Debian's")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def agent_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    static = Path(__file__).resolve().parents[2] / "services" / "ha_ai_agent" / "static" / "app.js"
    if not static.is_file():
        pytest.fail("the browser bundle is not built: run `make web`")
    with running_agent(tmp_path_factory.mktemp("browser-agent")) as (url, _):
        yield url


def ask(page: Any, url: str, question: str, before_sending: str | None = None) -> Any:
    """Open the chat page at ``url``, send ``question`` (after evaluating ``before_sending``); the answer's element."""
    page.goto(f"{url}/")
    page.wait_for_selector("body[data-state=idle]", timeout=15_000)
    if before_sending is not None:
        page.evaluate(before_sending)
    page.fill("#message", question)
    page.click("#send")
    answer = page.wait_for_selector("#messages .assistant[data-trace-id]", timeout=30_000)
    assert answer is not None
    return answer


def test_browser_and_backend_spans_form_one_trace(browser: Any, agent_url: str) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    console: list[tuple[str, str]] = []
    page.on("console", lambda message: console.append((message.type, message.text)))
    answer = ask(page, agent_url, KITCHEN)
    assert "Kitchen Ceiling Light" in answer.inner_text()
    assert page.locator("#tool-calls li").count() == 1
    trace_id = answer.get_attribute("data-trace-id")
    assert trace_id and len(trace_id) == 32
    assert page.get_attribute("#trace-link", "href") == f"/performance#{trace_id}"
    page.evaluate("window.haAgent.flushTraces()")

    def joined() -> dict[str, Any] | None:
        response = httpx.get(f"{agent_url}/api/v1/performance/traces/{trace_id}", timeout=5)
        if response.status_code != 200:
            return None
        trace: dict[str, Any] = response.json()
        names = {s["name"] for s in trace["spans"]}
        return trace if {"send_message", "api_call", CHAT_STREAM_SERVER_SPAN} <= names else None

    trace = poll(joined, 15, interval_s=0.2, what="browser and backend spans in one trace")
    spans = trace["spans"]
    browser_spans = [s for s in spans if s["service_name"] == BROWSER_SERVICE_NAME]
    backend_spans = [s for s in spans if s["service_name"] == SERVICE_NAME]
    assert {s["name"] for s in browser_spans} == {"send_message", "ui_update", "api_call"}
    assert sorted(s["attributes"].get("ui.action") for s in browser_spans if s["name"] == "ui_update") == [
        "add_assistant_response",
        "add_loading_message",
        "add_user_message",
    ]
    assert BACKEND_STAGES <= {s["name"] for s in backend_spans}
    # One trace id for all of them (the endpoint returned them under trace_id), and the links hold:
    api_call = next(s for s in browser_spans if s["name"] == "api_call")
    server = next(s for s in backend_spans if s["name"] == CHAT_STREAM_SERVER_SPAN)
    send = next(s for s in browser_spans if s["name"] == "send_message")
    assert server["parent_span_id"] == api_call["span_id"]
    assert api_call["parent_span_id"] == send["span_id"] and send["parent_span_id"] is None
    assert api_call["kind"] == "CLIENT" and api_call["attributes"]["api.operation"] == "streamChatMessage"
    assert [e["name"] for e in send["events"]] == [FIRST_TOKEN_EVENT, LAST_TOKEN_EVENT]
    # The page still writes the original report line, at info level, and nothing as an error.
    assert any(kind == "info" and text.startswith("[Performance] send_message_") for kind, text in console)
    assert not [text for kind, text in console if kind == "error"]

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat-page.png"))
    page.goto(f"{agent_url}/performance#{trace_id}")
    assert page.locator(f"details[id='{trace_id}']").get_attribute("open") is not None
    assert page.locator(".row.slowest").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "performance-page.png"), full_page=False)
    page.close()


@pytest.fixture(scope="module")
def paced_agent_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service with the embedded model writing a word every ``CHUNK_MS``."""
    env = {"HA_AGENT_LLM_STREAM_CHUNK_MS": str(CHUNK_MS)}
    with running_agent(tmp_path_factory.mktemp("paced-browser-agent"), env) as (url, _):
        yield url


#: Records, in the page's clock, when the answer's first words appeared and when the whole answer was shown.
WATCH_ANSWER = """() => {
  window.answerTimes = {};
  new MutationObserver(() => {
    const streaming = document.querySelector('#messages .assistant[data-streaming]');
    if (streaming && streaming.textContent && !window.answerTimes.firstWords) {
      window.answerTimes.firstWords = performance.now();
      window.answerTimes.firstText = streaming.textContent;
    }
    if (document.querySelector('#messages .assistant[data-trace-id]') && !window.answerTimes.answer) {
      window.answerTimes.answer = performance.now();
    }
  }).observe(document.getElementById('messages'), { childList: true, subtree: true, characterData: true });
}"""


def test_the_first_words_show_before_the_answer_ends(browser: Any, paced_agent_url: str) -> None:
    page = browser.new_page()
    answer = ask(page, paced_agent_url, KITCHEN, before_sending=WATCH_ANSWER)
    times = page.evaluate("window.answerTimes")
    words = answer.inner_text().split()
    assert times["firstText"] and answer.inner_text().startswith(times["firstText"].strip())
    # The whole answer came at least half the model's pace per remaining word after its first words.
    assert times["answer"] - times["firstWords"] >= 0.5 * (len(words) - 1) * CHUNK_MS, times
    assert page.locator("#messages .assistant").count() == 1
    page.close()


def test_the_page_asks_the_plain_route_when_the_stream_does_not_open(browser: Any, agent_url: str) -> None:
    page = browser.new_page()
    page.route("**/api/v1/chat/stream", lambda route: route.abort())
    answer = ask(page, agent_url, KITCHEN)
    assert "Kitchen Ceiling Light" in answer.inner_text()
    assert page.locator("#messages .error").count() == 0
    trace_id = answer.get_attribute("data-trace-id")
    page.evaluate("window.haAgent.flushTraces()")

    def both_calls() -> list[dict[str, Any]] | None:
        response = httpx.get(f"{agent_url}/api/v1/performance/traces/{trace_id}", timeout=5)
        spans: list[dict[str, Any]] = response.json()["spans"] if response.status_code == 200 else []
        calls = [s for s in spans if s["name"] == "api_call"]
        return spans if len(calls) == 2 and any(s["name"] == CHAT_SERVER_SPAN for s in spans) else None

    spans = poll(both_calls, 15, interval_s=0.2, what="the failed stream and the plain call in one trace")
    calls = {s["attributes"]["api.operation"]: s for s in spans if s["name"] == "api_call"}
    assert calls["streamChatMessage"]["attributes"]["success"] is False
    assert calls["sendChatMessage"]["attributes"]["success"] is True
    send = next(s for s in spans if s["name"] == "send_message")
    assert [e["name"] for e in send["events"]] == [FIRST_TOKEN_EVENT, LAST_TOKEN_EVENT]
    page.close()
