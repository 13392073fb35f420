"""The /performance pictures in the real Chromium: they render, one row or colour per stage."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from perftrace.formats.snapshot import snapshot_to_json, write_snapshot
from perftrace.paths import PAGE_PATH
from perftrace.testing.synthetic import SERVICE, STAGES, synthetic_traces
from testsupport import prefixed_app
from testsupport.processes import running_agent, running_service

from tests.browser.test_chat_page import ARTIFACTS, KITCHEN, browser

__all__ = ["browser"]  # the Chromium fixture, shared with the chat page's tests
pytestmark = pytest.mark.browser
REQUESTS = 20


@pytest.fixture(scope="module")
def agent_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service after a few chats (each calls a tool, so every stage runs)."""
    with running_agent(tmp_path_factory.mktemp("charts-agent"), env={"HA_AGENT_LLM_LATENCY_MS": "30"}) as (url, _):
        for _ in range(REQUESTS):
            assert httpx.post(f"{url}/api/v1/chat", json={"message": KITCHEN}, timeout=30).status_code == 200
        yield url


def test_the_stage_charts_draw_every_stage_and_every_request(browser: Any, agent_url: str) -> None:
    stages = [s["name"] for s in httpx.get(f"{agent_url}/api/v1/performance/stages", timeout=10).json()]
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{agent_url}/performance")

    drawn = page.locator("#stage-distribution svg g.stage")
    assert [drawn.nth(i).get_attribute("data-stage") for i in range(drawn.count())] == stages
    assert page.locator("#stage-distribution svg circle").count() == sum(
        s["count"] for s in httpx.get(f"{agent_url}/api/v1/performance/stages", timeout=10).json()
    )
    assert page.locator("#stage-timeline svg g.request").count() == REQUESTS
    assert page.locator("#stage-timeline svg g.legend").count() == len(stages)
    assert page.locator(".row.slowest").count() >= 1  # the waterfalls stay
    assert errors == []
    page.close()


def snapshot_files(
    folder: Path, requests: int, figures: dict[str, float] | None = None, **slower: float
) -> tuple[Path, Path]:
    """Two snapshot files of synthetic traces, the second with the given stages (or figures) slower by those factors."""
    before, after = folder / "before.json", folder / "after.json"
    sides = (synthetic_traces(requests, 1, figures=figures), synthetic_traces(requests, 2, slower, figures=figures))
    for path, traces in zip((before, after), sides, strict=True):
        write_snapshot(snapshot_to_json(traces, service_name=SERVICE), path)
    return before, after


def test_the_compare_view_shows_the_slower_stage_of_two_dropped_snapshots(
    browser: Any, agent_url: str, tmp_path: Path
) -> None:
    figures = {"first token": 120.0, "input tokens": 1500, "output tokens": 60, "cost USD": 0.0003}
    before, after = snapshot_files(tmp_path, 100, figures, openai_api_call=1.3, **{"input tokens": 1.4})
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(f"{agent_url}/performance")

    page.set_input_files("#compare-before input", str(before))
    page.set_input_files("#compare-after input", str(after))
    page.wait_for_selector("#compare-chart svg g.stage", timeout=15_000)

    rows = page.locator("#compare-chart svg g.stage")
    verdicts = {
        rows.nth(i).get_attribute("data-stage"): rows.nth(i).get_attribute("data-verdict") for i in range(rows.count())
    }
    assert set(verdicts) == {"request", "first token", *figures} | {name for name, _ in STAGES}
    assert {name for name, verdict in verdicts.items() if verdict == "slower"} == {"request", "openai_api_call"}
    assert {name for name, verdict in verdicts.items() if verdict == "more"} == {"input tokens"}
    assert "before.json → after.json: 100 → 100 requests" in page.inner_text("#compare-status")
    ARTIFACTS.mkdir(exist_ok=True)
    # From the header to the compare view: the picture in the README (docs/performance-page.png).
    bottom = page.locator("#compare-chart").bounding_box()
    assert bottom is not None
    clip = {"x": 0, "y": 0, "width": 1200, "height": bottom["y"] + bottom["height"] + 16}
    page.screenshot(path=str(ARTIFACTS / "performance-charts.png"), full_page=True, clip=clip)
    page.close()


