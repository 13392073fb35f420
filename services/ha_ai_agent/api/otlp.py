"""``POST /otlp/v1/traces``: the same-origin endpoint the browser exports its spans to (the shim).

Checking and rewriting is done by ``telemetry.forwarding``; this route reads the body (bounded), applies
the per-client rate limit, keeps the spans in the local buffer (so ``/performance`` shows browser and
backend spans together) and forwards them to the collector when one is configured.
"""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from perftrace.browser_export import JSON, PROTOBUF, ExportRejected, prepare_export, span_records

from ha_ai_agent.api.deps import RuntimeDep, client_key
from ha_ai_agent.chat.rate_limit import retry_after_header

router = APIRouter(tags=["otlp"])
COLLECTOR_RETRY_AFTER_SECONDS = "5"


def _error(status_code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status_code, headers=headers)


async def _read_bounded(request: Request, max_bytes: int) -> bytes | None:
    """The body, or None as soon as it is longer than ``max_bytes`` (never buffers more)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _accepted(content_type: str) -> Response:
    # An empty ExportTraceServiceResponse: "{}" in JSON, no bytes in protobuf.
    return Response(b"{}" if content_type == JSON else b"", media_type=content_type)


@router.post("/otlp/v1/traces")
async def receive_traces(request: Request, runtime: RuntimeDep) -> Response:
    """Accept a browser's OTLP/HTTP trace export (protobuf or JSON, optionally gzip)."""
    settings = runtime.settings
    wait = runtime.shim_limiter.acquire(client_key(request))
    if wait > 0:
        return _error(429, "too many trace exports; slow down", {"Retry-After": retry_after_header(wait)})
    body = await _read_bounded(request, settings.shim_max_body_bytes)
    if body is None:
        return _error(413, f"body is over the {settings.shim_max_body_bytes}-byte limit")
    export = prepare_export(
        "/v1/traces",
        request.headers.get("content-type"),
        request.headers.get("content-encoding"),
        body,
        settings.export_limits(),
    )
    if isinstance(export, ExportRejected):
        return _error(export.status_code, export.message)
    runtime.tracing.recent.add_records(span_records(export.request))
    forward_url = settings.shim_forward_url()
    if forward_url is None:
        return _accepted(export.response_content_type)
    try:
        answer = await runtime.shim_http.post(forward_url, content=export.body, headers={"Content-Type": PROTOBUF})
    except httpx.HTTPError:
        return _error(503, "the trace collector is unreachable", {"Retry-After": COLLECTOR_RETRY_AFTER_SECONDS})
    if answer.status_code in (429, 502, 503, 504):
        retry = answer.headers.get("Retry-After", COLLECTOR_RETRY_AFTER_SECONDS)
        return _error(503, "the trace collector is busy", {"Retry-After": retry})
    if answer.status_code >= 300:
        return _error(502, f"the trace collector refused the export (HTTP {answer.status_code})")
    return _accepted(export.response_content_type)


@router.api_route("/otlp/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def unknown_otlp_path(path: str) -> Response:
    """Only traces are accepted from browsers."""
    return _error(404, f"unknown OTLP path /otlp/{path[:100]}; browsers export traces to /otlp/v1/traces")
