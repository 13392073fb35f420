"""Everything the routes use, opened by the app's lifespan (or the CLI) and closed with it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
from openai import AsyncOpenAI
from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import NoOpTracerProvider, TracerProvider
from perftrace import PerformanceTracker, TracingHandle, get_tracker
from perftrace.fastapi import PerformanceTracing
from perftrace.ratelimit import SlidingWindowRateLimiter
from starlette.applications import Starlette

from ha_ai_agent.auth.access import Access
from ha_ai_agent.auth.credentials import HomeAssistantTokens, OwnTokens
from ha_ai_agent.auth.policy import AuthMode
from ha_ai_agent.auth.sessions import Sessions
from ha_ai_agent.chat.context import HomeContext
from ha_ai_agent.chat.pipeline import ChatAgent
from ha_ai_agent.chat.tools import ToolExecutor
from ha_ai_agent.chat.usage import ChatMetrics
from ha_ai_agent.config import Settings
from ha_ai_agent.home.client import HomeAssistantClient
from ha_ai_agent.home.demo import DEMO_TOKEN, DemoHome, create_demo_home_app
from ha_ai_agent.home.effects import EffectWatcher
from ha_ai_agent.home.exposure import Exposure, websocket_exposure
from ha_ai_agent.home.state_changes import StateChangeStream
from ha_ai_agent.llm.client import create_llm_client
from ha_ai_agent.redaction import ContentRedactingProcessor, content_capture_on
from ha_ai_agent.semconv import AUTH_FAILURES_METRIC
from ha_ai_agent.store.conversations import ConversationStore

DEMO_HOME_URL = "http://demo-home"
#: How long start-up waits for the embedded demo home's state changes (in-process: milliseconds).
DEMO_STREAM_WAIT_SECONDS = 2.0
#: Requests that would only fill the trace buffer: health probes and the chat page's files.
UNTRACED_URLS = ("/health", "/static/.*", "/favicon.ico")


@dataclass
class Runtime:
    """The open resources of one running service."""

    settings: Settings
    tracing: TracingHandle
    tracker: PerformanceTracker
    store: ConversationStore
    home: HomeAssistantClient
    llm: AsyncOpenAI
    agent: ChatAgent
    access: Access
    #: Watches what service calls do in the home (None when off or untraced).
    effects: EffectWatcher | None = None


def performance_tracing(settings: Settings) -> PerformanceTracing:
    """The tracing library as this service uses it: its settings, the browser app's spans, the chat page link."""
    return PerformanceTracing(
        config=settings.tracing(),
        browser_endpoint=settings.browser_endpoint,
        jaeger_url=settings.jaeger_url,
        links=(("chat", "/"),),
        untraced_urls=UNTRACED_URLS,
    )


def _home(settings: Settings) -> tuple[str, str, Starlette | None]:
    """Home Assistant's address and token, and the demo home's app when there is no Home Assistant."""
    if settings.ha_url:
        return settings.ha_url, settings.ha_token.get_secret_value() if settings.ha_token else "", None
    return DEMO_HOME_URL, DEMO_TOKEN, create_demo_home_app(DEMO_TOKEN)


async def _watch_effects(
    settings: Settings, url: str, token: str, app: Starlette | None, stack: AsyncExitStack
) -> EffectWatcher:
    """The effect watcher and its WebSocket connection to Home Assistant, closed with the stack."""
    effects = EffectWatcher(settings.effect_timeout_seconds)
    effects.stream = StateChangeStream(url, token, effects.on_state, app=app)
    stack.push_async_callback(effects.aclose)
    effects.stream.start()
    if app is not None:
        await effects.stream.wait_connected(DEMO_STREAM_WAIT_SECONDS)
    return effects


