"""``POST /otlp/v1/traces``: the same-origin endpoint a browser app exports its spans to.

Checking and rewriting is ``checks``'s (pure functions); this route reads the body (bounded), applies the
per-client rate limit, keeps the spans in the recent-traces buffer (so ``/performance`` shows browser and
backend spans together) and forwards them to the collector when one is configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response

from perftrace.fastapi.browser_endpoint.checks import JSON, PROTOBUF, ExportRejected, prepare_export
from perftrace.fastapi.browser_endpoint.config import BrowserEndpointConfig
from perftrace.fastapi.browser_endpoint.otlp_json import OtlpExportTraceServiceRequest
from perftrace.fastapi.contract import SERVER_ERROR, error_response, error_responses
from perftrace.formats.otlp import span_records
from perftrace.ratelimit import SlidingWindowRateLimiter, retry_after_header
from perftrace.tracing.recent import RecentTracesProcessor

#: Where browsers post their spans: an OTLP/HTTP exporter's base URL (its traces go to ``/v1/traces`` under it).
OTLP_PREFIX = "/otlp"
#: The path browsers export to (what a browser app's OTLP exporter is given as its URL).
BROWSER_TRACES_PATH = OTLP_PREFIX + "/v1/traces"
#: Where ``PerformanceTracing.mount`` leaves, on ``app.state``, how the route finds the running endpoint.
STATE_KEY = "perftrace_browser_endpoint"
COLLECTOR_RETRY_AFTER_SECONDS = "5"


@dataclass
class BrowserEndpoint:
    """What the route needs while the service runs (opened by ``PerformanceTracing``)."""

    config: BrowserEndpointConfig
    #: The receiving service's ``service.name``, marked on every resource it forwards.
    forwarded_by: str
    forward_url: str | None
    http: httpx.AsyncClient
    limiter: SlidingWindowRateLimiter
    recent: RecentTracesProcessor


def _accepted(content_type: str) -> Response:
    # An empty ExportTraceServiceResponse: "{}" in JSON, no bytes in protobuf.
    return Response(b"{}" if content_type == JSON else b"", media_type=content_type)


async def _forward(endpoint: BrowserEndpoint, url: str, body: bytes, content_type: str) -> Response:
    try:
        answer = await endpoint.http.post(url, content=body, headers={"Content-Type": PROTOBUF})
    except httpx.HTTPError:
        return error_response(503, "the trace collector is unreachable", {"Retry-After": COLLECTOR_RETRY_AFTER_SECONDS})
    if answer.status_code in (429, 502, 503, 504):
        retry = answer.headers.get("Retry-After", COLLECTOR_RETRY_AFTER_SECONDS)
        return error_response(503, "the trace collector is busy", {"Retry-After": retry})
    if answer.status_code >= 300:
        return error_response(502, f"the trace collector refused the export (HTTP {answer.status_code})")
    return _accepted(content_type)


async def _receive(request: Request, endpoint: BrowserEndpoint) -> Response:
    client = request.client.host if request.client else "unknown"
    wait = endpoint.limiter.acquire(client)
    if wait > 0:
        return error_response(429, "too many trace exports; slow down", {"Retry-After": retry_after_header(wait)})
    export = prepare_export(
        request.headers.get("content-type"),
        request.headers.get("content-encoding"),
        await request.body(),  # bounded by the app's BodyLimitMiddleware (413 past max_body_bytes)
        endpoint.config,
        forwarded_by=endpoint.forwarded_by,
    )
    if isinstance(export, ExportRejected):
        return error_response(export.status_code, export.message)
    endpoint.recent.add_records(span_records(export.request))
    if endpoint.forward_url is None:
        return _accepted(export.response_content_type)
    return await _forward(endpoint, endpoint.forward_url, export.body, export.response_content_type)


EXPORT_ERRORS = error_responses(
    {
        400: "The body is not what its headers say (gzip, JSON, OTLP protobuf), or does not match the schema",
        403: "A resource's service.name is not one browsers may export under",
        413: "The body (after gzip) is over the byte limit, or the export holds more spans than the limit",
        415: "The content type is not application/json or application/x-protobuf, or the encoding not gzip",
        429: "Too many exports from this client",
        502: "The collector refused the export",
        503: "Tracing is not running, or the collector is unreachable or busy",
    },
    retry_after=(429, 503),
)
#: A span as OpenTelemetry JS exports it, for the documentation's example.
_EXAMPLE_SPAN = {
    "traceId": "5b8efff798038103d269b633813fc60c",
    "spanId": "eee19b7ec3c1b174",
    "name": "api_call",
    "kind": 3,
    "startTimeUnixNano": "1764400000000000000",
    "endTimeUnixNano": "1764400000250000000",
}
#: ``requestBody`` of the operation: the route reads the raw body (JSON or protobuf), so FastAPI cannot infer it.
EXPORT_REQUEST_BODY = {
    "required": True,
    "description": "An OTLP/HTTP trace export, optionally `Content-Encoding: gzip`",
    "content": {
        JSON: {
            "schema": {"$ref": f"#/components/schemas/{OtlpExportTraceServiceRequest.__name__}"},
            "example": {
                "resourceSpans": [
                    {
                        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "browser-app"}}]},
                        "scopeSpans": [{"spans": [_EXAMPLE_SPAN]}],
                    }
                ]
            },
        },
        PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
    },
}
EXPORT_ACCEPTED: dict[int | str, Any] = {
    200: {
        "description": "Accepted: an empty ExportTraceServiceResponse in the request's format",
        "content": {JSON: {"schema": {"type": "object"}}, PROTOBUF: {"schema": {"type": "string", "format": "binary"}}},
    }
}

router = APIRouter(tags=["otlp"])


@router.post(
    BROWSER_TRACES_PATH,
    response_class=Response,
    responses={**EXPORT_ACCEPTED, **EXPORT_ERRORS, **SERVER_ERROR},
    openapi_extra={"requestBody": EXPORT_REQUEST_BODY},
)
async def receive_traces(request: Request) -> Response:
    """Accept a browser's OTLP/HTTP trace export (protobuf or JSON, optionally gzip).

    Only paths of this endpoint exist under ``/otlp``: anything else is a 404, another method a 405.
    """
    endpoint: BrowserEndpoint | None = getattr(request.app.state, STATE_KEY, lambda: None)()
    if endpoint is None:
        return error_response(503, "tracing is not running")
    return await _receive(request, endpoint)


def document_endpoint(document: dict[str, Any], config: BrowserEndpointConfig) -> None:
    """Put the configuration's limits and service names into the operation's documentation."""
    operation = document["paths"][BROWSER_TRACES_PATH]["post"]
    names = sorted(config.service_names)
    operation["description"] = (
        f"{operation.get('description', '')}\n\nAt most {config.max_spans} spans and {config.max_body_bytes} bytes "
        f"(after gzip) per export (else 413); resources may name the services {', '.join(names)} (else 403). "
        f"Attributes past {config.max_attributes_per_span} per span are dropped and values past "
        f"{config.max_attribute_chars} characters truncated, both counted."
    ).strip()
    example = operation["requestBody"]["content"][JSON]["example"]
    if names:
        example["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"] = names[0]
