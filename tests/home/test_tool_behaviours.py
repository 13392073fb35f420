"""What the tools do with Home Assistant behaviours a real one shows (the demo home copies them) and with the
failures only a fake can be made to show on demand (a slow service call, a 5xx)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from ha_ai_agent.app import create_app
from ha_ai_agent.chat.context import HomeContext
from ha_ai_agent.chat.tools import ToolExecutor
from ha_ai_agent.config import Settings
from ha_ai_agent.home.client import HomeAssistantClient, HomeAssistantUnavailable
from ha_ai_agent.home.demo import DEMO_TOKEN, create_demo_home_app
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from testsupport.servers import serve_in_thread


def executor(app: Any, timeout_seconds: float = 10.0) -> ToolExecutor:
    home = HomeAssistantClient.create(
        "http://demo", DEMO_TOKEN, timeout_seconds, transport=httpx.ASGITransport(app=app)
    )
    return ToolExecutor(home, HomeContext(home, areas_ttl_seconds=60))


@pytest.fixture
async def demo() -> AsyncIterator[tuple[ToolExecutor, Any]]:
    app = create_demo_home_app()
    tools = executor(app)
    yield tools, app.state.home
    await tools.home.aclose()


async def test_intermediate_states_are_folded_to_the_last(demo: tuple[ToolExecutor, Any]) -> None:
    tools, _ = demo
    # An unlock is held for the user's yes when the model asks for it (issue 24); the yes makes this call.
    result = await tools.call_service("lock", "unlock", "lock.garage_side_door", {})
    assert [(c["entity_id"], c["state"]) for c in result["changed"]] == [("lock.garage_side_door", "unlocked")]


async def test_a_call_that_changes_nothing_reports_the_current_state(demo: tuple[ToolExecutor, Any]) -> None:
    tools, _ = demo
    result = await tools.execute(
        "call_service", {"domain": "light", "service": "turn_on", "entity_id": "light.kitchen_ceiling"}
    )
    assert result["changed"] == []
    assert [(u["name"], u["state"]) for u in result["unchanged"]] == [("Kitchen Ceiling Light", "on")]


async def test_refusals_name_the_service_and_what_it_did_not_accept(demo: tuple[ToolExecutor, Any]) -> None:
    tools, _ = demo
    unknown = await tools.execute(
        "call_service", {"domain": "light", "service": "explode", "entity_id": "light.garage"}
    )
    assert unknown["error"] == "Home Assistant has no service light.explode"
    too_bright = await tools.execute(
        "call_service",
        {"domain": "light", "service": "turn_on", "entity_id": "light.garage", "data": {"brightness_pct": 300}},
    )
    assert too_bright["error"] == "Home Assistant refused light.turn_on: it does not accept brightness_pct=300"
    assert "400" not in too_bright["error"]


async def test_an_area_added_in_home_assistant_is_found_at_once(demo: tuple[ToolExecutor, Any]) -> None:
    tools, home = demo
    assert (await tools.get_entities(area="kitchen"))["count"] == 6  # areas now cached
    home.areas["garden"] = "Garden"
    home.entity_areas["light.garage"] = "garden"
    result = await tools.get_entities(area="garden")
    assert [e["entity_id"] for e in result["entities"]] == ["light.garage"]
    assert result["area_name"] == "Garden"


async def test_entities_in_no_area_are_found_by_the_area_name_in_theirs(demo: tuple[ToolExecutor, Any]) -> None:
    tools, home = demo
    home.entity_areas["cover.living_room_blinds"] = None  # like a real entity that has no registry entry
    result = await tools.get_entities(area="living_room", domain="cover")
    assert [e["entity_id"] for e in result["entities"]] == ["cover.living_room_blinds"]
    assert [e["entity_id"] for e in (await tools.get_entities(area="kitchen", domain="cover"))["entities"]] == []


def slow_or_failing_home(delay_s: float, status: int = 200) -> Starlette:
    async def call(request: Request) -> Response:
        await asyncio.sleep(delay_s)
        return JSONResponse([], status_code=status)

    async def states(request: Request) -> Response:
        return JSONResponse([])

    return Starlette(
        routes=[
            Route("/api/services/{d}/{s}", call, methods=["POST"]),
            Route("/api/states", states),
            Route("/api/template", states, methods=["POST"]),
        ]
    )


async def test_a_slow_service_call_is_pending_not_unreachable() -> None:
    with serve_in_thread(slow_or_failing_home(delay_s=1.0)) as url:  # real sockets: the timeout is httpx's
        home = HomeAssistantClient.create(url, DEMO_TOKEN, timeout_seconds=0.2)
        tools = ToolExecutor(home, HomeContext(home))
        result = await tools.execute("call_service", {"domain": "light", "service": "turn_on", "entity_id": "light.x"})
    assert result["pending"] is True
    assert "still carrying out light.turn_on" in result["message"] and "0.2 s" in result["message"]
    assert "unreachable" not in str(result)
    await tools.home.aclose()


async def test_a_5xx_is_unavailable() -> None:
    tools = executor(slow_or_failing_home(delay_s=0, status=502))
    with pytest.raises(HomeAssistantUnavailable, match="HTTP 502"):
        await tools.execute("call_service", {"domain": "light", "service": "turn_on", "entity_id": "light.x"})
    await tools.home.aclose()


def slow_services(app: Any, delay_s: float) -> Any:
    """The demo home, its service calls taking ``delay_s`` (as a real one holds the call while the service runs)."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/services/") and scope["method"] == "POST":
            await asyncio.sleep(delay_s)
        await app(scope, receive, send)

    return wrapped


def test_a_slow_service_call_gets_an_answer_that_says_so(settings: Settings) -> None:
    with serve_in_thread(slow_services(create_demo_home_app(), delay_s=1.5)) as url:
        slow = settings.model_copy(update={"ha_url": url, "ha_token": SecretStr(DEMO_TOKEN), "ha_timeout_seconds": 0.5})
        with TestClient(create_app(slow)) as client:
            body = client.post("/api/v1/chat", json={"message": "Turn on the garage light"}).json()
    assert body["message"] == (
        "Home Assistant is still carrying out light.turn_on: it had not finished after 0.5 s and goes on with it "
        "by itself. Ask me again in a moment to see the result."
    )
    assert "unreachable" not in body["message"]
