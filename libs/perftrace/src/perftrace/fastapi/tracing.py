"""``PerformanceTracing``: what a FastAPI service writes to be traced and get ``/performance``.

tracing = PerformanceTracing(service_name="ai-automation")
app = FastAPI(lifespan=tracing.lifespan)
tracing.mount(app)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from typing import Any

import httpx
from fastapi import Depends, FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME
from opentelemetry.trace import Span

from perftrace.fastapi import conversation_routes, routes, snapshot_routes
from perftrace.fastapi.body_limit import BodyLimitMiddleware
from perftrace.fastapi.browser_endpoint import route as browser_route
from perftrace.fastapi.browser_endpoint.config import BrowserEndpointConfig
from perftrace.fastapi.browser_endpoint.otlp_json import OtlpExportTraceServiceRequest
from perftrace.fastapi.browser_endpoint.route import OTLP_PREFIX, BrowserEndpoint
from perftrace.fastapi.contract import complete_openapi, document_models, install_contract
from perftrace.fastapi.routes import RunningTracing
from perftrace.fastapi.snapshot_routes import CompareRequest
from perftrace.paths import API_PREFIX, COMPARE_PATH, PAGE_PATH, STATIC_PATH
from perftrace.ratelimit import SlidingWindowRateLimiter
from perftrace.tracing.logs import enable_log_correlation
from perftrace.tracing.setup import TracingConfig, TracingHandle, otlp_http_traces_endpoint, setup_tracing
from perftrace.tracker import install_tracker

#: Responses shorter than this are sent as they are: gzip would save less than it costs.
GZIP_MINIMUM_BYTES = 1000
#: Requests that would only fill the trace buffer with the viewer's own reads and the browser's exports.
_OWN_URLS = (PAGE_PATH, f"{API_PREFIX}/.*", f"{OTLP_PREFIX}/.*")


def drop_query_string(span: Span, scope: Mapping[str, Any]) -> None:
    """Keep query strings out of server spans: links carry tokens and e-mail addresses in them.

    The instrumentation records the full URL (``http.url``, ``http.target``; ``url.query`` in the stable
    conventions); overwrite them with the query-less form.
    """
    if not span.is_recording() or not scope.get("query_string"):
        return
    path = str(scope.get("path", ""))
    host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), "")
    span.set_attributes(
        {"http.target": path, "http.url": f"{scope.get('scheme', 'http')}://{host}{path}", "url.query": "REDACTED"}
    )


class PerformanceTracing:
    """Tracing for one FastAPI service: setup and shutdown, the page, the JSON routes, the browser endpoint.

    Args:
        service_name: the ``service.name`` used when ``OTEL_SERVICE_NAME`` names none; or give ``config``.
        config: every tracing setting (``TracingConfig``), instead of ``service_name`` alone.
        browser_endpoint: the browser endpoint (``POST /otlp/v1/traces``): the ``service.name`` values a
            browser may export spans under, limits, forwarding, rate limit. None: no browser endpoint.
        jaeger_url: a public Jaeger UI address; the page links each trace to it.
        links: (label, href) pairs for the page's header, e.g. ``(("chat", "/"),)``.
        untraced_urls: URL regexes of the service whose requests should make no server span (health probes,
            static files); the library's own routes are never traced.
        compare_max_body_bytes: the largest body ``POST /api/v1/performance/compare`` reads (else 413).
        input_token_budget: the most input tokens a request of the service may send its model; a
            conversation's page draws it above the input tokens of each turn.
    """

    def __init__(
        self,
        service_name: str | None = None,
        *,
        config: TracingConfig | None = None,
        browser_endpoint: BrowserEndpointConfig | None = None,
        jaeger_url: str | None = None,
        links: Iterable[tuple[str, str]] = (),
        untraced_urls: Iterable[str] = (),
        compare_max_body_bytes: int = 32 * 1024 * 1024,
        input_token_budget: int | None = None,
    ) -> None:
        if config is None:
            if not service_name:
                raise ValueError("PerformanceTracing needs a service_name (or a TracingConfig)")
            config = TracingConfig(service_name=service_name)
        elif service_name is not None and service_name != config.service_name:
            raise ValueError(f"service_name {service_name!r} differs from config's {config.service_name!r}")
        self.config = config
        self.browser_endpoint = browser_endpoint
        self.jaeger_url = jaeger_url
        self.links = tuple(links)
        self.untraced_urls = tuple(untraced_urls)
        self.compare_max_body_bytes = compare_max_body_bytes
        self.input_token_budget = input_token_budget
        self._running: RunningTracing | None = None
        self._endpoint: BrowserEndpoint | None = None

    @property
    def handle(self) -> TracingHandle | None:
        """The running tracing (provider, recent-traces buffer, exporter), or None outside the lifespan."""
        return self._running.handle if self._running else None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[TracingHandle]:
        """Start tracing, log correlation, the tracker and the browser endpoint; stop them, spans flushed, on exit.

        ``lifespan`` is this for an app; a service whose lifespan opens more resources enters it first, so
        that tracing is flushed last.
        """
        handle = setup_tracing(self.config)
        try:
            if self.config.installs:
                enable_log_correlation(handle.provider)
            service_name = str(handle.provider.resource.attributes.get(SERVICE_NAME, self.config.service_name))
            reports = max(1, self.config.recent_traces_max)
            tracker = install_tracker(handle.recent, service_name, max_reports=reports)
            async with AsyncExitStack() as stack:
                if (endpoint := self.browser_endpoint) is not None:
                    # Not instrumented: forwarding the browser's spans must not make spans of its own.
                    http = httpx.AsyncClient(timeout=endpoint.forward_timeout_seconds)
                    stack.push_async_callback(http.aclose)
                    self._endpoint = BrowserEndpoint(
                        config=endpoint,
                        forwarded_by=service_name,
                        forward_url=endpoint.forward_url or otlp_http_traces_endpoint(),
                        http=http,
                        limiter=SlidingWindowRateLimiter(endpoint.rate_limit_per_minute, 60.0),
                        recent=handle.recent,
                    )
                self._running = RunningTracing(
                    handle, tracker, service_name, self.jaeger_url, self.links, self.input_token_budget
                )
                try:
                    yield handle
                finally:
                    self._running = self._endpoint = None
        finally:
            handle.shutdown()

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        """The app's lifespan: tracing runs while the app does (``FastAPI(lifespan=tracing.lifespan)``)."""
        async with self.running():
            yield

    def mount(self, app: FastAPI, auth: Callable[..., Any] | None = None) -> None:
        """Add the page, the JSON routes and (if configured) the browser endpoint; trace the app.

        Responses of the app are gzipped for clients that accept it (the page of 100 traces is ~500 KB of HTML).
        With ``config.installs`` False (``OTEL_SDK_DISABLED=true``, or ``enabled=False``) the app is not traced.

        Args:
            app: the service's application.
            auth: the service's access dependency (e.g. one that checks a bearer token and raises a 401):
                every route mounted here depends on it, so they are protected as the service's own are.
        """
        setattr(app.state, routes.STATE_KEY, lambda: self._running)
        guarded = [Depends(auth)] if auth is not None else []
        # The routes declare their errors as ErrorBody; the contract makes every error of the app one.
        install_contract(app)
        if not getattr(app.state, "perftrace_gzip", False):
            app.state.perftrace_gzip = True
            app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES)
            limits = {COMPARE_PATH: self.compare_max_body_bytes}
            if self.browser_endpoint is not None:
                limits[browser_route.BROWSER_TRACES_PATH] = self.browser_endpoint.max_body_bytes
            app.add_middleware(BodyLimitMiddleware, max_bytes_by_path=limits)
        app.include_router(routes.router, dependencies=guarded)
        app.include_router(snapshot_routes.router, dependencies=guarded)
        app.include_router(conversation_routes.router, dependencies=guarded)
        # Again in pydantic's own form: FastAPI writes the 64-bit bounds as floats, which a client rounds past.
        document_models(app, CompareRequest)
        app.mount(STATIC_PATH, StaticFiles(packages=[("perftrace.fastapi", "static")]), name="perftrace-static")
        if self.browser_endpoint is not None:
            setattr(app.state, browser_route.STATE_KEY, lambda: self._endpoint)
            app.include_router(browser_route.router, dependencies=guarded)
            document_models(app, OtlpExportTraceServiceRequest)
            complete_openapi(app, partial(browser_route.document_endpoint, config=self.browser_endpoint))
        if not self.config.installs:
            return  # tracing off (or left to an agent): no middleware, not even a no-op one
        # The ASGI middleware's own "http send/receive" spans would outnumber a request's real work.
        FastAPIInstrumentor.instrument_app(
            app,
            excluded_urls=",".join((*self.untraced_urls, *_OWN_URLS)),
            exclude_spans=["receive", "send"],
            server_request_hook=drop_query_string,
        )