def test_an_unreadable_snapshot_is_named_in_the_compare_view(browser: Any, agent_url: str, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    write_snapshot(snapshot_to_json(synthetic_traces(10, seed=3), service_name=SERVICE), good)
    bad.write_text('{"format": "perftrace.snapshot", "version": 1, "traces": {}}', encoding="utf-8")
    page = browser.new_page()
    page.goto(f"{agent_url}/performance")

    page.set_input_files("#compare-before input", str(good))
    page.set_input_files("#compare-after input", str(bad))

    # The route checks both documents against the schema it publishes: a 422 naming the field.
    page.wait_for_function("document.getElementById('compare-status').textContent.includes('after.traces')")
    assert page.inner_text("#compare-status") == "body.after.traces: Input should be a valid list"
    page.close()


@pytest.fixture(scope="module")
def prefixed_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A service serving the library under a path prefix (``testsupport.prefixed_app``), after a few requests."""

    def command(port: int) -> list[str]:
        app = "testsupport.prefixed_app:create_app"
        return [sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1", "--port", str(port)]

    with running_service("prefixed-kitchen", command, tmp_path_factory.mktemp("prefixed"), {}) as (url, _):
        for _ in range(REQUESTS):
            assert httpx.get(f"{url}{prefixed_app.PREFIX}/work", timeout=10).status_code == 200
        yield url


def test_under_a_path_prefix_the_page_draws_and_compares_asking_only_under_it(
    browser: Any, prefixed_url: str, tmp_path: Path
) -> None:
    before, after = snapshot_files(tmp_path, 50, openai_api_call=1.5)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requested: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requested.append(urlsplit(request.url).path))
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{prefixed_url}{prefixed_app.PREFIX}{PAGE_PATH}")
    drawn = page.locator("#stage-distribution svg g.stage")
    assert [drawn.nth(i).get_attribute("data-stage") for i in range(drawn.count())] == list(prefixed_app.STAGES)
    assert page.locator("#stage-timeline svg g.request").count() == REQUESTS
    page.set_input_files("#compare-before input", str(before))
    page.set_input_files("#compare-after input", str(after))
    page.wait_for_selector("#compare-chart svg g.stage", timeout=15_000)

    assert page.locator('#compare-chart svg g.stage[data-verdict="slower"]').count() == 2  # request, openai_api_call
    assert len(requested) >= 4  # the page, its stylesheet, its two scripts, the compare call
    assert [path for path in requested if not path.startswith(f"{prefixed_app.PREFIX}/")] == []
    assert errors == []
    page.close()


def test_a_conversations_page_draws_each_turns_latency_and_input_tokens_under_the_budget(
    browser: Any, agent_url: str
) -> None:
    conversation_id = None
    for _ in range(3):
        body = {"message": KITCHEN, "conversation_id": conversation_id}
        response = httpx.post(f"{agent_url}/api/v1/chat", json=body, timeout=30)
        assert response.status_code == 200
        conversation_id = response.json()["conversation_id"]
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{agent_url}{PAGE_PATH}")

    page.click(f'#conversations ~ table tr[data-conversation-id="{conversation_id}"] a')
    page.wait_for_selector("#conversation-turns svg g.turn")

    assert page.locator("#conversation-turns svg g.turn").count() == 3
    points = page.get_attribute("#conversation-turns polyline.input-tokens", "points")
    assert len(points.split()) == 3  # a point per turn that reported its input tokens
    assert page.locator("#conversation-turns svg line.budget").count() == 1  # the service's input budget
    assert page.locator("table tr[data-trace-id]").count() == 3
    assert errors == []
    page.close()


def test_under_a_path_prefix_a_conversations_page_draws_asking_only_under_it(browser: Any, prefixed_url: str) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(urlsplit(request.url).path))
    page.goto(f"{prefixed_url}{prefixed_app.PREFIX}{PAGE_PATH}")

    page.click("#conversations ~ table tr[data-conversation-id] a")
    page.wait_for_selector("#conversation-turns svg g.turn")

    assert page.locator("#conversation-turns svg g.turn").count() == REQUESTS
    assert page.locator("#conversation-turns svg line.budget").count() == 0  # the service gave none
    assert [path for path in requested if not path.startswith(f"{prefixed_app.PREFIX}/")] == []
    page.close()
