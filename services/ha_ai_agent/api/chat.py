"""``POST /api/v1/chat``."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from perftrace.fastapi.contract import VALIDATION_ERROR, error_responses
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ha_ai_agent.api.deps import RuntimeDep, client_key
from ha_ai_agent.chat.pipeline import ChatRequest
from ha_ai_agent.chat.prompt import TokenBreakdown
from ha_ai_agent.config import Settings
from ha_ai_agent.semconv import API_PREFIX
from ha_ai_agent.store.conversations import MAX_CONVERSATION_ID_CHARS

router = APIRouter(prefix=API_PREFIX, tags=["chat"])

#: A message holds something besides spaces, tabs and line breaks. Spelled out rather than ``\S``: the
#: schema's regex dialect (ECMA-262) and Python's disagree on which characters are whitespace.
NOT_BLANK_PATTERN = r"[^\t\n\v\f\r ]"


class ChatBody(BaseModel):
    """A chat message; ``conversation_id`` null starts a new conversation.

    Strict: ``"refresh_context": 0`` is refused as the schema says, not read as false.
    """

    model_config = ConfigDict(strict=True)

    message: str = Field(
        min_length=1,
        json_schema_extra={"pattern": NOT_BLANK_PATTERN},
        description="At most HA_AGENT_MAX_MESSAGE_CHARS characters; not only whitespace",
    )
    conversation_id: str | None = Field(None, min_length=1, max_length=MAX_CONVERSATION_ID_CHARS)
    refresh_context: bool = False

    @field_validator("message")
    @classmethod
    def _not_blank(cls, message: str) -> str:
        if re.search(NOT_BLANK_PATTERN, message) is None:
            raise ValueError("message must not be blank")
        return message


def settings_limits(settings: Settings) -> dict[str, dict[str, dict[str, Any]]]:
    """The limits of this router's request bodies that come from settings, for the OpenAPI document."""
    return {"ChatBody": {"message": {"maxLength": settings.max_message_chars}}}


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


CHAT_ERRORS = error_responses(
    {
        400: "The message is longer than the limit, does not fit the token budget, or the body is not UTF-8",
        404: "No conversation has this conversation_id",
        429: "Too many chat requests from this client",
        503: "The language model or Home Assistant cannot answer now",
    },
    retry_after=(429,),
)


@router.post("/chat", response_model=ChatResponse, responses={**CHAT_ERRORS, **VALIDATION_ERROR})
async def chat(body: ChatBody, request: Request, runtime: RuntimeDep) -> ChatResponse:
    """Answer a message about the home."""
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
