from __future__ import annotations

import httpx
import pytest
from ha_ai_agent.home.client import HomeAssistantClient, HomeAssistantError, HomeAssistantUnavailable
from ha_ai_agent.home.demo import DEMO_TOKEN, create_demo_home_app


def demo_home(token: str = DEMO_TOKEN) -> HomeAssistantClient:
    transport = httpx.ASGITransport(app=create_demo_home_app(DEMO_TOKEN))
    return HomeAssistantClient.create("http://demo", token, transport=transport)


async def test_reads_states_services_and_areas_of_the_demo_home() -> None:
    home = demo_home()
    assert await home.ping() is True
    states = await home.get_states()
    assert states and all("entity_id" in s for s in states)
    first = states[0]["entity_id"]
    assert (await home.get_state(first) or {}).get("entity_id") == first
    assert await home.get_state("light.does_not_exist") is None
    assert any(s.get("domain") == "light" for s in await home.get_services())
    assert any(a.get("entities") for a in await home.get_areas())
    await home.aclose()


async def test_a_wrong_token_is_an_error_not_an_outage() -> None:
    home = demo_home(token="wrong")
    with pytest.raises(HomeAssistantError) as raised:
        await home.get_states()
    assert not isinstance(raised.value, HomeAssistantUnavailable) and "401" in str(raised.value)
    assert await home.ping() is False
    await home.aclose()


async def test_unreachable_home_assistant_is_unavailable() -> None:
    home = HomeAssistantClient.create("http://127.0.0.1:9", "token", timeout_seconds=2)
    with pytest.raises(HomeAssistantUnavailable):
        await home.get_states()
    await home.aclose()