def _open_access(settings: Settings, tracing: TracingHandle, stack: AsyncExitStack) -> Access:
    auth = settings.resolved_auth()
    home_tokens = None
    if auth.mode is AuthMode.HOME_ASSISTANT and settings.ha_url:
        # Not instrumented: the check carries the user's token, and its spans would only repeat the cache's work.
        http = httpx.AsyncClient(timeout=settings.ha_timeout_seconds)
        stack.push_async_callback(http.aclose)
        home_tokens = HomeAssistantTokens(http, settings.ha_url, settings.auth_cache_seconds)
    meters = tracing.meter_provider or NoOpMeterProvider()
    return Access(
        auth=auth,
        own_tokens=OwnTokens(settings.auth_token_hashes),
        home_tokens=home_tokens,
        sessions=Sessions(settings.auth_session_hours * 3600),
        limiter=SlidingWindowRateLimiter(settings.auth_failures_per_minute, 60.0),
        failures=meters.get_meter(__name__).create_counter(
            AUTH_FAILURES_METRIC, description="Requests refused for their credential, by reason"
        ),
    )


def _exposure(settings: Settings) -> Exposure:
    """What a real Home Assistant exposes to conversation agents (the demo home exposes everything)."""
    if not settings.ha_url:
        return Exposure(None, 0)
    token = settings.ha_token.get_secret_value() if settings.ha_token else ""
    source = websocket_exposure(settings.ha_url, token, settings.ha_timeout_seconds)
    return Exposure(source, settings.context_areas_ttl_seconds)


@asynccontextmanager
async def open_runtime(settings: Settings, performance: PerformanceTracing) -> AsyncIterator[Runtime]:
    """Start tracing, open the store and the clients; close all of it, tracing flushed last.

    Each resource registers its closer as soon as it is open, so a start-up that fails half way (an
    unwritable data directory, say) still flushes tracing and removes the instrumentation it installed.
    """
    async with AsyncExitStack() as stack:
        tracing = await stack.enter_async_context(performance.running())
        # Decided once, here: off (OTEL_SDK_DISABLED=true) or left to an agent, no instrumentation is installed
        # and every component gets a provider that makes nothing, so no span of our own.
        traced = settings.installs_tracing
        provider: TracerProvider = tracing.provider if traced else NoOpTracerProvider()
        if traced and content_capture_on():  # message content opted in: never with secrets or addresses
            tracing.provider.add_span_processor(ContentRedactingProcessor())
        if traced:
            OpenAIInstrumentor().instrument(tracer_provider=provider, meter_provider=tracing.meter_provider)
            stack.callback(OpenAIInstrumentor().uninstrument)
        store = ConversationStore(settings.database_path, provider)
        store.open()
        stack.callback(store.close)
        url, token, demo_app = _home(settings)
        transport = httpx.ASGITransport(app=demo_app) if demo_app is not None else None
        home = HomeAssistantClient.create(url, token, settings.ha_timeout_seconds, transport)
        stack.push_async_callback(home.aclose)
        if demo_app is not None:
            demo_home: DemoHome = demo_app.state.home
            stack.callback(demo_home.close)
        if traced:
            HTTPXClientInstrumentor.instrument_client(home.http, tracer_provider=provider)
        llm = create_llm_client(
            api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
            base_url=settings.openai_base_url,
            timeout_seconds=settings.llm_timeout_seconds,
            max_retries=settings.llm_max_retries,
            embedded_latency_ms=settings.llm_latency_ms,
            embedded_stream_chunk_ms=settings.llm_stream_chunk_ms,
        )
        stack.push_async_callback(llm.close)
        context = HomeContext(
            home,
            settings.context_ttl_seconds,
            settings.context_static_ttl_seconds,
            areas_ttl_seconds=settings.context_areas_ttl_seconds,
            tracer_provider=provider,
        )
        effects = None
        if traced and settings.effect_timeout_seconds > 0:
            effects = await _watch_effects(settings, url, token, demo_app, stack)
        agent = ChatAgent(
            store=store,
            context=context,
            tools=ToolExecutor(home, context, _exposure(settings), effects),
            llm=llm,
            model=settings.openai_model,
            rate_limiter=SlidingWindowRateLimiter(settings.rate_limit_per_minute, 60.0),
            max_input_tokens=settings.max_input_tokens,
            max_iterations=settings.max_iterations,
            tracer_provider=provider,
            confirm_seconds=settings.confirm_seconds,
            prices=settings.price_table(),
            metrics=ChatMetrics(tracing.meter_provider),
        )
        access = _open_access(settings, tracing, stack)
        yield Runtime(settings, tracing, get_tracker(), store, home, llm, agent, access, effects)
