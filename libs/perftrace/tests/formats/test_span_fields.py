"""Every field of ``SpanRecord`` (declared once) survives every format: buffer, snapshot, JSON routes, Jaeger, OTLP.

The span under test sets every field to a value that is not its default, so a field that one format drops or
does not read back shows here: adding a field to ``SpanRecord`` without it reaching a format fails this test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.trace import Status, StatusCode
from perftrace import SpanRecord, TraceRecord
from perftrace.fastapi import PerformanceTracing
from perftrace.formats.jaeger import traces_from_jaeger
from perftrace.formats.otlp import span_records
from perftrace.formats.snapshot import read_snapshot, snapshot_from_json, snapshot_to_json, write_snapshot
from perftrace.formats.spans import traces_from_json
from perftrace.tracing.records import SpanEvent

SERVICE = "pantry"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
#: Jaeger has no place for these: its reader leaves them at their default.
NOT_IN_JAEGER: dict[str, Any] = {"parent_is_remote": False}


@pytest.fixture
def client() -> Iterator[TestClient]:
    tracing = PerformanceTracing(service_name=SERVICE)
    app = FastAPI(lifespan=tracing.lifespan)
    tracing.mount(app)

    @app.get("/shelf")
    def shelf() -> dict[str, str]:
        span = trace.get_current_span()
        span.set_attributes({"shelf.sizes": (1, 2), "shelf.name": "top"})
        span.add_event("first_token", {"tokens": 3})
        span.set_status(Status(StatusCode.ERROR, "out of flour"))
        return {}

    with TestClient(app) as test_client:
        traceparent = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
        assert test_client.get("/shelf", headers={"traceparent": traceparent}).status_code == 200
        yield test_client


def kept_span(client: TestClient) -> tuple[TraceRecord, SpanRecord]:
    found = client.get(f"/api/v1/performance/traces/{TRACE_ID}")
    assert found.status_code == 200
    (trace_record,) = traces_from_json([found.json()])
    return trace_record, next(s for s in trace_record.spans if s.name == "GET /shelf")


def test_the_buffer_fills_every_field_and_the_json_route_gives_each_back(client: TestClient) -> None:
    _, span = kept_span(client)

    defaults = [name for name, value in span._asdict().items() if value in (0, "", None, False, (), {})]
    assert defaults == []  # the test span sets every field, so the checks below cover each one
    assert span.parent_is_remote and span.status == "ERROR" and span.status_message == "out of flour"
    assert span.attributes["shelf.sizes"] == (1, 2)
    assert [(e.name, dict(e.attributes)) for e in span.events] == [("first_token", {"tokens": 3})]


def test_the_snapshot_file_and_route_give_every_field_back(client: TestClient, tmp_path: Path) -> None:
    trace_record, span = kept_span(client)
    path = tmp_path / "snapshot.json"

    write_snapshot(snapshot_to_json([trace_record]), path)
    from_file = read_snapshot(path).traces
    from_route = snapshot_from_json(client.get("/api/v1/performance/snapshot").json()).traces

    assert from_file == [trace_record]
    assert span in next(t for t in from_route if t.trace_id == trace_record.trace_id).spans


def as_jaeger(trace_record: TraceRecord) -> dict[str, Any]:
    """The trace as Jaeger's query API writes it (its OTLP translation: times in µs, arrays as JSON text)."""

    def value(v: Any) -> Any:
        return json.dumps(list(v)) if isinstance(v, tuple) else v

    def tags(attributes: Any) -> list[dict[str, Any]]:
        return [{"key": k, "value": value(v)} for k, v in attributes.items()]

    spans = [
        {
            "spanID": s.span_id_hex,
            "operationName": s.name,
            "references": [{"refType": "CHILD_OF", "spanID": s.parent_span_id_hex}] if s.parent_span_id else [],
            "startTime": s.start_time_unix_nano // 1000,
            "duration": (s.end_time_unix_nano - s.start_time_unix_nano) // 1000,
            "tags": tags(s.attributes)
            + [{"key": "span.kind", "value": s.kind.lower()}, {"key": "otel.status_code", "value": s.status}]
            + ([{"key": "otel.status_description", "value": s.status_message}] if s.status_message else []),
            "logs": [
                {
                    "timestamp": e.time_unix_nano // 1000,
                    "fields": [{"key": "event", "value": e.name}, *tags(e.attributes)],
                }
                for e in s.events
            ],
            "processID": "p1",
        }
        for s in trace_record.spans
    ]
    return {
        "data": [{"traceID": trace_record.trace_id_hex, "spans": spans, "processes": {"p1": {"serviceName": SERVICE}}}]
    }


