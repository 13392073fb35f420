"""Chats of every kind that tail sampling must tell apart, and what Jaeger kept of them.

The chats go to the real service, whose model is the OpenAI-compatible test server (testsupport.openai_server):
words in the message make a chat fail, slow or truncated. Each chat carries a ``traceparent`` made here, so the
test knows every trace id, also of the chats that fail (their error answer carries none).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from testsupport.backend_queries import jaeger_trace
from testsupport.openai_server import create_openai_app
from testsupport.servers import serve_in_thread

QUESTION = "What devices are in the kitchen?"
CHAT_SPAN = "POST /api/v1/chat"
#: The parent span every chat's server span claims: it is never exported, so a complete trace has one root.
CALLER_SPAN_ID = "00f067aa0ba902b7"


def messages(slow_ms: int) -> dict[str, str]:
    """The message of each kind of chat; ``slow_ms`` is how long a slow chat's model answer takes."""
    return {
        "normal": QUESTION,
        "error": f"{QUESTION} #error",
        "slow": f"{QUESTION} #slow={slow_ms}",
        "length": f"{QUESTION} #length",
        "content_filter": f"{QUESTION} #content_filter",
    }


@dataclass(frozen=True)
class SentChat:
    """One chat: its kind, the trace id it was sent under and the HTTP status of its answer."""

    kind: str
    trace_id: str
    status: int


@contextmanager
def service_env_with_test_model() -> Iterator[dict[str, str]]:
    """Run the test model server; yield the service's environment that points the real openai client at it."""
    with serve_in_thread(create_openai_app()) as url:
        yield {
            "OPENAI_BASE_URL": f"{url}/v1",
            "OPENAI_MODEL": "test-model",
            # A failed model call is retried by the client; once is enough to show the retry in the trace.
            "HA_AGENT_LLM_MAX_RETRIES": "1",
            "HA_AGENT_RATE_LIMIT_PER_MINUTE": "100000",
        }


def send(client: httpx.Client, url: str, kind: str, message: str) -> SentChat:
    """One chat under a fresh trace id (sampled flag set)."""
    trace_id = secrets.token_hex(16)
    headers = {"traceparent": f"00-{trace_id}-{CALLER_SPAN_ID}-01"}
    try:
        response = client.post(f"{url}/api/v1/chat", json={"message": message}, headers=headers, timeout=60.0)
        status = response.status_code
    except httpx.HTTPError:
        status = 0
    return SentChat(kind, trace_id, status)


def mixed_kinds(counts: Mapping[str, int], seed: int = 12) -> list[str]:
    """Every kind as often as ``counts`` says, in a shuffled (but repeatable) order."""
    kinds = [kind for kind, count in counts.items() for _ in range(count)]
    random.Random(seed).shuffle(kinds)
    return kinds


def complete_trace(jaeger_url: str, trace_id: str) -> bool | None:
    """None when Jaeger has no such trace; else whether it is whole: its server span in, and one root only."""
    spans = jaeger_trace(jaeger_url, trace_id)
    if not spans:
        return None
    ids = {span.span_id for span in spans}
    roots = [span for span in spans if span.parent_id not in ids]
    return any(span.name == CHAT_SPAN for span in spans) and [root.name for root in roots] == [CHAT_SPAN]
