"""``POST /api/v1/suggestions``: asks the chat agent for an automation, the trace going along with the call.

The three ``tracing`` lines are all it takes to get tracing from ``OTEL_*``, ``/performance``, the JSON
performance routes and ``get_tracker()``; the official httpx instrumentation sends ``traceparent`` to the agent,
so one trace holds both services.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from perftrace import current_trace_id, mark_operation, traced
from perftrace.fastapi import PerformanceTracing
from pydantic import BaseModel, Field, ValidationError

from ai_automation import SERVICE_NAME

#: Where the chat agent listens (its base URL).
AGENT_URL_ENV = "AI_AUTOMATION_AGENT_URL"
DEFAULT_AGENT_URL = "http://127.0.0.1:8030"
#: The agent's access token (a bearer token), when the agent asks for one.
AGENT_TOKEN_ENV = "AI_AUTOMATION_AGENT_TOKEN"
#: The token this service's own routes ask for (``Authorization: Bearer``); unset, they are open.
API_TOKEN_ENV = "AI_AUTOMATION_API_TOKEN"
#: A chat may run several model calls; give it the time the agent's own clients give the model.
AGENT_TIMEOUT_SECONDS = 60.0
CHAT_PATH = "/api/v1/chat"
HEALTH_PATH = "/health"


class SuggestionRequest(BaseModel):
    """What the user wants automated, in their words."""

    goal: str = Field(min_length=1, max_length=500, examples=["turn the porch light on at sunset"])


class ChatAnswer(BaseModel):
    """The part of the agent's chat answer this service uses."""

    message: str
    conversation_id: str


class Suggestion(BaseModel):
    """The agent's suggestion and the trace that produced it."""

    suggestion: str
    conversation_id: str
    trace_id: str


@asynccontextmanager
async def agent_client(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    """One instrumented client for the app's lifetime (a client costs tens of ms to build)."""
    token = os.environ.get(AGENT_TOKEN_ENV)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(
        base_url=app.state.agent_url, timeout=AGENT_TIMEOUT_SECONDS, headers=headers
    ) as client:
        HTTPXClientInstrumentor.instrument_client(client)
        yield {"agent": client}


router = APIRouter(prefix="/api/v1", lifespan=agent_client)


@traced("ask_agent")
async def ask_agent(client: httpx.AsyncClient, goal: str) -> ChatAnswer:
    """Ask the agent's chat API for an automation that reaches ``goal``."""
    question = f"Suggest a Home Assistant automation for this goal: {goal}"
    try:
        response = await client.post(CHAT_PATH, json={"message": question})
    except httpx.HTTPError as error:
        raise HTTPException(502, f"the chat agent is unreachable: {type(error).__name__}") from error
    if response.is_error:
        raise HTTPException(502, f"the chat agent answered {response.status_code}")
    try:
        return ChatAnswer.model_validate_json(response.content)
    except ValidationError as error:
        raise HTTPException(502, "the chat agent's answer is not a chat answer") from error


@router.post("/suggestions")
async def suggest(body: SuggestionRequest, request: Request) -> Suggestion:
    """An automation suggested by the chat agent for the user's goal."""
    # One operation for get_tracker().get_reports() and /performance; its stages are the server span's children.
    mark_operation("suggestion")
    answer = await ask_agent(request.state.agent, body.goal)
    return Suggestion(
        suggestion=answer.message,
        conversation_id=answer.conversation_id,
        trace_id=current_trace_id() or "",
    )


def bearer_token_check(expected: str) -> Any:
    """A dependency that lets a request through only with ``Authorization: Bearer <expected>``."""

    def require_token(request: Request) -> None:
        presented = request.headers.get("authorization", "").removeprefix("Bearer ").encode()
        if not hmac.compare_digest(presented, expected.encode()):
            raise HTTPException(401, "send 'Authorization: Bearer <token>'", {"WWW-Authenticate": "Bearer"})

    return require_token


def create_app(agent_url: str | None = None, api_token: str | None = None) -> FastAPI:
    """The app; ``agent_url`` defaults to ``$AI_AUTOMATION_AGENT_URL`` or the agent on this host.

    With ``api_token`` (default ``$AI_AUTOMATION_API_TOKEN``) every route but ``/health`` asks for it, the
    tracing library's too: it passes to ``mount`` as one argument.
    """
    tracing = PerformanceTracing(service_name=SERVICE_NAME, untraced_urls=[HEALTH_PATH])
    app = FastAPI(title="ai-automation", lifespan=tracing.lifespan)
    token = api_token or os.environ.get(API_TOKEN_ENV)
    auth = bearer_token_check(token) if token else None
    tracing.mount(app, auth=auth)
    app.state.agent_url = agent_url or os.environ.get(AGENT_URL_ENV, DEFAULT_AGENT_URL)
    app.include_router(router, dependencies=[Depends(auth)] if auth else [])

    @app.get(HEALTH_PATH)
    async def health() -> dict[str, str]:
        """Liveness for compose and the tests."""
        return {"status": "ok"}

    return app
