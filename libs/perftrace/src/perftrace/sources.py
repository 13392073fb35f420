"""Traces read back from elsewhere, as ``TraceRecord``s.

Sources: the service's own ``/api/v1/performance/traces`` JSON and Jaeger's HTTP API. Pure conversions;
fetching is the caller's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from perftrace.records import SpanRecord, TraceRecord, attribute_map


def _id(value: str | None) -> int:
    return int(value, 16) if value else 0


def traces_from_viewer(payload: Iterable[Mapping[str, Any]]) -> list[TraceRecord]:
    """Traces as ``GET /api/v1/performance/traces`` returns them."""
    traces = []
    for trace in payload:
        trace_id = _id(trace["trace_id"])
        spans = tuple(
            SpanRecord(
                trace_id=trace_id,
                span_id=_id(s["span_id"]),
                parent_span_id=_id(s.get("parent_span_id")),
                parent_is_remote=False,
                name=s["name"],
                kind=s.get("kind", "INTERNAL"),
                service_name=s.get("service_name", ""),
                start_time_unix_nano=int(s["start_time_unix_nano"]),
                end_time_unix_nano=int(s["end_time_unix_nano"]),
                status=s.get("status", "UNSET"),
                status_message=s.get("status_message"),
                attributes=attribute_map(s.get("attributes")),
            )
            for s in trace["spans"]
        )
        traces.append(TraceRecord(trace_id, spans, int(trace.get("dropped_spans", 0))))
    return traces


def traces_from_jaeger(payload: Mapping[str, Any]) -> list[TraceRecord]:
    """Traces as Jaeger's ``GET /api/traces`` returns them (``{"data": [...]}``, times in microseconds)."""
    traces = []
    for trace in payload.get("data") or []:
        processes = {pid: p.get("serviceName", "") for pid, p in (trace.get("processes") or {}).items()}
        trace_id = _id(trace["traceID"])
        spans = []
        for span in trace.get("spans") or []:
            parent = next((r["spanID"] for r in span.get("references") or [] if r.get("refType") == "CHILD_OF"), None)
            tags = {t["key"]: t.get("value") for t in span.get("tags") or []}
            start = int(span["startTime"]) * 1000
            error = tags.get("otel.status_code") == "ERROR" or tags.get("error") is True
            spans.append(
                SpanRecord(
                    trace_id=trace_id,
                    span_id=_id(span["spanID"]),
                    parent_span_id=_id(parent),
                    parent_is_remote=False,
                    name=span["operationName"],
                    kind=str(tags.get("span.kind", "internal")).upper(),
                    service_name=processes.get(span.get("processID"), ""),
                    start_time_unix_nano=start,
                    end_time_unix_nano=start + int(span.get("duration", 0)) * 1000,
                    status="ERROR" if error else "UNSET",
                    status_message=tags.get("otel.status_description"),
                    attributes=attribute_map(tags),
                )
            )
        traces.append(TraceRecord(trace_id, tuple(spans)))
    return traces
