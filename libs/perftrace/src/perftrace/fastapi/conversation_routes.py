"""Conversations of the kept traces: ``GET /api/v1/performance/conversations[/{id}]`` and the page of one.

Read from the traces in the recent buffer, so a conversation older than the buffer's traces has left it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse

from perftrace.analysis.conversations import (
    ConversationTotals,
    ConversationTurns,
    find_conversation,
    recent_conversations,
)
from perftrace.analysis.stages import find_operations
from perftrace.fastapi.contract import SERVER_ERROR, VALIDATION_ERROR, error_responses
from perftrace.fastapi.page import render_conversation_page
from perftrace.fastapi.routes import MAX_TRACES_PER_READ, NOT_RUNNING, Running, RunningTracing
from perftrace.paths import CONVERSATION_PAGE_PATH, CONVERSATIONS_PATH, page_urls

#: Longer ids than this are no conversation's (a 422): the GenAI conventions leave the format to the service.
MAX_CONVERSATION_ID_CHARS = 256
ConversationId = Annotated[str, Path(min_length=1, max_length=MAX_CONVERSATION_ID_CHARS)]
UNKNOWN = error_responses({404: "No kept trace names this conversation"})
router = APIRouter(tags=["performance"], responses={**NOT_RUNNING, **SERVER_ERROR})


def _conversation(state: RunningTracing, conversation_id: str) -> ConversationTurns:
    found = find_conversation(find_operations(state.handle.recent.traces(), state.service_name), conversation_id)
    if found is None:
        raise HTTPException(404, f"no kept trace names conversation {conversation_id!r}")
    return found


@router.get(CONVERSATIONS_PATH, responses=VALIDATION_ERROR)
async def conversations(
    state: Running, limit: int = Query(50, ge=1, le=MAX_TRACES_PER_READ)
) -> list[ConversationTotals]:
    """The conversations among the kept traces, the one active last first: turns, time, tokens, cost, errors.

    ``cost_usd`` is null when a turn has no price (``unpriced_turns`` says how many), never a partial sum.
    """
    return recent_conversations(find_operations(state.handle.recent.traces(), state.service_name), limit)


@router.get(CONVERSATIONS_PATH + "/{conversation_id}", responses={**UNKNOWN, **VALIDATION_ERROR})
async def conversation(conversation_id: ConversationId, state: Running) -> ConversationTurns:
    """One conversation's totals and its turns in order, each with its figures and the share of each stage."""
    return _conversation(state, conversation_id)


@router.get(
    CONVERSATION_PAGE_PATH + "/{conversation_id}",
    response_class=HTMLResponse,
    responses={**UNKNOWN, **VALIDATION_ERROR},
)
async def conversation_page(conversation_id: ConversationId, state: Running, request: Request) -> HTMLResponse:
    """One conversation's page: latency and input tokens per turn, and a row per turn."""
    page = render_conversation_page(
        _conversation(state, conversation_id),
        service_name=state.service_name,
        urls=page_urls(request.scope.get("root_path", "")),
        jaeger_url=state.jaeger_url,
        input_token_budget=state.input_token_budget,
    )
    return HTMLResponse(page)
