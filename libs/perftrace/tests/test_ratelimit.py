from __future__ import annotations

import pytest
from perftrace.ratelimit import SlidingWindowRateLimiter, retry_after_header


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
