"""Everything the routes use, opened by the app's lifespan (or the CLI) and closed with it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
from openai import AsyncOpenAI
from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import TracerProvider

from ha_ai_agent.chat.context import HomeContext
from ha_ai_agent.chat.pipeline import ChatAgent
from ha_ai_agent.chat.rate_limit import SlidingWindowRateLimiter
from ha_ai_agent.chat.tools import ToolExecutor
from ha_ai_agent.config import Settings
from ha_ai_agent.home.client import HomeAssistantClient
from ha_ai_agent.home.demo import DEMO_TOKEN, create_demo_home_app
from ha_ai_agent.llm.client import create_llm_client
from ha_ai_agent.store.conversations import ConversationStore
from ha_ai_agent.telemetry import RecentTracesProcessor, TracingHandle, setup_tracing
from ha_ai_agent.telemetry.log_correlation import enable_log_correlation
from ha_ai_agent.telemetry.performance_tracker import PerformanceTracker, install_tracker
from ha_ai_agent.telemetry.setup import build_resource

DEMO_HOME_URL = "http://demo-home"


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
    shim_http: httpx.AsyncClient
    shim_limiter: SlidingWindowRateLimiter

    @property
    def service_name(self) -> str:
        """The ``service.name`` of this process's spans."""
        return str(self.tracing.provider.resource.attributes.get("service.name", "ha-ai-agent"))


def _home_client(settings: Settings) -> HomeAssistantClient:
    if settings.ha_url:
        token = settings.ha_token.get_secret_value() if settings.ha_token else ""
        return HomeAssistantClient.create(settings.ha_url, token, settings.ha_timeout_seconds)
    transport = httpx.ASGITransport(app=create_demo_home_app(DEMO_TOKEN))
    return HomeAssistantClient.create(DEMO_HOME_URL, DEMO_TOKEN, settings.ha_timeout_seconds, transport)


def _start_tracing(settings: Settings) -> TracingHandle:
    """Tracing as the settings ask; when the service installs none, a handle whose buffer stays empty."""
    config = settings.tracing()
    if settings.installs_tracing:
        return setup_tracing(config)
    # Nothing is installed: this provider is never made global and has no processor; the routes that read
    # the buffer answer with nothing.
    provider = TracerProvider(resource=build_resource(config))
    return TracingHandle(provider, RecentTracesProcessor(), None, False, config.shutdown_timeout_millis)


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Start tracing, open the store and the clients; close all of it, tracing flushed last.

    Each resource registers its closer as soon as it is open, so a start-up that fails half way (an
    unwritable data directory, say) still flushes tracing and removes the instrumentation it installed.
    """
    async with AsyncExitStack() as stack:
        traced = settings.installs_tracing
        tracing = _start_tracing(settings)
        stack.callback(tracing.shutdown)
        service_name = str(tracing.provider.resource.attributes.get("service.name", "ha-ai-agent"))
        tracker = install_tracker(tracing.recent, service_name, max_reports=max(1, settings.recent_traces))
        if traced:
            enable_log_correlation(tracing.provider)
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
        context = HomeContext(home, settings.context_ttl_seconds, settings.context_static_ttl_seconds, traced=traced)
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
        )
        # Not instrumented: forwarding the browser's spans must not make spans of its own.
        shim_http = httpx.AsyncClient(timeout=settings.shim_forward_timeout_seconds)
        stack.push_async_callback(shim_http.aclose)
        shim_limiter = SlidingWindowRateLimiter(settings.shim_rate_limit_per_minute, 60.0)
        yield Runtime(settings, tracing, tracker, store, home, llm, agent, shim_http, shim_limiter)
