"""An embedded, deterministic OpenAI-compatible chat completions server.

With no ``OPENAI_API_KEY`` the real ``openai.AsyncOpenAI`` client talks to this app over an in-process
ASGI transport, so every layer above it (the client, the GenAI instrumentation, tool calling) runs as
it would against OpenAI. It plans tool calls from the user's words ("What devices are in the
kitchen?" → ``get_entities(area="kitchen")``; "turn on the garage light" → a lookup, then
``call_service``), answers in plain words from the tool results, reports token usage and waits a
configurable latency per call. What it understands is in ``intents``, its turns in ``planner``, its
sentences in ``answers``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ha_ai_agent.llm.planner import MockPlanner
from ha_ai_agent.llm.tokens import estimate_messages_tokens, estimate_tokens


def create_mock_llm_app(latency_ms: int = 0) -> Starlette:
    """The OpenAI-compatible app: ``POST /v1/chat/completions`` and ``GET /v1/models``."""
    planner = MockPlanner()
    completion_ids = itertools.count(1)

    async def chat_completions(request: Request) -> Response:
        try:
            body = await request.json()
            messages = list(body["messages"])
            model = str(body["model"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse(
                {"error": {"message": "messages and model are required", "type": "invalid_request_error"}},
                status_code=400,
            )
        if body.get("stream"):
            return JSONResponse(
                {"error": {"message": "the embedded model does not stream", "type": "invalid_request_error"}},
                status_code=400,
            )
        tool_names = {t.get("function", {}).get("name") for t in body.get("tools") or []}
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)
        message = planner.next_message(messages, tool_names)
        prompt_tokens = estimate_messages_tokens(messages) + estimate_tokens(json.dumps(body.get("tools") or []))
        completion_tokens = estimate_messages_tokens([message])
        return JSONResponse(
            {
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
        )

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "embedded", "object": "model", "owned_by": "ha"}]})

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", models),
        ]
    )