def jaeger_view(span: SpanRecord) -> SpanRecord:
    """What Jaeger keeps of a span: microseconds, arrays as JSON text, nothing of what it has no place for."""
    start = span.start_time_unix_nano // 1000 * 1000
    duration = (span.end_time_unix_nano - span.start_time_unix_nano) // 1000 * 1000

    def text(attributes: Any) -> dict[str, Any]:
        return {k: json.dumps(list(v)) if isinstance(v, tuple) else v for k, v in attributes.items()}

    events = tuple(SpanEvent(e.name, e.time_unix_nano // 1000 * 1000, text(e.attributes)) for e in span.events)
    return span._replace(
        start_time_unix_nano=start, end_time_unix_nano=start + duration, attributes=text(span.attributes), events=events
    )._replace(**NOT_IN_JAEGER)


def test_the_jaeger_reader_gives_every_field_jaeger_keeps_back(client: TestClient) -> None:
    trace_record, span = kept_span(client)

    (from_jaeger,) = traces_from_jaeger(as_jaeger(trace_record))

    read = next(s for s in from_jaeger.spans if s.span_id == span.span_id)
    assert read == jaeger_view(span)
    assert set(NOT_IN_JAEGER) < set(SpanRecord._fields)


def as_otlp(trace_record: TraceRecord) -> ExportTraceServiceRequest:
    """The trace as an OTLP exporter sends it (protobuf; what Tempo's JSON and a browser's export become)."""

    def attributes(values: Any) -> list[dict[str, Any]]:
        def value(v: Any) -> dict[str, Any]:
            if isinstance(v, tuple):
                return {"array_value": {"values": [value(item) for item in v]}}
            return {"int_value": v} if isinstance(v, int) else {"string_value": v}

        return [{"key": k, "value": value(v)} for k, v in values.items()]

    spans = [
        {
            "trace_id": s.trace_id.to_bytes(16, "big"),
            "span_id": s.span_id.to_bytes(8, "big"),
            "parent_span_id": s.parent_span_id.to_bytes(8, "big"),
            "name": s.name,
            "kind": f"SPAN_KIND_{s.kind}",
            "start_time_unix_nano": s.start_time_unix_nano,
            "end_time_unix_nano": s.end_time_unix_nano,
            "attributes": attributes(s.attributes),
            "events": [
                {"time_unix_nano": e.time_unix_nano, "name": e.name, "attributes": attributes(e.attributes)}
                for e in s.events
            ],
            "status": {"code": f"STATUS_CODE_{s.status}", "message": s.status_message or ""},
        }
        for s in trace_record.spans
    ]
    resource = {"attributes": attributes({"service.name": SERVICE})}
    resource_spans: list[Any] = [{"resource": resource, "scope_spans": [{"spans": spans}]}]  # upb takes dicts
    return ExportTraceServiceRequest(resource_spans=resource_spans)


def test_the_otlp_reader_gives_every_field_otlp_keeps_back(client: TestClient) -> None:
    trace_record, span = kept_span(client)

    read = next(s for s in span_records(as_otlp(trace_record)) if s.span_id == span.span_id)

    assert read == span._replace(parent_is_remote=False)  # OTLP spans carry no parent_is_remote
