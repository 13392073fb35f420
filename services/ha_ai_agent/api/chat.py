"""``POST /api/v1/chat``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from ha_ai_agent.api.deps import RuntimeDep, client_key
from ha_ai_agent.chat.pipeline import ChatRequest
from ha_ai_agent.chat.prompt import TokenBreakdown

router = APIRouter(prefix="/api/v1", tags=["chat"])


class ChatBody(BaseModel):
    """A chat message; ``conversation_id`` null starts a new conversation."""

    message: str = Field(min_length=1)
    conversation_id: str | None = Field(None, min_length=1, max_length=200)
    refresh_context: bool = False


class ToolCallOut(BaseModel):
    """A tool call the model made, arguments parsed."""

    id: str
    name: str
    arguments: dict[str, Any]


class ChatMetadata(BaseModel):
    """What the answer took."""

    model: str
    tokens_used: int
    response_time_ms: float
    token_breakdown: TokenBreakdown
    iterations: int
    trace_id: str | None


class ChatResponse(BaseModel):
    """The assistant's answer."""

    message: str
    conversation_id: str
    tool_calls: list[ToolCallOut]
    metadata: ChatMetadata


@router.post("/chat", response_model=ChatResponse)
async def chat(body: ChatBody, request: Request, runtime: RuntimeDep) -> ChatResponse:
    """Answer a message about the home."""
    if not body.message.strip():
        raise HTTPException(400, "message must not be blank")
    limit = runtime.settings.max_message_chars
    if len(body.message) > limit:
        raise HTTPException(400, f"message is longer than {limit} characters")
    result = await runtime.agent.chat(
        ChatRequest(body.message, body.conversation_id, body.refresh_context), client_key(request)
    )
    return ChatResponse(
        message=result.message,
        conversation_id=result.conversation_id,
        tool_calls=[ToolCallOut(id=c.id, name=c.name, arguments=c.arguments) for c in result.tool_calls],
        metadata=ChatMetadata(
            model=result.model,
            tokens_used=result.tokens_used,
            response_time_ms=result.response_time_ms,
            token_breakdown=result.token_breakdown,
            iterations=result.iterations,
            trace_id=result.trace_id,
        ),
    )
