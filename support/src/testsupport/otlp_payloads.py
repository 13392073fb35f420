"""OTLP/JSON trace exports as a browser sends them to the service's ``/otlp/v1/traces``."""

from __future__ import annotations

from typing import Any

from ha_ai_agent.semconv import BROWSER_SERVICE_NAME

TRACE_ID = "5b8efff798038103d269b633813fc60c"
JSON_HEADERS = {"content-type": "application/json"}


def json_export(
    service: str = BROWSER_SERVICE_NAME,
    spans: int = 1,
    trace_id: str = TRACE_ID,
    attributes: list[dict[str, Any]] | None = None,
    span_id: str | None = None,
) -> dict[str, Any]:
    """An OTLP/JSON export of ``spans`` spans of ``service``, one trace."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "test"},
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": span_id or f"{i + 1:016x}",
                                "name": "ui_update",
                                "kind": 1,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000005000000",
                                "attributes": attributes
                                or [{"key": "ui.action", "value": {"stringValue": "add_user_message"}}],
                            }
                            for i in range(spans)
                        ],
                    }
                ],
            }
        ]
    }
