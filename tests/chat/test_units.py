from __future__ import annotations

import httpx
import pytest
from ha_ai_agent.chat.context import HomeContext
from ha_ai_agent.chat.prompt import TokenBudgetExceeded, build_system_prompt, fit_history
from ha_ai_agent.chat.rate_limit import SlidingWindowRateLimiter, retry_after_header
from ha_ai_agent.home.client import HomeAssistantClient, HomeAssistantUnavailable
from ha_ai_agent.home.demo import DEMO_TOKEN, create_demo_home_app


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sliding_window_allows_limit_then_says_when() -> None:
    clock = Clock()
    limiter = SlidingWindowRateLimiter(3, 60.0, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now += 10
    wait = limiter.acquire("a")
    assert wait == pytest.approx(50.0)
    assert limiter.acquire("b") == 0.0  # per client
    clock.now += 50.01
    assert limiter.acquire("a") == 0.0  # the window slid past the first request
    assert retry_after_header(0.2) == "1" and retry_after_header(50.0) == "50"


def test_rate_limiter_forgets_the_least_recent_clients() -> None:
    limiter = SlidingWindowRateLimiter(1, 60.0, max_clients=2)
    limiter.acquire("a")
    limiter.acquire("b")
    limiter.acquire("c")
    assert limiter.acquire("a") == 0.0  # "a" was forgotten, so it is let in again


def history(turns: int) -> list[dict[str, object]]:
    messages: list[dict[str, object]] = []
    for i in range(turns):
        messages += [
            {"role": "user", "content": f"question {i} " + "x" * 400},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": f"c{i}", "type": "function", "function": {"name": "t", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": f"c{i}", "content": "y" * 400},
            {"role": "assistant", "content": "answer"},
        ]
    return messages


def test_history_is_trimmed_oldest_first_at_a_user_message() -> None:
    prompt = build_system_prompt({"areas": "Kitchen (kitchen)"})
    kept, breakdown = fit_history(prompt, history(20), "hello", max_input_tokens=1500)
    assert breakdown.within_budget and breakdown.total_tokens <= 1500
    assert kept and kept[0]["role"] == "user"
    assert kept[-1] == history(20)[-1]
    assert len(kept) < len(history(20))
    assert breakdown.total_tokens == breakdown.system_tokens + breakdown.history_tokens + breakdown.new_message_tokens


def test_message_that_cannot_fit_is_refused() -> None:
    with pytest.raises(TokenBudgetExceeded):
        fit_history("system", [], "x" * 10_000, max_input_tokens=1000)


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
