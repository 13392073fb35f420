"""Reading the suite's traces back from Jaeger."""

from __future__ import annotations

import httpx

from tests.e2e.queries import HTTP_TIMEOUT_SECONDS, jaeger_trace

SERVER_SPAN = "POST /api/v1/chat"


def has_server_span(jaeger_url: str, trace_id: str) -> bool:
    """Whether Jaeger holds the trace with its server span (which ends last, after every stage)."""
    spans = jaeger_trace(jaeger_url, trace_id)
    return bool(spans) and any(span.name == SERVER_SPAN for span in spans or [])


def span_count(jaeger_url: str, trace_id: str) -> int:
    """How many spans of the trace Jaeger holds (0 when none)."""
    return len(jaeger_trace(jaeger_url, trace_id) or [])


def raw_trace(jaeger_url: str, trace_id: str) -> str:
    """The trace exactly as Jaeger's API returns it, for searching its whole text."""
    response = httpx.get(f"{jaeger_url}/api/traces/{trace_id}", timeout=HTTP_TIMEOUT_SECONDS)
    return response.text if response.status_code == 200 else ""
