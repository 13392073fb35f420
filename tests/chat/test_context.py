from __future__ import annotations

import httpx
import pytest
from ha_ai_agent.chat.context import HomeContext
from ha_ai_agent.home.client import HomeAssistantClient, HomeAssistantUnavailable
from ha_ai_agent.home.demo import DEMO_TOKEN, create_demo_home_app


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def demo_client(app: object) -> HomeAssistantClient:
    return HomeAssistantClient.create("http://demo", DEMO_TOKEN, transport=httpx.ASGITransport(app=app))  # type: ignore[arg-type]


async def test_context_sections_are_cached_for_their_ttl() -> None:
    clock = Clock()
    calls: list[str] = []
    app = create_demo_home_app()

    async def record(request: httpx.Request) -> None:
        calls.append(request.url.path)

    home = demo_client(app)
    home.http.event_hooks["request"].append(record)
    context = HomeContext(home, ttl_seconds=60, static_ttl_seconds=600, clock=clock)
    first = await context.sections()
    assert "Kitchen Ceiling Light" in first["devices"] and "light: toggle" in first["services"]
    assert sorted(calls) == ["/api/services", "/api/states", "/api/template"]  # states fetched once, shared
    calls.clear()
    assert await context.sections() == first and calls == []
    clock.now += 61  # devices/helpers expired, areas/services not
    await context.sections()
    assert calls == ["/api/states"]
    calls.clear()
    await context.sections(refresh=True)
    assert sorted(calls) == ["/api/services", "/api/states", "/api/template"]
    await home.aclose()


async def test_stale_section_is_served_when_home_assistant_is_down() -> None:
    clock = Clock()
    home = demo_client(create_demo_home_app())
    context = HomeContext(home, ttl_seconds=60, static_ttl_seconds=60, clock=clock)
    first = await context.sections()
    clock.now += 120

    async def down(request: httpx.Request) -> None:
        raise httpx.ConnectError("down")

    home.http.event_hooks["request"].append(down)
    assert await context.sections() == first
    with pytest.raises(HomeAssistantUnavailable):
        await HomeContext(home).sections()
    await home.aclose()
