"""The FastAPI application: ``create_app(settings)`` builds it; its lifespan opens and closes everything."""

from __future__ import annotations

import copy
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from perftrace.fastapi.contract import (
    SERVER_ERROR,
    complete_openapi,
    document_limits,
    document_models,
    error_response,
    install_contract,
)

from ha_ai_agent import __version__
from ha_ai_agent.api import chat, conversations, health, session, ui
from ha_ai_agent.api.deps import require_access
from ha_ai_agent.api.session import AUTH_ERRORS
from ha_ai_agent.api.ui import STATIC_DIR, sign_in_page
from ha_ai_agent.auth.access import SignInRequired
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
            "HA AI agent %s ready: chat on http://%s:%s/ , traces on http://%s:%s/performance; access control %s",
            __version__,
            settings.host,
            settings.port,
            settings.host,
            settings.port,
            runtime.access.auth.reason,
        )
        if runtime.access.auth.warning:
            _logger.warning("%s", runtime.access.auth.warning)
        try:
            yield
        finally:
            # Hand the start-up heap back to the collector: a process that runs several apps in turn (tests,
            # `ha-ai-agent ask`) would otherwise keep each one's garbage for good.
            gc.unfreeze()


async def _chat_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ChatError)
    return error_response(error.status_code, error.detail, error.headers)


async def _sign_in_required(request: Request, error: Exception) -> Response:
    assert isinstance(error, SignInRequired)
    # A browser opening a page gets the page to sign in on; every other client the error body.
    if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
        return sign_in_page(str(error.detail), error.headers or {})
    return error_response(401, str(error.detail), error.headers)


def _document_auth(document: dict[str, Any]) -> None:
    """Add the guard's answers to every operation that declares a security requirement.

    A page (an operation that answers HTML) answers a browser's 401 with the sign-in page.
    """
    for operations in document["paths"].values():
        for operation in operations.values():
            if "security" not in operation:
                continue
            responses = operation["responses"]
            for status, response in AUTH_ERRORS.items():
                responses.setdefault(str(status), copy.deepcopy(response))
            if "text/html" in responses.get("200", {}).get("content", {}):
                responses["401"]["content"]["text/html"] = {"schema": {"type": "string"}}


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    # The exception (with its trace id, from log correlation) goes to the log; never to the client.
    _logger.exception("Unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "Internal server error")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; nothing is opened until its lifespan starts."""
    settings = settings or Settings()
    auth = settings.resolved_auth()  # refuses (AuthNotConfigured) to build an exposed app without access control
    app = FastAPI(title="HA AI agent", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.performance = performance = performance_tracing(settings)
    guarded = [Depends(require_access)] if auth.required else []
    app.include_router(health.router, responses=SERVER_ERROR)
    for module in (chat, conversations, ui):
        app.include_router(module.router, responses=SERVER_ERROR, dependencies=guarded)
    if auth.required:
        app.include_router(session.router, responses=SERVER_ERROR)
        app.add_exception_handler(SignInRequired, _sign_in_required)
        complete_openapi(app, _document_auth)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_contract(app)
    document_limits(app, chat.settings_limits(settings))
    document_models(app, *chat.STREAM_EVENT_MODELS)
    app.add_exception_handler(ChatError, _chat_error)
    app.add_exception_handler(Exception, _unexpected_error)
    # /performance, its JSON, the browser endpoint, and server spans for every other route.
    performance.mount(app, auth=require_access if auth.required else None)
    return app
