"""The FastAPI application: ``create_app(settings)`` builds it; its lifespan opens and closes everything."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from perftrace.fastapi.contract import SERVER_ERROR, document_limits, error_response, install_contract

from ha_ai_agent import __version__
from ha_ai_agent.api import chat, conversations, health, ui
from ha_ai_agent.api.ui import STATIC_DIR
from ha_ai_agent.chat.pipeline import ChatError
from ha_ai_agent.config import Settings
from ha_ai_agent.runtime import open_runtime, performance_tracing

_logger = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the runtime for the app's lifetime; on exit close it and flush the spans."""
    settings: Settings = app.state.settings
    async with open_runtime(settings, app.state.performance) as runtime:
        app.state.runtime = runtime
        # Everything allocated so far lives as long as the process: keep it out of every full GC
        # (37 ms pauses in this process otherwise, measured in docs/performance.md).
        gc.freeze()
        _logger.info(
            "HA AI agent %s ready: chat on http://%s:%s/ , traces on http://%s:%s/performance",
            __version__,
            settings.host,
            settings.port,
            settings.host,
            settings.port,
        )
        try:
            yield
        finally:
            # Hand the start-up heap back to the collector: a process that runs several apps in turn (tests,
            # `ha-ai-agent ask`) would otherwise keep each one's garbage for good.
            gc.unfreeze()


async def _chat_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ChatError)
    return error_response(error.status_code, error.detail, error.headers)


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    # The exception (with its trace id, from log correlation) goes to the log; never to the client.
    _logger.exception("Unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "Internal server error")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; nothing is opened until its lifespan starts."""
    settings = settings or Settings()
    app = FastAPI(title="HA AI agent", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.performance = performance = performance_tracing(settings)
    for module in (chat, conversations, health, ui):
        app.include_router(module.router, responses=SERVER_ERROR)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_contract(app)
    document_limits(app, chat.settings_limits(settings))
    app.add_exception_handler(ChatError, _chat_error)
    app.add_exception_handler(Exception, _unexpected_error)
    # /performance, its JSON, the browser endpoint, and server spans for every other route.
    performance.mount(app)
    return app
