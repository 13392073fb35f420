"""The embedded model's turns: which tools to call for a request, and when to answer.

A request is read into an ``Intent`` (``intents``); the first turn looks things up with ``get_entities``
(``get_entity_state`` for entity ids typed out), an action's second turn calls ``call_service`` once per
target entity, and the last turn answers from the tool results (``answers``).
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from ha_ai_agent.llm.answers import CAPABILITIES, answer, found_entities
from ha_ai_agent.llm.intents import Intent, areas_from_prompt, parse_intent

_ENTITY_ID = re.compile(r"\b([a-z_]+\.[a-z0-9_]+)\b")
#: Domains "turn on/off" applies to when the request names none ("everything in the kitchen").
SWITCHABLE = ("light", "switch", "fan", "media_player", "input_boolean")
#: The domains each service applies to.
SERVICE_DOMAINS = {
    "open_cover": ("cover",),
    "close_cover": ("cover",),
    "lock": ("lock",),
    "unlock": ("lock",),
}

Round = tuple[list[dict[str, Any]], list[Any]]


def _last_user_index(messages: list[dict[str, Any]]) -> int:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "user":
            return index
    return -1


def tool_rounds(messages: list[dict[str, Any]]) -> list[Round]:
    """The tool calls made since the last user message, each round with its results (JSON parsed)."""
    rounds: list[Round] = []
    for message in messages[_last_user_index(messages) + 1 :]:
        if message.get("role") == "assistant" and message.get("tool_calls"):
            rounds.append((list(message["tool_calls"]), []))
        elif message.get("role") == "tool" and rounds:
            content = message.get("content") or ""
            try:
                rounds[-1][1].append(json.loads(content))
            except ValueError:
                rounds[-1][1].append(content)
    return rounds


def targets_of(intent: Intent, results: list[Any]) -> list[str]:
    """The entities an action applies to, from the lookups' results."""
    if intent.kind == "scene":
        domains: tuple[str, ...] = ("scene",)
    elif intent.domain:
        domains = (intent.domain,)
    else:
        domains = SERVICE_DOMAINS.get(intent.service or "", SWITCHABLE)
    found = [e["entity_id"] for e in found_entities(results) if str(e["entity_id"]).split(".", 1)[0] in domains]
    return found[:1] if intent.kind == "scene" else found


class MockPlanner:
    """Decides the next assistant message from the conversation; deterministic."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def next_message(self, messages: list[dict[str, Any]], tool_names: set[str]) -> dict[str, Any]:
        """The assistant message to return: tool calls or a final answer."""
        text = next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")
        intent = parse_intent(text, areas_from_prompt(messages))
        rounds = tool_rounds(messages)
        calls = self._plan(text, intent, rounds, tool_names)
        if calls:
            return {"role": "assistant", "content": None, "tool_calls": calls}
        if not rounds:
            return {"role": "assistant", "content": CAPABILITIES}
        return {"role": "assistant", "content": answer(intent, rounds)}

    def _plan(self, text: str, intent: Intent, rounds: list[Round], tool_names: set[str]) -> list[dict[str, Any]]:
        if not rounds:
            entity_ids = [e for e in _ENTITY_ID.findall(text.lower()) if not e.startswith(("e.", "i."))]
            if entity_ids and "get_entity_state" in tool_names:
                return [self._call("get_entity_state", {"entity_id": e}) for e in entity_ids]
            if "get_entities" not in tool_names or intent.kind == "help":
                return []
            return [self._call("get_entities", lookup) for lookup in intent.lookups()]
        acting = intent.kind in ("act", "scene") and intent.service is not None
        if len(rounds) > 1 or not acting or "call_service" not in tool_names:
            return []
        service = intent.service or "turn_on"
        calls = []
        for entity_id in targets_of(intent, rounds[0][1]):
            arguments: dict[str, Any] = {
                "domain": entity_id.split(".", 1)[0],
                "service": service,
                "entity_id": entity_id,
            }
            if intent.data:
                arguments["data"] = dict(intent.data)
            calls.append(self._call("call_service", arguments))
        return calls

    def _call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        call_id = f"call_{next(self._ids):06d}"
        return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
