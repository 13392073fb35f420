"""The test support reads Tempo's trace-by-id answer through the library's OTLP reader, in both id spellings.

Tempo itself is not run here (see tests/e2e/conftest.py); this serves its answer's two shapes over HTTP: the
``batches`` of older versions with base64 ids, and ``trace.resourceSpans`` with hex ids.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi import FastAPI
from perftrace import SpanRecord
from perftrace.tracing.records import SpanEvent
from testsupport.backend_queries import tempo_trace
from testsupport.servers import serve_in_thread

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
ROOT, CHILD = "00f067aa0ba902b7", "53995c3f42cd8ad8"


def b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def tempo_span(span_id: str, parent: str, name: str, ids: Any) -> dict[str, Any]:
    return {
        "traceId": ids(TRACE_ID),
        "spanId": ids(span_id),
        "parentSpanId": ids(parent) if parent else "",
        "name": name,
        "kind": "SPAN_KIND_SERVER" if not parent else "SPAN_KIND_INTERNAL",
        "startTimeUnixNano": "1764400000000000000",
        "endTimeUnixNano": "1764400000250000000",
        "attributes": [{"key": "gen_ai.usage.input_tokens", "value": {"intValue": "42"}}],
        "events": [{"timeUnixNano": "1764400000100000000", "name": "first_token"}],
        "status": {"code": "STATUS_CODE_ERROR", "message": "boom"} if not parent else {},
    }


def tempo_answer(ids: Any, envelope: str) -> dict[str, Any]:
    resource = {
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "ha-ai-agent"}}]},
        "scopeSpans": [{"scope": {"name": "x"}, "spans": [tempo_span(ROOT, "", "POST /api/v1/chat", ids)]}],
    }
    older = {**resource, "scopeSpans": [{"spans": [tempo_span(CHILD, ROOT, "message_assembly", ids)]}]}
    if envelope == "batches":
        return {"batches": [resource, older]}
    return {"trace": {"resourceSpans": [resource, older]}}


@pytest.mark.parametrize(("ids", "envelope"), [(b64, "batches"), (str, "trace")], ids=["base64", "hex"])
def test_tempo_answers_read_as_records_with_every_field_tempo_keeps(ids: Any, envelope: str) -> None:
    app = FastAPI()

    @app.get("/api/traces/{trace_id}")
    def trace(trace_id: str) -> dict[str, Any]:
        return tempo_answer(ids, envelope) if trace_id == TRACE_ID else {}

    with serve_in_thread(app) as url:
        spans = tempo_trace(url, TRACE_ID)

    assert spans is not None
    root, child = spans
    assert root == SpanRecord(
        trace_id=int(TRACE_ID, 16),
        span_id=int(ROOT, 16),
        parent_span_id=0,
        parent_is_remote=False,
        name="POST /api/v1/chat",
        kind="SERVER",
        service_name="ha-ai-agent",
        start_time_unix_nano=1764400000000000000,
        end_time_unix_nano=1764400000250000000,
        status="ERROR",
        status_message="boom",
        attributes={"gen_ai.usage.input_tokens": 42},
        events=(SpanEvent("first_token", 1764400000100000000, {}),),
    )
    assert (child.parent_span_id, child.kind, child.status) == (int(ROOT, 16), "INTERNAL", "UNSET")


def test_a_trace_tempo_does_not_have_yet_is_none() -> None:
    app = FastAPI()

    @app.get("/api/traces/{trace_id}")
    def trace(trace_id: str) -> dict[str, Any]:
        return {"batches": []}

    with serve_in_thread(app) as url:
        assert tempo_trace(url, TRACE_ID) is None
