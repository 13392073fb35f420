"""Fault 10: PII and secrets canaries in prompts, headers and URLs never reach Jaeger.

One chat per channel carries an API key, a bearer token, an e-mail address and a card number; so does a
rejected (oversized) chat. Every trace is then read back from Jaeger as raw JSON and searched for each canary,
plain and URL-encoded. Message-content capture is not opted in (the default).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest
from ha_ai_agent.semconv import SERVICE_NAME
from testsupport.backend_queries import has_server_span, raw_trace
from testsupport.processes import poll, running_agent
from testsupport.reliability_results import Outcome, record
from testsupport.stack import Stack

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(300)]

API_KEY = "sk-canary0a1b2c3d4e5f6a7b8c9d"
BEARER = "canary-bearer-7f3a9e1d2c"
EMAIL = "canary.person@example.org"
CARD = "4111111111111111"
CARD_SPACED = "4111 1111 1111 1111"
CANARIES = {"API key": API_KEY, "bearer token": BEARER, "e-mail": EMAIL, "card number": CARD}
QUESTION = "What devices are in the kitchen?"
VISIBLE_TIMEOUT_SECONDS = 30.0
ENV = {"OTEL_SERVICE_NAME": SERVICE_NAME, "OTEL_BSP_SCHEDULE_DELAY": "500", "HA_AGENT_LLM_LATENCY_MS": "0"}


@dataclass(frozen=True)
class Channel:
    """Where the canaries travel in one request."""

    name: str
    message: str
    headers: dict[str, str]
    query: str
    status: int


CHANNELS = (
    Channel(
        "prompt", f"My key is {API_KEY}, token {BEARER}, mail {EMAIL}, card {CARD_SPACED}. {QUESTION}", {}, "", 200
    ),
    Channel(
        "headers",
        QUESTION,
        {"Authorization": f"Bearer {BEARER}", "X-Api-Key": API_KEY, "Cookie": f"email={EMAIL}; card={CARD}"},
        "",
        200,
    ),
    Channel("URL", QUESTION, {}, f"?api_key={API_KEY}&token={BEARER}&email={quote(EMAIL)}&card={CARD}", 200),
    Channel("rejected prompt", f"{API_KEY} {BEARER} {EMAIL} {CARD} " + "x" * 5000, {}, "", 400),
)


def forms(canary: str) -> set[str]:
    """The canary as text, URL-encoded, and (for the card) with spaces."""
    found = {canary, quote(canary), quote_plus(canary), quote(canary, safe="")}
    if canary == CARD:
        found.add(CARD_SPACED)
    return found


def occurrences(text: str) -> dict[str, int]:
    """How often each canary appears in the text, in any of its forms."""
    return {name: sum(text.count(form) for form in forms(canary)) for name, canary in CANARIES.items()}


def test_canaries_never_reach_jaeger(reliability_stack: Stack, tmp_path: Path) -> None:
    jaeger = reliability_stack.jaeger_query
    env = {**ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": reliability_stack.collector_otlp_http}
    found: dict[str, dict[str, int]] = {}
    with running_agent(tmp_path, env, tmp_path / "agent.log") as (url, _managed):
        for channel in CHANNELS:
            # Our own traceparent names the trace even for a rejected request (every trace is sampled here).
            trace_id = f"{random.getrandbits(128) | 1:032x}"
            headers = {**channel.headers, "traceparent": f"00-{trace_id}-00000000000000a1-01"}
            response = httpx.post(
                f"{url}/api/v1/chat{channel.query}", json={"message": channel.message}, headers=headers
            )
            assert response.status_code == channel.status, response.text
            poll(partial(has_server_span, jaeger, trace_id), VISIBLE_TIMEOUT_SECONDS, what=f"{channel.name} trace")
            found[channel.name] = occurrences(raw_trace(jaeger, trace_id))
    leaks = {
        channel: {name: count for name, count in counts.items() if count}
        for channel, counts in found.items()
        if any(counts.values())
    }
    total = sum(sum(counts.values()) for counts in found.values())
    record(
        Outcome(
            "10 PII and secrets canaries",
            f"{len(CHANNELS)} chats: canaries ({', '.join(CANARIES)}) in the prompt, in Authorization/X-Api-Key/"
            "Cookie headers, in the URL query, in a rejected oversized prompt",
            "occurrences in the traces Jaeger returns (0)",
            f"{total} occurrences" + (f": {leaks}" if leaks else ""),
            total == 0,
        )
    )
    assert total == 0, leaks
