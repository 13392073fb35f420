"""An OpenAI-compatible chat completions server for tests: the real wire protocol, behaviour chosen per chat.

The service talks to it with the real ``openai`` client (``OPENAI_BASE_URL=<url>/v1``). Words in the user's
message choose what the "model" does, so one load can mix the chats that tail sampling must keep:

* ``#error``           HTTP 500 with an OpenAI error body (the client retries, then the chat fails)
* ``#slow=<ms>``       the answer comes after that many milliseconds
* ``#length``          the answer stops with ``finish_reason: "length"`` (truncated)
* ``#content_filter``  the answer stops with ``finish_reason: "content_filter"``
* ``#echo``            the answer (after the tool call) repeats the user's message
* ``#cut``             streamed: the answer (after the tool call) stops after its first words with an error event,
                       as OpenAI reports a failure mid-stream
* anything else        a ``get_entities`` tool call first, then a normal answer (``finish_reason: "stop"``)

Each answer reports usage that depends on the request (``usage_for``), with cached input tokens as OpenAI
reports them; ``create_openai_app(served)`` appends every usage it reported to ``served``, so a test knows the
exact usage of each call. ``stream=True`` gets the answer as ``chat.completion.chunk`` events (the usage in the
last one when ``stream_options.include_usage`` asks for it), as OpenAI sends them.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from ha_ai_agent.llm.chunks import DONE_EVENT, completion_chunks, sse_event, wants_usage
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MODEL = "test-model"
SLOW = re.compile(r"#slow=(\d+)")
STOP_REASONS = ("length", "content_filter")


def _user_message(messages: list[dict[str, Any]]) -> str:
    return next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")


def usage_for(messages: list[dict[str, Any]], answer: dict[str, Any]) -> dict[str, Any]:
    """The usage reported for one call: grows with the conversation, part of the prompt cached from the 3rd message."""
    prompt = 30 + 7 * len(messages)
    cached = min(16 * (len(messages) // 3), prompt)
    completion = 5 + len(str(answer.get("content") or "")) // 4 + 3 * len(answer.get("tool_calls") or [])
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
    }


def _completion(message: dict[str, Any], finish_reason: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
        "usage": usage,
    }


def _tool_call() -> dict[str, Any]:
    call = {"name": "get_entities", "arguments": json.dumps({"area": "kitchen"})}
    return {"id": f"call_{uuid.uuid4().hex[:8]}", "type": "function", "function": call}


def _answer(messages: list[dict[str, Any]], text: str) -> tuple[dict[str, Any], str]:
    stop = next((reason for reason in STOP_REASONS if f"#{reason}" in text), None)
    if stop is not None:
        return {"role": "assistant", "content": "The kitchen has"}, stop
    if not any(m.get("role") == "tool" for m in messages[-2:]):
        return {"role": "assistant", "content": None, "tool_calls": [_tool_call()]}, "tool_calls"
    content = f"You said: {text}" if "#echo" in text else "The kitchen has a light."
    return {"role": "assistant", "content": content}, "stop"


async def _events(chunks: list[dict[str, Any]]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield sse_event(chunk)
        await asyncio.sleep(0)  # each event its own write, as a model's tokens come
    yield DONE_EVENT


def create_openai_app(served: list[dict[str, Any]] | None = None) -> Starlette:
    """The ASGI app; serve it with ``testsupport.servers.serve_in_thread``. ``served`` collects each usage sent."""

    async def chat_completions(request: Request) -> Response:
        """POST /v1/chat/completions."""
        body = await request.json()
        messages: list[dict[str, Any]] = body.get("messages", [])
        text = _user_message(messages)
        if delay := SLOW.search(text):
            await asyncio.sleep(int(delay.group(1)) / 1000)
        if "#error" in text:
            error = {"message": "The model failed (test server)", "type": "server_error", "code": None, "param": None}
            return JSONResponse({"error": error}, status_code=500)
        answer, finish_reason = _answer(messages, text)
        usage = usage_for(messages, answer)
        if served is not None:
            served.append(usage)
        completion = _completion(answer, finish_reason, usage)
        if not body.get("stream"):
            return JSONResponse(completion)
        chunks = list(completion_chunks(completion, wants_usage(body)))
        if "#cut" in text and answer.get("content"):
            chunks = [
                *chunks[:3],
                {"error": {"message": "The model failed mid-stream (test server)", "type": "server_error"}},
            ]
        return StreamingResponse(_events(chunks), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat_completions, methods=["POST"])])
