"""Fault 10: PII and secrets canaries in prompts, headers and URLs never reach Jaeger.

One chat per channel carries an API key, a bearer token, an e-mail address and a card number; so does a
rejected (oversized) chat. Every trace is then read back from Jaeger as raw JSON and searched for each canary,
plain and URL-encoded. Message-content capture is not opted in (the default). Row 10b opts in: prompts and
answers are exported, with the canaries in them redacted. Row 10c: a user's feedback comment carrying the canaries
never reaches Jaeger while capture is off, though the verdict does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from ha_ai_agent.semconv import CHAT_FEEDBACK, GEN_AI_EVALUATION_SCORE_LABEL, SERVICE_NAME, THUMBS_DOWN
from opentelemetry.util.genai.environment_variables import (
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT as CAPTURE_CONTENT,
)
from testsupport.backend_queries import has_server_span, jaeger_trace, raw_trace
from testsupport.openai_server import create_openai_app
from testsupport.pii_canaries import API_KEY, BEARER, CANARIES, CARD, CARD_SPACED, EMAIL, occurrences
from testsupport.processes import poll, running_agent
from testsupport.reliability_results import Outcome, record
from testsupport.servers import serve_in_thread
from testsupport.stack import Stack

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(300)]

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


def test_canaries_in_captured_content_are_redacted(reliability_stack: Stack, tmp_path: Path) -> None:
    """Content capture opted in: prompts and answers reach Jaeger, the canaries in them do not."""
    jaeger = reliability_stack.jaeger_query
    served: list[dict[str, object]] = []
    prompt = CHANNELS[0].message.replace(QUESTION, f"{QUESTION} #echo")
    with serve_in_thread(create_openai_app(served)) as model_url:
        env = {
            **ENV,
            "OTEL_EXPORTER_OTLP_ENDPOINT": reliability_stack.collector_otlp_http,
            "OPENAI_BASE_URL": f"{model_url}/v1",
            CAPTURE_CONTENT: "span_only",
        }
        traces = []
        with running_agent(tmp_path, env, tmp_path / "agent.log") as (url, _managed):
            conversation_id = None
            for _ in range(2):  # the second turn sends the first one's prompt and answer again, as history
                trace_id = f"{random.getrandbits(128) | 1:032x}"
                response = httpx.post(
                    f"{url}/api/v1/chat",
                    json={"message": prompt, "conversation_id": conversation_id},
                    headers={"traceparent": f"00-{trace_id}-00000000000000a1-01"},
                    timeout=30,
                )
                assert response.status_code == 200, response.text
                assert EMAIL in response.json()["message"]  # the answer echoes the canaries to the user
                conversation_id = response.json()["conversation_id"]
                poll(partial(has_server_span, jaeger, trace_id), VISIBLE_TIMEOUT_SECONDS, what="captured trace")
                traces.append(raw_trace(jaeger, trace_id))
    captured = sum(text.count("#echo") for text in traces)
    counts = [occurrences(text) for text in traces]
    total = sum(sum(c.values()) for c in counts)
    record(
        Outcome(
            "10b PII canaries, content capture on",
            f"{CAPTURE_CONTENT}=span_only; 2 chats of one conversation whose prompt carries the canaries "
            f"({', '.join(CANARIES)}) and whose answer echoes them (OpenAI-compatible test server)",
            "prompts and answers in Jaeger; canary occurrences in them (0)",
            f"{captured} captured copies of the prompt; {total} canary occurrences",
            total == 0 and captured > 0,
        )
    )
    assert captured > 0, "message content was not captured"
    assert total == 0, counts


def test_a_feedback_comment_never_reaches_jaeger_without_content_capture(
    reliability_stack: Stack, tmp_path: Path
) -> None:
    jaeger = reliability_stack.jaeger_query
    env = {**ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": reliability_stack.collector_otlp_http}
    marker = "#feedback-comment"
    comment = f"{marker} {API_KEY} {BEARER} {EMAIL} {CARD}"
    trace_id = f"{random.getrandbits(128) | 1:032x}"
    with running_agent(tmp_path, env, tmp_path / "agent.log") as (url, _managed):
        answered = httpx.post(
            f"{url}/api/v1/chat",
            json={"message": QUESTION},
            headers={"traceparent": f"00-{trace_id}-00000000000000a1-01"},
            timeout=30,
        )
        assert answered.status_code == 200, answered.text
        verdict = httpx.post(f"{url}/api/v1/chat/{trace_id}/feedback", json={"score": "down", "comment": comment})
        assert verdict.status_code == 200 and verdict.json()["comment"] == comment, verdict.text  # stored whole

        def verdict_in_jaeger() -> bool:
            return any(span.name == CHAT_FEEDBACK for span in jaeger_trace(jaeger, trace_id) or [])

        poll(verdict_in_jaeger, VISIBLE_TIMEOUT_SECONDS, what="the verdict span in Jaeger")
    text = raw_trace(jaeger, trace_id)
    labels = [
        event.attributes.get(GEN_AI_EVALUATION_SCORE_LABEL)
        for span in jaeger_trace(jaeger, trace_id) or []
        if span.name == CHAT_FEEDBACK
        for event in span.events
    ]
    counts = occurrences(text)
    leaked = text.count(marker) + sum(counts.values())
    record(
        Outcome(
            "10c feedback comment, content capture off",
            f"1 chat, then a thumbs-down whose comment carries a marker and the canaries ({', '.join(CANARIES)}); "
            "capture not opted in",
            "the verdict in the answer's trace in Jaeger; occurrences of the comment's marker and canaries (0)",
            f"verdicts in Jaeger: {labels}; {text.count(marker)} markers, {sum(counts.values())} canary occurrences",
            labels == [THUMBS_DOWN] and leaked == 0,
        )
    )
    assert labels == [THUMBS_DOWN]
    assert leaked == 0, counts
