"""The first token, end to end: Chromium's chat page, the service, the collector and Jaeger.

One streamed chat is one trace in Jaeger that holds the three moments a reader's wait is made of: the
model's first chunk reached the service (the LLM span's ``gen_ai.response.time_to_first_chunk``), the
answer's first words left the service (``first_token`` on the server span), and they were put on the page
(``first_token`` on the browser's ``send_message``), in that order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ha_ai_agent.semconv import CHAT_STREAM_SERVER_SPAN, LLM_CHAT_SPAN_PREFIX
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK
from perftrace import FIRST_TOKEN_EVENT, LAST_TOKEN_EVENT, SpanRecord
from testsupport.backend_queries import jaeger_trace
from testsupport.processes import poll, running_agent
from testsupport.stack import AGENT_ENV, Stack

from tests.browser.test_chat_page import KITCHEN, ask, browser

__all__ = ["browser"]  # the Chromium fixture, shared with the chat page's tests
pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(600)]

#: The embedded model's pace: the first words come a chunk after the first chunk (the role).
CHUNK_MS = 20


@pytest.fixture(scope="module")
def paced_agent(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """ha-ai-agent exporting to the test collector, its embedded model writing a word every ``CHUNK_MS``."""
    env = {
        **AGENT_ENV,
        "OTEL_EXPORTER_OTLP_ENDPOINT": stack.collector_otlp_http,
        "HA_AGENT_LLM_STREAM_CHUNK_MS": str(CHUNK_MS),
    }
    with running_agent(tmp_path_factory.mktemp("first-token-agent"), env, stack.log_dir / "first-token.log") as (
        url,
        managed,
    ):
        stack.processes.append(managed)
        yield url


def event_time(span: SpanRecord, name: str) -> int:
    """When the span's event ``name`` happened (Unix ns); fails if the span has none."""
    times = [event.time_unix_nano for event in span.events if event.name == name]
    assert times, f"{span.name} has no {name} event: {[e.name for e in span.events]}"
    return times[0]


def test_one_trace_in_jaeger_holds_the_first_chunk_the_first_byte_and_the_first_paint(
    stack: Stack, browser: Any, paced_agent: str
) -> None:
    page = browser.new_page()
    answer = ask(page, paced_agent, KITCHEN)
    trace_id = str(answer.get_attribute("data-trace-id"))
    page.evaluate("window.haAgent.flushTraces()")
    page.close()

    def whole() -> list[SpanRecord] | None:
        spans = jaeger_trace(stack.jaeger_query, trace_id) or []
        names = {span.name for span in spans}
        return spans if {"send_message", CHAT_STREAM_SERVER_SPAN} <= names else None

    spans = poll(whole, 30, interval_s=0.5, what=f"browser and service spans of {trace_id} in Jaeger")
    send = next(s for s in spans if s.name == "send_message")
    server = next(s for s in spans if s.name == CHAT_STREAM_SERVER_SPAN)
    answering = max((s for s in spans if s.name.startswith(LLM_CHAT_SPAN_PREFIX)), key=lambda s: s.start_time_unix_nano)
    first_chunk = (
        answering.start_time_unix_nano + float(answering.attributes[GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]) * 1e9
    )
    first_byte = event_time(server, FIRST_TOKEN_EVENT)
    first_paint = event_time(send, FIRST_TOKEN_EVENT)
    assert first_chunk < first_byte < first_paint, (first_chunk, first_byte, first_paint)
    # The last words too, each after its first; the page's last words before the page's span ends.
    assert event_time(server, LAST_TOKEN_EVENT) > first_byte
    assert first_paint < event_time(send, LAST_TOKEN_EVENT) <= send.end_time_unix_nano
