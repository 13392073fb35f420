"""An embedded, deterministic OpenAI-compatible chat completions server.

With no ``OPENAI_API_KEY`` the real ``openai.AsyncOpenAI`` client talks to it through an in-process transport
(``create_embedded_transport``), so every layer above it (the client, the GenAI instrumentation, tool calling,
streaming) runs as it would against OpenAI: it answers ``POST /v1/chat/completions`` with a ``chat.completion``
or, with ``stream=True``, with ``chat.completion.chunk`` server-sent events, paced like a model's tokens. It
plans tool calls from the user's words ("What devices are in the kitchen?" → ``get_entities(area="kitchen")``;
"turn on the garage light" → a lookup, then ``call_service``), answers in plain words from the tool results and
reports token usage. What it understands is in ``intents``, its turns in ``planner``, its sentences in
``answers``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2

from ha_ai_agent.llm.chunks import DONE_EVENT, completion_chunks, sse_event, wants_usage
from ha_ai_agent.llm.planner import MockPlanner
from ha_ai_agent.llm.tokens import estimate_messages_tokens, estimate_tokens

MODELS = {"object": "list", "data": [{"id": "embedded", "object": "model", "owned_by": "ha"}]}


def _error(status: int, message: str) -> httpx2.Response:
    return httpx2.Response(status, json={"error": {"message": message, "type": "invalid_request_error"}})


def create_embedded_transport(latency_ms: int = 0, stream_chunk_ms: int = 0) -> httpx2.MockTransport:
    """The embedded model as an ``httpx2`` transport: ``POST /v1/chat/completions`` and ``GET /v1/models``.

    Each call waits ``latency_ms`` before its first byte; a streamed answer then sends a chunk (a word, a tool
    call) every ``stream_chunk_ms``, and one not streamed comes when the last chunk would have (a model takes
    as long to write an answer whether it is streamed or not). A transport of its own rather than httpx's ASGI
    one, which hands a response over only once the app has sent all of it: a stream would arrive in one piece.
    """
    planner = MockPlanner()
    completion_ids = itertools.count(1)

    def completion(body: dict[str, Any], messages: list[dict[str, Any]], model: str) -> dict[str, Any]:
        tool_names = {t.get("function", {}).get("name") for t in body.get("tools") or []}
        message = planner.next_message(messages, tool_names)
        prompt_tokens = estimate_messages_tokens(messages) + estimate_tokens(json.dumps(body.get("tools") or []))
        completion_tokens = estimate_messages_tokens([message])
        return {
            "id": f"chatcmpl-embedded-{next(completion_ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "embedded",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    async def paced(chunks: list[dict[str, Any]]) -> AsyncIterator[bytes]:
        for index, chunk in enumerate(chunks):
            if index and stream_chunk_ms:
                await asyncio.sleep(stream_chunk_ms / 1000)
            yield sse_event(chunk)
        yield DONE_EVENT

    async def handle(request: httpx2.Request) -> httpx2.Response:
        path = request.url.path.rstrip("/")
        if request.method == "GET" and path.endswith("/models"):
            return httpx2.Response(200, json=MODELS)
        if request.method != "POST" or not path.endswith("/chat/completions"):
            return _error(404, f"no route {request.method} {path}")
        try:
            body = json.loads(request.content)
            messages = list(body["messages"])
            model = str(body["model"])
        except (ValueError, KeyError, TypeError):
            return _error(400, "messages and model are required")
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)
        answer = completion(body, messages, model)
        streamed = bool(body.get("stream"))
        chunks = list(completion_chunks(answer, include_usage=not streamed or wants_usage(body)))
        if not streamed:
            await asyncio.sleep((len(chunks) - 1) * stream_chunk_ms / 1000)
            return httpx2.Response(200, json=answer)
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=paced(chunks))

    return httpx2.MockTransport(handle)
