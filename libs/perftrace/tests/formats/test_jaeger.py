"""Jaeger's query API read into records."""

from __future__ import annotations

from perftrace.formats.jaeger import traces_from_jaeger


def test_jaeger_api_payload_becomes_trace_records() -> None:
    payload = {
        "data": [
            {
                "traceID": "5b8efff798038103d269b633813fc60c",
                "processes": {"p1": {"serviceName": "kitchen-service"}},
                "spans": [
                    {
                        "spanID": "00000000000000aa",
                        "operationName": "POST /api/v1/chat",
                        "references": [],
                        "startTime": 1_700_000_000_000_000,
                        "duration": 50_000,
                        "processID": "p1",
                        "tags": [
                            {"key": "span.kind", "value": "server"},
                            {"key": "performance.operation", "value": "chat_request_1"},
                        ],
                    },
                    {
                        "spanID": "00000000000000bb",
                        "operationName": "openai_api_call",
                        "processID": "p1",
                        "references": [{"refType": "CHILD_OF", "spanID": "00000000000000aa"}],
                        "startTime": 1_700_000_000_010_000,
                        "duration": 30_000,
                        "tags": [{"key": "otel.status_code", "value": "ERROR"}],
                    },
                ],
            }
        ]
    }
    (trace,) = traces_from_jaeger(payload)
    root = trace.root
    assert root is not None and root.name == "POST /api/v1/chat" and root.kind == "SERVER"
    (child,) = trace.children_of(root.span_id)
    assert child.status == "ERROR" and child.duration_seconds == 0.03
    assert child.service_name == "kitchen-service"
