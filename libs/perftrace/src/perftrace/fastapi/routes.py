"""The ``/performance`` page and the JSON performance routes, read from a running ``PerformanceTracing``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from perftrace.analysis.report import StageStatistics, build_report
from perftrace.analysis.stages import find_operations
from perftrace.fastapi.contract import SERVER_ERROR, VALIDATION_ERROR, error_responses
from perftrace.fastapi.page import render_performance_page
from perftrace.formats.spans import TraceJson
from perftrace.paths import PAGE_PATH, REPORTS_PATH, STAGES_PATH, TRACES_PATH, page_urls
from perftrace.tracing.setup import TracingHandle
from perftrace.tracker import PerformanceTracker

#: Where ``PerformanceTracing.mount`` leaves, on ``app.state``, how the routes find the running tracing.
STATE_KEY = "perftrace"
#: Most traces one read returns.
MAX_TRACES_PER_READ = 1000


class MetricModel(BaseModel):
    """One stage of a report (the original tracker's shape); ``duration`` in seconds."""

    name: str
    duration: float | None
    metadata: dict[str, Any] = Field(default_factory=dict)


class ReportModel(BaseModel):
    """One report of ``get_tracker().export_reports()``; times in seconds."""

    operation: str
    total_duration: float
    timestamp: float
    trace_id: str | None = None
    metrics: list[MetricModel]


@dataclass(eq=False)
class RunningTracing:
    """What the routes read: the running tracing, and how the page presents it."""

    handle: TracingHandle
    tracker: PerformanceTracker
    service_name: str
    jaeger_url: str | None
    links: tuple[tuple[str, str], ...]
    input_token_budget: int | None = None


def running_tracing(request: Request) -> RunningTracing:
    """The dependency of every route here: the app's running tracing (a 503 before the lifespan starts it)."""
    source: Callable[[], RunningTracing | None] | None = getattr(request.app.state, STATE_KEY, None)
    state = source() if source is not None else None
    if state is None:
        raise HTTPException(503, "tracing is not running")
    return state


Running = Annotated[RunningTracing, Depends(running_tracing)]
TraceId = Annotated[str, Path(pattern="^[0-9a-fA-F]{32}$", description="32 hex digits")]
NOT_RUNNING = error_responses({503: "Tracing is not running (before the app's lifespan has started it)"})
router = APIRouter(tags=["performance"], responses={**NOT_RUNNING, **SERVER_ERROR})


@router.get(REPORTS_PATH, response_model=list[ReportModel])
async def reports(state: Running) -> object:
    """The original ``export_reports()``: one report per traced operation, newest last."""
    return state.tracker.export_reports()


@router.get(STAGES_PATH)
async def stages(state: Running) -> list[StageStatistics]:
    """p50/p95/p99 per stage over the kept requests: the same figures as the table on the page.

    Reports made by hand with ``create_report`` are in the reports route only.
    """
    return build_report(find_operations(state.handle.recent.traces(), state.service_name)).stages


@router.get(TRACES_PATH, responses=VALIDATION_ERROR)
async def traces(state: Running, limit: int = Query(100, ge=1, le=MAX_TRACES_PER_READ)) -> list[TraceJson]:
    """The kept traces, newest first."""
    return state.handle.recent.traces()[::-1][:limit]


@router.get(
    TRACES_PATH + "/{trace_id}",
    responses={**error_responses({404: "No kept trace has this id"}), **VALIDATION_ERROR},
)
async def one_trace(trace_id: TraceId, state: Running) -> TraceJson:
    """One kept trace by its 32-hex-digit id."""
    found = state.handle.recent.get_trace(int(trace_id, 16))
    if found is None:
        raise HTTPException(404, f"trace {trace_id} is not among the kept traces")
    return found


@router.get(PAGE_PATH, response_class=HTMLResponse)
async def performance_page(state: Running, request: Request) -> HTMLResponse:
    """Per-stage percentiles, the slowest requests' critical paths, the last traces' waterfalls.

    Its links and its script's calls are under the app's root path, so the page works behind a path prefix.
    """
    page = render_performance_page(
        state.handle.recent.traces()[::-1],
        service_name=state.service_name,
        urls=page_urls(request.scope.get("root_path", "")),
        jaeger_url=state.jaeger_url,
        links=state.links,
    )
    return HTMLResponse(page)
