"""``/api/v1/conversations``: list, create, read, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response
from perftrace.fastapi.contract import UNREADABLE_BODY, VALIDATION_ERROR, error_responses
from pydantic import BaseModel, ConfigDict, Field

from ha_ai_agent.api.deps import RuntimeDep
from ha_ai_agent.semconv import API_PREFIX
from ha_ai_agent.store.conversations import MAX_CONVERSATION_ID_CHARS, MAX_PAGE_LIMIT, MAX_PAGE_OFFSET, Conversation

router = APIRouter(prefix=f"{API_PREFIX}/conversations", tags=["conversations"])
NOT_FOUND = error_responses({404: "No conversation has this id"}) | VALIDATION_ERROR
ConversationId = Annotated[str, Path(max_length=MAX_CONVERSATION_ID_CHARS)]


class MessageOut(BaseModel):
    """A stored message."""

    role: str
    content: str | None
    created_at: float
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    trace_id: str | None = Field(None, description="On an answer: its request's trace id")
    feedback: str | None = Field(None, description="On an answer: the user's verdict (thumbs_up or thumbs_down)")
    feedback_comment: str | None = Field(None, description="On an answer: the comment the verdict came with")


class ConversationOut(BaseModel):
    """A conversation; ``messages`` only when one conversation is read."""

    id: str
    title: str | None
    created_at: float
    updated_at: float
    message_count: int
    pending_preview: dict[str, Any] | None = None
    messages: list[MessageOut] | None = None


class ConversationPage(BaseModel):
    """One page of conversations."""

    conversations: list[ConversationOut]
    total: int
    limit: int
    offset: int


class ConversationCreate(BaseModel):
    """A new conversation."""

    model_config = ConfigDict(strict=True)

    title: str | None = Field(None, max_length=200)


def _out(conversation: Conversation, with_messages: bool) -> ConversationOut:
    return ConversationOut(
        id=conversation.id,
        title=conversation.title,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        message_count=conversation.message_count,
        pending_preview=conversation.pending_preview,
        messages=[MessageOut(**vars(m)) for m in conversation.messages] if with_messages else None,
    )


@router.get("", response_model=ConversationPage, responses=VALIDATION_ERROR)
async def list_conversations(
    runtime: RuntimeDep,
    limit: int = Query(20, ge=1, le=MAX_PAGE_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_PAGE_OFFSET),
) -> ConversationPage:
    """Conversations, most recent first."""
    conversations, total = await runtime.store.list_page(limit, offset)
    return ConversationPage(
        conversations=[_out(c, False) for c in conversations], total=total, limit=limit, offset=offset
    )


@router.post("", response_model=ConversationOut, status_code=201, responses={**UNREADABLE_BODY, **VALIDATION_ERROR})
async def create_conversation(runtime: RuntimeDep, body: ConversationCreate | None = None) -> ConversationOut:
    """Start an empty conversation."""
    conversation = await runtime.store.create(body.title if body else None)
    return _out(conversation, True)


@router.get("/{conversation_id}", response_model=ConversationOut, responses=NOT_FOUND)
async def get_conversation(conversation_id: ConversationId, runtime: RuntimeDep) -> ConversationOut:
    """One conversation with its messages."""
    conversation = await runtime.store.get(conversation_id)
    if conversation is None:
        raise HTTPException(404, f"Conversation {conversation_id} not found")
    return _out(conversation, True)


@router.delete("/{conversation_id}", status_code=204, responses=NOT_FOUND)
async def delete_conversation(conversation_id: ConversationId, runtime: RuntimeDep) -> Response:
    """Delete a conversation and its messages."""
    if not await runtime.store.delete(conversation_id):
        raise HTTPException(404, f"Conversation {conversation_id} not found")
    return Response(status_code=204)
