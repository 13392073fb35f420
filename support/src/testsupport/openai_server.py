"""An OpenAI-compatible chat completions server for tests: the real wire protocol, behaviour chosen per chat.

The service talks to it with the real ``openai`` client (``OPENAI_BASE_URL=<url>/v1``). Words in the user's
message choose what the "model" does, so one load can mix the chats that tail sampling must keep:

* ``#error``           HTTP 500 with an OpenAI error body (the client retries, then the chat fails)
* ``#slow=<ms>``       the answer comes after that many milliseconds
* ``#length``          the answer stops with ``finish_reason: "length"`` (truncated)
* ``#content_filter``  the answer stops with ``finish_reason: "content_filter"``
* anything else        a ``get_entities`` tool call first, then a normal answer (``finish_reason: "stop"``)
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MODEL = "test-model"
SLOW = re.compile(r"#slow=(\d+)")
STOP_REASONS = ("length", "content_filter")


def _user_message(messages: list[dict[str, Any]]) -> str:
    return next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")


def _completion(message: dict[str, Any], finish_reason: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 8, "total_tokens": 48},
    }


def _tool_call() -> dict[str, Any]:
    call = {"name": "get_entities", "arguments": json.dumps({"area": "kitchen"})}
    return {"id": f"call_{uuid.uuid4().hex[:8]}", "type": "function", "function": call}


async def chat_completions(request: Request) -> JSONResponse:
    """POST /v1/chat/completions."""
    body = await request.json()
    messages: list[dict[str, Any]] = body.get("messages", [])
    text = _user_message(messages)
    if delay := SLOW.search(text):
        await asyncio.sleep(int(delay.group(1)) / 1000)
    if "#error" in text:
        error = {"message": "The model failed (test server)", "type": "server_error", "code": None, "param": None}
        return JSONResponse({"error": error}, status_code=500)
    stop = next((reason for reason in STOP_REASONS if f"#{reason}" in text), None)
    if stop is not None:
        return JSONResponse(_completion({"role": "assistant", "content": "The kitchen has"}, stop))
    if not any(m.get("role") == "tool" for m in messages[-2:]):
        return JSONResponse(
            _completion({"role": "assistant", "content": None, "tool_calls": [_tool_call()]}, "tool_calls")
        )
    return JSONResponse(_completion({"role": "assistant", "content": "The kitchen has a light."}, "stop"))


def create_openai_app() -> Starlette:
    """The ASGI app; serve it with ``testsupport.servers.serve_in_thread``."""
    return Starlette(routes=[Route("/v1/chat/completions", chat_completions, methods=["POST"])])
