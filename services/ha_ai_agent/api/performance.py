"""The built-in viewer: reports, stage statistics and traces from the in-memory buffer."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse
from perftrace.analysis import build_report
from perftrace.records import TraceRecord

from ha_ai_agent.api.deps import RuntimeDep
from ha_ai_agent.api.performance_page import render_performance_page

router = APIRouter(tags=["performance"])


def trace_to_dict(trace: TraceRecord) -> dict[str, Any]:
    """A trace as JSON: ids in hex, times in epoch nanoseconds and milliseconds."""
    root = trace.root
    return {
        "trace_id": trace.trace_id_hex,
        "root_name": root.name if root else None,
        "duration_ms": trace.duration_seconds * 1000,
        "start_time_unix_nano": trace.start_time_unix_nano,
        "span_count": len(trace.spans),
        "dropped_spans": trace.dropped_spans,
        "status": "ERROR" if any(s.status == "ERROR" for s in trace.spans) else "OK",
        "services": sorted({s.service_name for s in trace.spans}),
        "spans": [
            {
                "span_id": s.span_id_hex,
                "parent_span_id": s.parent_span_id_hex,
                "name": s.name,
                "kind": s.kind,
                "service_name": s.service_name,
                "start_time_unix_nano": s.start_time_unix_nano,
                "end_time_unix_nano": s.end_time_unix_nano,
                "duration_ms": s.duration_seconds * 1000,
                "status": s.status,
                "status_message": s.status_message,
                "attributes": s.attributes_dict(),
            }
            for s in sorted(trace.spans, key=lambda s: s.start_time_unix_nano)
        ],
    }


@router.get("/api/v1/performance/reports")
async def reports(runtime: RuntimeDep) -> list[dict[str, Any]]:
    """The original ``export_reports()``: one report per chat request, newest last."""
    return runtime.tracker.export_reports()


@router.get("/api/v1/performance/stages")
async def stages(runtime: RuntimeDep) -> list[dict[str, Any]]:
    """p50/p95/p99 per stage over the kept chat requests: the same figures as the table on ``/performance``.

    Reports made by hand with the old ``create_report`` API are in ``/api/v1/performance/reports`` only.
    """
    report = build_report(runtime.tracing.recent.traces(), runtime.service_name)
    return [asdict(s) for s in report.stages]


@router.get("/api/v1/performance/traces")
async def traces(runtime: RuntimeDep, limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
    """The kept traces, newest first."""
    kept = runtime.tracing.recent.traces()[::-1][:limit]
    return [trace_to_dict(t) for t in kept]


@router.get("/api/v1/performance/traces/{trace_id}")
async def one_trace(trace_id: str, runtime: RuntimeDep) -> dict[str, Any]:
    """One kept trace by its 32-hex-digit id."""
    try:
        key = int(trace_id, 16)
    except ValueError:
        raise HTTPException(400, "trace_id must be 32 hex digits") from None
    found = runtime.tracing.recent.get_trace(key)
    if found is None:
        raise HTTPException(404, f"trace {trace_id} is not among the kept traces")
    return trace_to_dict(found)


@router.get("/performance", response_class=HTMLResponse)
async def performance_page(runtime: RuntimeDep) -> HTMLResponse:
    """Per-stage percentiles, the slowest requests' critical paths, the last traces' waterfalls."""
    kept = runtime.tracing.recent.traces()[::-1]
    bottlenecks = build_report(kept, runtime.service_name)
    page = render_performance_page(kept, bottlenecks, runtime.settings.jaeger_url, runtime.service_name)
    return HTMLResponse(page)
