"""``POST /api/v1/chat``."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, get_type_hints

from fastapi import APIRouter, HTTPException, Request
from perftrace.fastapi.contract import VALIDATION_ERROR, error_responses
from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from ha_ai_agent.api.deps import RuntimeDep, client_key
from ha_ai_agent.chat.pipeline import ChatRequest, ChatResult
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


#: The fields of ``ChatResult`` that are the answer itself; every other field is ``metadata`` (what the answer
#: took), so a field added to ``ChatResult`` reaches the API, its schema included, with no edit here.
ANSWER_FIELDS = ("message", "conversation_id", "tool_calls")
_RESULT_TYPES = get_type_hints(ChatResult)
_METADATA_FIELDS = tuple(f.name for f in dataclasses.fields(ChatResult) if f.name not in ANSWER_FIELDS)

ChatMetadata = create_model(
    "ChatMetadata",
    __doc__="What the answer took.",
    **{name: (_RESULT_TYPES[name], ...) for name in _METADATA_FIELDS},  # type: ignore[call-overload]
)
ChatResponse = create_model(
    "ChatResponse",
    __doc__="The assistant's answer.",
    **{name: (_RESULT_TYPES[name], ...) for name in ANSWER_FIELDS},  # type: ignore[call-overload]
    metadata=(ChatMetadata, ...),
)


def chat_response(result: ChatResult) -> dict[str, Any]:
    """The pipeline's result in the API's shape: the answer's fields, the rest under ``metadata``."""
    return {
        **{name: getattr(result, name) for name in ANSWER_FIELDS},
        "metadata": {name: getattr(result, name) for name in _METADATA_FIELDS},
    }


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
async def chat(body: ChatBody, request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """Answer a message about the home."""
    limit = runtime.settings.max_message_chars
    if len(body.message) > limit:
        raise HTTPException(400, f"message is longer than {limit} characters")
    result = await runtime.agent.chat(
        ChatRequest(body.message, body.conversation_id, body.refresh_context), client_key(request)
    )
    return chat_response(result)
