"""An embedded, deterministic OpenAI-compatible chat completions server.

With no ``OPENAI_API_KEY`` the real ``openai.AsyncOpenAI`` client talks to this app over an in-process
ASGI transport, so every layer above it (the client, the GenAI instrumentation, tool calling) runs as
it would against OpenAI. It plans tool calls from the user's words ("What devices are in the
kitchen?" → ``get_entities(area="kitchen")``; "turn on the garage light" → a search, then
``call_service``), answers in plain words from the tool results, reports token usage and waits a
configurable latency per call.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ha_ai_agent.llm.tokens import estimate_messages_tokens, estimate_tokens

AREA_WORDS = {
    "kitchen": "kitchen",
    "living room": "living_room",
    "lounge": "living_room",
    "bedroom": "bedroom",
    "office": "office",
    "garage": "garage",
}
DOMAIN_WORDS = {
    "light": "light",
    "lamp": "light",
    "switch": "switch",
    "temperature": "sensor",
    "sensor": "sensor",
    "lock": "lock",
    "door": "cover",
    "blind": "cover",
    "fan": "fan",
    "thermostat": "climate",
}
_ACTION = re.compile(r"\b(turn|switch)\s+(on|off)\b|\b(open|close|lock|unlock)\b", re.IGNORECASE)
_ENTITY_ID = re.compile(r"\b([a-z_]+\.[a-z0-9_]+)\b")
_SERVICES = {
    "on": "turn_on",
    "off": "turn_off",
    "open": "open_cover",
    "close": "close_cover",
    "lock": "lock",
    "unlock": "unlock",
}


def _tool_call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return str(message.get("content") or "")
    return ""


def _tool_round(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Any]]:
    """The tool calls of the last assistant turn and their results (parsed JSON when possible)."""
    results: list[Any] = []
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("role") == "tool":
            content = message.get("content") or ""
            try:
                results.insert(0, json.loads(content))
            except ValueError:
                results.insert(0, content)
        elif message.get("role") == "assistant" and message.get("tool_calls"):
            return list(message["tool_calls"]), results
        else:
            break
    return [], results


def _describe_entities(result: dict[str, Any]) -> str:
    entities = result.get("entities") or []
    if not entities:
        return "I found no matching devices."
    where = result.get("area_name") or "your home"
    listed = ", ".join(
        f"{e.get('name', e.get('entity_id'))} ({e.get('state')}{' ' + e['unit'] if e.get('unit') else ''})"
        for e in entities
    )
    return f"In the {where} there are {len(entities)} devices: {listed}."


def _describe(result: Any) -> str:
    if not isinstance(result, dict):
        return str(result)
    if "error" in result:
        return f"I could not do that: {result['error']}."
    if "entities" in result:
        return _describe_entities(result)
    if "changed" in result:
        changed = result["changed"] or []
        if not changed:
            return "Home Assistant accepted the command, but no device changed."
        return (
            "Done: " + ", ".join(f"{c.get('name', c.get('entity_id'))} is now {c.get('state')}" for c in changed) + "."
        )
    if "entity_id" in result:
        unit = result.get("unit") or ""
        return f"{result.get('name', result['entity_id'])} is {result.get('state')}{(' ' + unit) if unit else ''}."
    return json.dumps(result)


class MockPlanner:
    """Decides the next assistant message from the conversation; deterministic."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def _new_id(self) -> str:
        return f"call_{next(self._ids):06d}"

    def next_message(self, messages: list[dict[str, Any]], tool_names: set[str]) -> dict[str, Any]:
        """The assistant message to return: tool calls or a final answer."""
        text = _last_user_text(messages)
        calls, results = _tool_round(messages)
        if calls:
            follow_up = self._follow_up(text, calls, results, tool_names)
            if follow_up is not None:
                return follow_up
            return {"role": "assistant", "content": " ".join(_describe(r) for r in results)}
        planned = self._plan(text, tool_names)
        if planned:
            return {"role": "assistant", "content": None, "tool_calls": planned}
        return {
            "role": "assistant",
            "content": "I can tell you what devices are in a room, read a device's state, or switch things "
            "on and off. Try: What devices are in the kitchen?",
        }

    def _plan(self, text: str, tool_names: set[str]) -> list[dict[str, Any]]:
        lowered = text.lower()
        entity_ids = [e for e in _ENTITY_ID.findall(lowered) if not e.startswith(("e.", "i."))]
        if entity_ids and "get_entity_state" in tool_names:
            return [self._call("get_entity_state", {"entity_id": e}) for e in entity_ids]
        if "get_entities" not in tool_names:
            return []
        domain = next((d for word, d in DOMAIN_WORDS.items() if word in lowered), None)
        if _ACTION.search(lowered):
            words = [
                w
                for w in re.findall(r"[a-z]+", lowered)
                if w
                not in {
                    "turn",
                    "switch",
                    "on",
                    "off",
                    "the",
                    "please",
                    "open",
                    "close",
                    "lock",
                    "unlock",
                    "in",
                    "a",
                }
            ]
            arguments: dict[str, Any] = {"search": " ".join(words)}
            if domain:
                arguments["domain"] = domain
            return [self._call("get_entities", arguments)]
        areas = [area for word, area in AREA_WORDS.items() if word in lowered]
        if areas:
            return [self._call("get_entities", {"area": a, **({"domain": domain} if domain else {})}) for a in areas]
        if domain:
            return [self._call("get_entities", {"domain": domain})]
        return []

    def _follow_up(
        self, text: str, calls: list[dict[str, Any]], results: list[Any], tool_names: set[str]
    ) -> dict[str, Any] | None:
        action = _ACTION.search(text.lower())
        already_called = any(c["function"]["name"] == "call_service" for c in calls)
        if not action or already_called or "call_service" not in tool_names:
            return None
        word = (action.group(2) or action.group(3) or "").lower()
        for result in results:
            entities = result.get("entities") if isinstance(result, dict) else None
            if entities:
                entity_id = entities[0]["entity_id"]
                domain = entity_id.split(".", 1)[0]
                service = _SERVICES.get(word, "toggle")
                arguments = {"domain": domain, "service": service, "entity_id": entity_id}
                return {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [self._call("call_service", arguments)],
                }
        return None

    def _call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return _tool_call(self._new_id(), name, arguments)


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
