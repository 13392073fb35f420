"""Everything the routes use, opened by the app's lifespan (or the CLI) and closed with it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
from openai import AsyncOpenAI
from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from perftrace import PerformanceTracker, TracingHandle, get_tracker
from perftrace.fastapi import PerformanceTracing
from perftrace.ratelimit import SlidingWindowRateLimiter

from ha_ai_agent.chat.context import HomeContext
from ha_ai_agent.chat.pipeline import ChatAgent
from ha_ai_agent.chat.tools import ToolExecutor
from ha_ai_agent.chat.usage import ChatMetrics
from ha_ai_agent.config import Settings
from ha_ai_agent.home.client import HomeAssistantClient
from ha_ai_agent.home.demo import DEMO_TOKEN, create_demo_home_app
from ha_ai_agent.llm.client import create_llm_client
from ha_ai_agent.redaction import ContentRedactingProcessor, content_capture_on
from ha_ai_agent.store.conversations import ConversationStore

DEMO_HOME_URL = "http://demo-home"
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


def performance_tracing(settings: Settings) -> PerformanceTracing:
    """The tracing library as this service uses it: its settings, the browser app's spans, the chat page link."""
    return PerformanceTracing(
        config=settings.tracing(),
        browser_service_names=settings.shim_service_names,
        browser=settings.browser_endpoint(),
        jaeger_url=settings.jaeger_url,
        links=(("chat", "/"),),
        untraced_urls=UNTRACED_URLS,
    )


def _home_client(settings: Settings) -> HomeAssistantClient:
    if settings.ha_url:
        token = settings.ha_token.get_secret_value() if settings.ha_token else ""
        return HomeAssistantClient.create(settings.ha_url, token, settings.ha_timeout_seconds)
    transport = httpx.ASGITransport(app=create_demo_home_app(DEMO_TOKEN))
    return HomeAssistantClient.create(DEMO_HOME_URL, DEMO_TOKEN, settings.ha_timeout_seconds, transport)


@asynccontextmanager
async def open_runtime(settings: Settings, performance: PerformanceTracing) -> AsyncIterator[Runtime]:
    """Start tracing, open the store and the clients; close all of it, tracing flushed last.

    Each resource registers its closer as soon as it is open, so a start-up that fails half way (an
    unwritable data directory, say) still flushes tracing and removes the instrumentation it installed.
    """
    async with AsyncExitStack() as stack:
        tracing = await stack.enter_async_context(performance.running())
        # Off (OTEL_SDK_DISABLED=true) or left to an agent: no instrumentation and no span of our own.
        traced = settings.installs_tracing
        if traced and content_capture_on():  # message content opted in: never with secrets or addresses
            tracing.provider.add_span_processor(ContentRedactingProcessor())
        if traced:
            OpenAIInstrumentor().instrument(tracer_provider=tracing.provider, meter_provider=tracing.meter_provider)
            stack.callback(OpenAIInstrumentor().uninstrument)
        store = ConversationStore(settings.database_path, tracing.provider, traced=traced)
        store.open()
        stack.callback(store.close)
        home = _home_client(settings)
        stack.push_async_callback(home.aclose)
        if traced:
            HTTPXClientInstrumentor.instrument_client(home.http, tracer_provider=tracing.provider)
        llm = create_llm_client(
            api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
            base_url=settings.openai_base_url,
            timeout_seconds=settings.llm_timeout_seconds,
            max_retries=settings.llm_max_retries,
            embedded_latency_ms=settings.llm_latency_ms,
        )
        stack.push_async_callback(llm.close)
        context = HomeContext(
            home,
            settings.context_ttl_seconds,
            settings.context_static_ttl_seconds,
            areas_ttl_seconds=settings.context_areas_ttl_seconds,
            traced=traced,
        )
        agent = ChatAgent(
            store=store,
            context=context,
            tools=ToolExecutor(home, context),
            llm=llm,
            model=settings.openai_model,
            rate_limiter=SlidingWindowRateLimiter(settings.rate_limit_per_minute, 60.0),
            max_input_tokens=settings.max_input_tokens,
            max_iterations=settings.max_iterations,
            traced=traced,
            prices=settings.price_table(),
            metrics=ChatMetrics(tracing.meter_provider),
        )
        yield Runtime(settings, tracing, get_tracker(), store, home, llm, agent)
