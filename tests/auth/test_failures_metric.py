"""Refused credentials are counted by reason in a metric (exported when metrics have an endpoint)."""

from __future__ import annotations

import asyncio

from fastapi import HTTPException
from ha_ai_agent.auth.access import Access
from ha_ai_agent.auth.credentials import OwnTokens, new_token
from ha_ai_agent.auth.policy import AuthMode, ResolvedAuth
from ha_ai_agent.auth.sessions import Sessions
from ha_ai_agent.semconv import AUTH_FAILURE_REASON, AUTH_FAILURES_METRIC
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint
from perftrace.ratelimit import SlidingWindowRateLimiter

from tests.helpers import metric_points


def test_each_refusal_is_counted_with_its_reason_and_a_pass_is_not() -> None:
    reader = InMemoryMetricReader()
    token, digest = new_token()
    access = Access(
        auth=ResolvedAuth(AuthMode.TOKENS, "test"),
        own_tokens=OwnTokens([digest]),
        home_tokens=None,
        sessions=Sessions(60),
        limiter=SlidingWindowRateLimiter(2, 60.0),
        failures=MeterProvider(metric_readers=[reader]).get_meter("test").create_counter(AUTH_FAILURES_METRIC),
    )

    async def attempt(token: str | None) -> int:
        try:
            await access.admit("10.0.0.7", token, None)
        except HTTPException as refusal:
            return refusal.status_code
        return 200

    statuses = [asyncio.run(attempt(t)) for t in (None, "wrong", "wrong", "wrong", token)]

    assert statuses == [401, 401, 401, 429, 200]
    points = [p for p in metric_points(reader, AUTH_FAILURES_METRIC) if isinstance(p, NumberDataPoint)]
    counts = {str((p.attributes or {})[AUTH_FAILURE_REASON]): p.value for p in points}
    assert counts == {"missing": 1, "invalid": 2, "rate_limited": 1}
