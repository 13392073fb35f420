"""The tools the model may call, run against Home Assistant.

A tool returns a JSON-able dict that becomes the tool message's content (the original read the
result from a key the handler never set, so the model saw an empty result). Errors are results too
(``{"error": …}``), so the model can say what went wrong; the tool's span is marked ERROR.
"""

from __future__ import annotations

from typing import Any

from ha_ai_agent.chat.context import HomeContext
from ha_ai_agent.home.client import HomeAssistantClient

MAX_ENTITIES = 50

TOOL_DEFINITIONS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_entities",
            "description": "List entities of the home, optionally filtered by domain, area and a search text.",
            "parameters": {
                "type": "object",
                "properties": {
                    "domain": {"type": "string", "description": "e.g. light, switch, sensor"},
                    "area": {"type": "string", "description": "area id or name, e.g. kitchen"},
                    "search": {"type": "string", "description": "words of the entity's name or id"},
                },
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_entity_state",
            "description": "The current state and attributes of one entity.",
            "parameters": {
                "type": "object",
                "properties": {"entity_id": {"type": "string"}},
                "required": ["entity_id"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "call_service",
            "description": "Call a Home Assistant service, e.g. light.turn_on for an entity.",
            "parameters": {
                "type": "object",
                "properties": {
                    "domain": {"type": "string"},
                    "service": {"type": "string"},
                    "entity_id": {"type": "string"},
                    "data": {"type": "object"},
                },
                "required": ["domain", "service"],
                "additionalProperties": False,
            },
        },
    },
]


class ToolError(Exception):
    """The model called a tool wrongly (unknown tool, bad arguments)."""


def _summary(state: dict[str, Any], area: tuple[str, str] | None) -> dict[str, Any]:
    attributes = state.get("attributes") or {}
    return {
        "entity_id": state.get("entity_id"),
        "name": attributes.get("friendly_name") or state.get("entity_id"),
        "state": state.get("state"),
        "unit": attributes.get("unit_of_measurement"),
        "area": area[1] if area else None,
    }


def _matches_area(wanted: str, area: tuple[str, str] | None) -> bool:
    if area is None:
        return False
    key = wanted.strip().lower().replace(" ", "_")
    return key in (area[0].lower(), area[1].lower().replace(" ", "_"))


class ToolExecutor:
    """Runs tool calls; ``execute`` never raises for Home Assistant trouble, only for a bad call."""

    def __init__(self, home: HomeAssistantClient, context: HomeContext) -> None:
        self.home = home
        self.context = context

    async def execute(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Run one tool and return its result."""
        if name == "get_entities":
            return await self.get_entities(**_only(arguments, "domain", "area", "search"))
        if name == "get_entity_state":
            entity_id = arguments.get("entity_id")
            if not isinstance(entity_id, str):
                raise ToolError("get_entity_state needs an entity_id string")
            return await self.get_entity_state(entity_id)
        if name == "call_service":
            domain, service = arguments.get("domain"), arguments.get("service")
            if not isinstance(domain, str) or not isinstance(service, str):
                raise ToolError("call_service needs domain and service strings")
            data = arguments.get("data") or {}
            if not isinstance(data, dict):
                raise ToolError("call_service data must be an object")
            return await self.call_service(domain, service, arguments.get("entity_id"), data)
        raise ToolError(f"unknown tool {name!r}")

    async def get_entities(
        self, domain: str | None = None, area: str | None = None, search: str | None = None
    ) -> dict[str, Any]:
        """Entities matching every filter given."""
        states = await self.home.get_states()
        areas = await self.context.area_of()
        words = [w for w in (search or "").lower().split() if w]
        found = []
        area_name = None
        for state in states:
            entity_id = str(state.get("entity_id", ""))
            entity_area = areas.get(entity_id)
            if domain and entity_id.split(".", 1)[0] != domain:
                continue
            if area:
                if not _matches_area(area, entity_area):
                    continue
                area_name = entity_area[1] if entity_area else None
            if words:
                haystack = f"{entity_id} {(state.get('attributes') or {}).get('friendly_name', '')}".lower()
                haystack += f" {entity_area[1].lower()}" if entity_area else ""
                if not all(w in haystack for w in words):
                    continue
            found.append(_summary(state, entity_area))
        result: dict[str, Any] = {"count": len(found), "entities": found[:MAX_ENTITIES]}
        if area:
            result["area_name"] = area_name or area
        return result

    async def get_entity_state(self, entity_id: str) -> dict[str, Any]:
        """One entity's state, or an error result if there is no such entity."""
        state = await self.home.get_state(entity_id)
        if state is None:
            return {"error": f"there is no entity {entity_id}"}
        attributes = state.get("attributes") or {}
        return {
            "entity_id": entity_id,
            "name": attributes.get("friendly_name") or entity_id,
            "state": state.get("state"),
            "unit": attributes.get("unit_of_measurement"),
            "attributes": attributes,
        }

    async def call_service(
        self, domain: str, service: str, entity_id: str | None, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Call a service; the result lists the entities it changed."""
        payload = dict(data)
        if entity_id:
            payload["entity_id"] = entity_id
        changed = await self.home.call_service(domain, service, payload)
        self.context.invalidate()
        areas = await self.context.area_of()
        return {"changed": [_summary(s, areas.get(str(s.get("entity_id")))) for s in changed]}


def _only(arguments: dict[str, Any], *names: str) -> dict[str, Any]:
    unknown = set(arguments) - set(names)
    if unknown:
        raise ToolError(f"unexpected arguments: {', '.join(sorted(unknown))}")
    for name in names:
        if arguments.get(name) is not None and not isinstance(arguments[name], str):
            raise ToolError(f"{name} must be a string")
    return {name: arguments.get(name) for name in names}
