"""``POST /api/v1/chat`` and ``POST /api/v1/chat/stream``: one answer, whole or as server-sent events."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from typing import Any, get_type_hints

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from fastapi.sse import EventSourceResponse, format_sse_event
from opentelemetry import trace
from perftrace import FIRST_TOKEN_EVENT, LAST_TOKEN_EVENT, current_trace_id
from perftrace.fastapi.contract import VALIDATION_ERROR, ErrorBody, error_responses
from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from ha_ai_agent.api.deps import RuntimeDep, client_key
from ha_ai_agent.chat.events import TextDelta, ToolFinished, ToolStarted
from ha_ai_agent.chat.pipeline import ChatError, ChatRequest, ChatResult
from ha_ai_agent.chat.stream import ChatStream, StreamItem
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


def _chat_request(body: ChatBody, settings: Settings) -> ChatRequest:
    limit = settings.max_message_chars
    if len(body.message) > limit:
        raise HTTPException(400, f"message is longer than {limit} characters")
    return ChatRequest(body.message, body.conversation_id, body.refresh_context)


@router.post("/chat", response_model=ChatResponse, responses={**CHAT_ERRORS, **VALIDATION_ERROR})
async def chat(body: ChatBody, request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """Answer a message about the home."""
    result = await runtime.agent.chat(_chat_request(body, runtime.settings), client_key(request))
    # The reader gets every word at once, now: the first and the last token are the same moment.
    span = trace.get_current_span()
    span.add_event(FIRST_TOKEN_EVENT)
    span.add_event(LAST_TOKEN_EVENT)
    return chat_response(result)


class TextEvent(BaseModel):
    """``text``: a piece of the answer as the model produced it.

    Text of an ``iteration`` that ends in tool calls is the model's note before acting; the answer is
    ``done``'s ``message``.
    """

    text: str
    iteration: int


class ToolCallEvent(BaseModel):
    """``tool_call``: the agent calls a tool."""

    id: str
    name: str
    arguments: dict[str, Any]


class ToolDoneEvent(BaseModel):
    """``tool_done``: a tool call is done (``ok`` false: it failed, and the model was told why)."""

    id: str
    name: str
    ok: bool


class StreamErrorEvent(ErrorBody):
    """``error``: the request failed after its stream started; the conversation stored nothing of it."""

    status: int = Field(description="The status code the same failure has on POST /api/v1/chat")


#: Each event of the stream: its name and its data (JSON); ``done`` carries ``ChatResponse``.
STREAM_EVENTS: dict[str, type[BaseModel]] = {
    "text": TextEvent,
    "tool_call": ToolCallEvent,
    "tool_done": ToolDoneEvent,
    "done": ChatResponse,
    "error": StreamErrorEvent,
}
STREAM_EVENT_MODELS = tuple(model for name, model in STREAM_EVENTS.items() if name != "done")
_STREAM_ITEM_SCHEMA = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": list(STREAM_EVENTS)},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": "; ".join(f"{name}: {model.__name__}" for name, model in STREAM_EVENTS.items()),
        },
    },
}
STREAM_RESPONSE: dict[int | str, Any] = {
    200: {
        "description": "Server-sent events: text and tool_call/tool_done as they happen, then done (the answer, "
        "as POST /api/v1/chat returns it) or error. Errors before the first event are JSON, as on POST "
        "/api/v1/chat.",
        "content": {"text/event-stream": {"schema": {"type": "string"}, "itemSchema": _STREAM_ITEM_SCHEMA}},
    }
}


def stream_event(item: StreamItem) -> bytes:
    """One item of the request as a server-sent event."""
    name: str
    data: BaseModel
    if isinstance(item, TextDelta):
        name, data = "text", TextEvent(text=item.text, iteration=item.iteration)
    elif isinstance(item, ToolStarted):
        name, data = "tool_call", ToolCallEvent(id=item.id, name=item.name, arguments=item.arguments)
    elif isinstance(item, ToolFinished):
        name, data = "tool_done", ToolDoneEvent(id=item.id, name=item.name, ok=item.ok)
    elif isinstance(item, ChatError):
        name, data = "error", StreamErrorEvent(detail=item.detail, status=item.status_code, trace_id=current_trace_id())
    else:
        name, data = "done", ChatResponse.model_validate(chat_response(item))
    return format_sse_event(data_str=data.model_dump_json(), event=name)


@router.post(
    "/chat/stream",
    # Not response_class=EventSourceResponse: FastAPI would then expect a generator, whose errors come after
    # the 200 (this route answers its early errors as JSON, as POST /chat does).
    response_class=StreamingResponse,
    responses={**STREAM_RESPONSE, **CHAT_ERRORS, **VALIDATION_ERROR},
)
async def chat_stream(body: ChatBody, request: Request, runtime: RuntimeDep) -> EventSourceResponse:
    """Answer a message about the home as the answer comes: text, tool calls, then the whole answer."""
    stream = ChatStream(
        runtime.agent, _chat_request(body, runtime.settings), client_key(request), trace.get_current_span()
    )
    await stream.open()

    async def events() -> AsyncIterator[bytes]:
        async for item in stream.items():
            yield stream_event(item)

    return EventSourceResponse(events(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
