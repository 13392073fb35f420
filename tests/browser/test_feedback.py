"""Real Chromium, real service process: a thumbs-down with a comment on an answer is stored, is in the answer's
trace, and shows on /performance: among the disliked answers, and on the conversation's page."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from ha_ai_agent.semconv import (
    CHAT_FEEDBACK,
    CHAT_STREAM_SERVER_SPAN,
    FEEDBACK_EVENT,
    GEN_AI_EVALUATION_EXPLANATION,
    GEN_AI_EVALUATION_SCORE_LABEL,
    THUMBS_DOWN,
)
from perftrace.paths import PAGE_PATH
from testsupport.processes import poll

from tests.browser.test_chat_page import ARTIFACTS, KITCHEN, agent_url, browser

__all__ = ["agent_url", "browser"]

pytestmark = pytest.mark.browser

COMMENT = "It forgot the fridge"


def test_a_thumbs_down_on_an_answer_is_stored_with_it_and_recorded_in_its_trace(browser: Any, agent_url: str) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.goto(f"{agent_url}/")
    page.wait_for_selector("body[data-state=idle]", timeout=15_000)
    page.fill("#message", KITCHEN)
    page.click("#send")
    answer = page.locator("#messages .assistant").last
    answer.locator(".thumb.down").click(timeout=30_000)
    page.wait_for_selector(f"#messages .assistant[data-feedback={THUMBS_DOWN}]", timeout=15_000)
    assert answer.locator(".thumb.down").get_attribute("aria-pressed") == "true"
    assert answer.locator(".thumb.up").get_attribute("aria-pressed") == "false"
    answer.locator(".feedback-comment input").fill(COMMENT)
    answer.locator(".feedback-comment button").click()
    page.wait_for_selector("#messages .assistant[data-feedback-comment=sent]", timeout=15_000)
    assert answer.locator(".feedback-status").inner_text() == "Thanks for the feedback"
    assert answer.locator(".feedback-comment input").get_attribute("maxlength") == "500"
    trace_id = answer.get_attribute("data-trace-id")
    assert trace_id and len(trace_id) == 32
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat-feedback.png"))

    # On /performance: among the answers users disliked, and from there on the conversation's page.
    page.goto(f"{agent_url}{PAGE_PATH}")
    disliked = page.locator(f'#disliked ~ table tr[data-trace-id="{trace_id}"]')
    assert disliked.count() == 1
    assert CHAT_FEEDBACK not in disliked.inner_text()  # the verdict's span is in the trace, but no stage of it
    disliked.locator("a").first.click()
    turn = page.locator(f'table tr[data-trace-id="{trace_id}"]')
    turn.wait_for(timeout=15_000)
    assert turn.locator("td.feedback").inner_text() == THUMBS_DOWN
    assert "1 disliked" in page.locator("#conversation-totals").inner_text()
    page.screenshot(path=str(ARTIFACTS / "conversation-feedback.png"))
    page.close()

    # In the stored conversation: on the answer, with the comment.
    conversations = httpx.get(f"{agent_url}/api/v1/conversations", timeout=5).json()["conversations"]
    stored: list[dict[str, Any]] = []
    for conversation in conversations:
        messages = httpx.get(f"{agent_url}/api/v1/conversations/{conversation['id']}", timeout=5).json()["messages"]
        stored += [m for m in messages if m["trace_id"] == trace_id]
    assert [(m["role"], m["feedback"], m["feedback_comment"]) for m in stored] == [("assistant", THUMBS_DOWN, COMMENT)]

    # In the answer's trace: one verdict span per post (the click, then the comment), under the server span,
    # the last one thumbs-down; the comment itself is not exported (content capture is off).
    def verdicts() -> list[dict[str, Any]] | None:
        response = httpx.get(f"{agent_url}/api/v1/performance/traces/{trace_id}", timeout=5)
        spans: list[dict[str, Any]] = response.json()["spans"] if response.status_code == 200 else []
        found = [s for s in spans if s["name"] == CHAT_FEEDBACK]
        return spans if len(found) == 2 else None

    spans = poll(verdicts, 15, interval_s=0.2, what="the verdict spans in the answer's trace")
    server = next(s for s in spans if s["name"] == CHAT_STREAM_SERVER_SPAN)  # the page streams its answers
    found = sorted((s for s in spans if s["name"] == CHAT_FEEDBACK), key=lambda s: s["start_time_unix_nano"])
    assert {s["parent_span_id"] for s in found} == {server["span_id"]}
    events = [event for span in found for event in span["events"]]
    assert [(e["name"], e["attributes"][GEN_AI_EVALUATION_SCORE_LABEL]) for e in events] == [
        (FEEDBACK_EVENT, THUMBS_DOWN),
        (FEEDBACK_EVENT, THUMBS_DOWN),
    ]
    assert not [e for e in events if GEN_AI_EVALUATION_EXPLANATION in e["attributes"]]
    assert COMMENT not in str(spans)
