"""The tools the model may call, run against Home Assistant.

A tool returns a JSON-able dict that becomes the tool message's content (the original read the
result from a key the handler never set, so the model saw an empty result). Errors are results too
(``{"error": …}``), so the model can say what went wrong; the tool's span is marked ERROR.
"""

from __future__ import annotations

from typing import Any

from ha_ai_agent.chat.confirmations import VERBS, ConfirmationNeeded, PendingAction, opens_the_home
from ha_ai_agent.chat.context import HomeContext
from ha_ai_agent.home.client import (
    HomeAssistantClient,
    HomeAssistantError,
    HomeAssistantRejected,
    HomeAssistantStillWorking,
)
from ha_ai_agent.home.effects import EffectCall, EffectWatcher
from ha_ai_agent.home.exposure import Exposure

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


Area = tuple[str, str]


def _summary(state: dict[str, Any], area: Area | None) -> dict[str, Any]:
    attributes = state.get("attributes") or {}
    return {
        "entity_id": state.get("entity_id"),
        "name": attributes.get("friendly_name") or state.get("entity_id"),
        "state": state.get("state"),
        "unit": attributes.get("unit_of_measurement"),
        "device_class": attributes.get("device_class"),
        "area": area[1] if area else None,
    }


def _key(text: str) -> str:
    return text.strip().lower().replace(" ", "_")


def _matches_area(wanted: str, area: Area | None) -> bool:
    return area is not None and _key(wanted) in (area[0].lower(), _key(area[1]))


def _haystack(state: dict[str, Any], area: Area | None) -> str:
    name = str((state.get("attributes") or {}).get("friendly_name") or "")
    text = f"{state.get('entity_id', '')} {name} {area[1] if area else ''}".lower()
    return text.replace("_", " ")


def _has_word(haystack: str, word: str) -> bool:
    """``word`` or its singular ("lights" finds "Kitchen Light") is in the haystack."""
    return word in haystack or (len(word) > 3 and word.endswith("s") and word[:-1] in haystack)


def _targets(entity_id: Any) -> list[str]:
    if isinstance(entity_id, str):
        return [e.strip() for e in entity_id.split(",") if e.strip()]
    return [str(e) for e in entity_id] if isinstance(entity_id, list) else []


def _fold(changed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last state of each entity a call changed, in the order they first changed."""
    last: dict[str, dict[str, Any]] = {}
    for state in changed:
        last[str(state.get("entity_id"))] = state
    return list(last.values())


class ToolExecutor:
    """Runs tool calls; ``execute`` never raises for Home Assistant trouble, only for a bad call."""

    def __init__(
        self,
        home: HomeAssistantClient,
        context: HomeContext,
        exposure: Exposure | None = None,
        effects: EffectWatcher | None = None,
    ) -> None:
        self.home = home
        self.context = context
        self.exposure = exposure or Exposure(None, 0)
        self.effects = effects

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
            held = await self.opening_action(domain, service, arguments.get("entity_id") or data.get("entity_id"), data)
            if held is not None:
                raise ConfirmationNeeded(held)
            return await self.call_service(domain, service, arguments.get("entity_id"), data)
        raise ToolError(f"unknown tool {name!r}")

    async def opening_action(
        self, domain: str, service: str, entity_id: Any, data: dict[str, Any]
    ) -> PendingAction | None:
        """The call as a pending action when it would unlock, open a garage door or gate, or disarm; else None."""
        targets = _targets(entity_id)
        if not targets:  # every entity of the domain: any lock, alarm panel or cover, a garage door included
            if not opens_the_home(domain, service, "garage"):
                return None
            return PendingAction(domain, service, None, data, f"{VERBS[domain]} every {domain.replace('_', ' ')}")
        opening = []
        for target in targets:
            state = await self.home.get_state(target) or {}
            attributes = state.get("attributes") or {}
            target_domain = target.split(".", 1)[0]
            if opens_the_home(target_domain, service, attributes.get("device_class")):
                opening.append(f"{VERBS[target_domain]} {attributes.get('friendly_name') or target}")
        if not opening:
            return None
        return PendingAction(domain, service, entity_id, data, " and ".join(opening))

    async def _areas_for(self, wanted: str | None) -> dict[str, Area]:
        """entity_id → area; read again at once when ``wanted`` names an area the cache does not know."""
        areas = await self.context.area_of()
        if wanted:
            known = {(a[0].lower(), _key(a[1])) for a in areas.values()}
            if not any(_key(wanted) in pair for pair in known):
                areas = await self.context.area_of(refresh=True)
        return areas

    async def get_entities(
        self, domain: str | None = None, area: str | None = None, search: str | None = None
    ) -> dict[str, Any]:
        """Entities matching every filter given.

        An area matches the entities in it (their own area or their device's); entities in no area
        match when their name holds the area's name ("Living Room Window" for ``living_room``).
        """
        states = await self.home.get_states()
        areas = await self._areas_for(area)
        words = [w for w in (search or "").lower().split() if w]
        area_words = (area or "").lower().replace("_", " ").split()
        found = []
        for state in states:
            entity_id = str(state.get("entity_id", ""))
            entity_area = areas.get(entity_id)
            haystack = _haystack(state, entity_area)
            if domain and entity_id.split(".", 1)[0] != domain:
                continue
            if area and not _matches_area(area, entity_area):
                if entity_area is not None or not all(_has_word(haystack, w) for w in area_words):
                    continue
            if not all(_has_word(haystack, w) for w in words):
                continue
            found.append(_summary(state, entity_area))
        result: dict[str, Any] = {"count": len(found), "entities": found[:MAX_ENTITIES]}
        if area:
            names = {a[1] for a in areas.values() if _matches_area(area, a)}
            result["area_name"] = next(iter(names), area.replace("_", " ").title())
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

    async def call_service(self, domain: str, service: str, entity_id: Any, data: dict[str, Any]) -> dict[str, Any]:
        """Call a service; the result lists what it changed and the targets it left as they were."""
        payload = dict(data)
        if entity_id:
            payload["entity_id"] = entity_id
        targets = _targets(payload.get("entity_id"))
        called = f"{domain}.{service}"
        hidden = await self.exposure.not_exposed(targets)
        if hidden:
            return {
                "service": called,
                "error": f"Home Assistant does not expose {', '.join(hidden)} to conversation agents, so I may not "
                "act on it (Settings → Voice assistants → Expose in Home Assistant changes that)",
            }
        # Watched from before the call, so a state Home Assistant reports before it answers is not missed.
        effect = self.effects.begin(domain, service, targets, payload) if self.effects else EffectCall.NONE
        try:
            changed = _fold(await self.home.call_service(domain, service, payload))
        except HomeAssistantStillWorking as slow:
            effect.still_working()
            return {
                "service": called,
                "pending": True,
                "entities": targets,
                "message": f"Home Assistant is still carrying out {called}: it had not finished after "
                f"{slow.waited_seconds:g} s and goes on with it by itself",
            }
        except HomeAssistantRejected as refused:
            effect.abandon()
            return {"service": called, "error": await self._explain(domain, service, payload, refused)}
        except BaseException:
            effect.abandon()
            raise
        try:
            result, unchanged = await self._describe_changes(called, targets, changed)
        except BaseException:
            effect.abandon()
            raise
        effect.answered(changed, unchanged)
        return result

    async def _describe_changes(
        self, called: str, targets: list[str], changed: list[dict[str, Any]]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The tool's result for a call that answered, and the current states of the targets it left as they were."""
        self.context.invalidate()
        areas = await self.context.area_of()
        result: dict[str, Any] = {
            "service": called,
            "changed": [_summary(s, areas.get(str(s.get("entity_id")))) for s in changed],
        }
        left = [t for t in targets if t not in {str(s.get("entity_id")) for s in changed}]
        if not left:
            return result, []
        states = {str(s.get("entity_id")): s for s in await self.home.get_states()}
        result["unchanged"] = [_summary(states[t], areas.get(t)) for t in left if t in states]
        missing = [t for t in left if t not in states]
        if missing:
            result["unknown_entities"] = missing
        return result, [states[t] for t in left if t in states]

    async def _explain(self, domain: str, service: str, payload: dict[str, Any], refused: HomeAssistantRejected) -> str:
        """Home Assistant's refusal in words: which service, and what it did not accept."""
        try:
            services = {s.get("domain"): s.get("services") or {} for s in await self.home.get_services()}
        except HomeAssistantError:
            services = {}
        if services and service not in services.get(domain, {}):
            return f"Home Assistant has no service {domain}.{service}"
        values = ", ".join(f"{k}={v}" for k, v in payload.items() if k != "entity_id")
        reason = f" ({refused.detail})" if refused.detail else ""
        if values:
            return f"Home Assistant refused {domain}.{service}: it does not accept {values}{reason}"
        return f"Home Assistant refused {domain}.{service} for {payload.get('entity_id') or 'no entity'}{reason}"


def _only(arguments: dict[str, Any], *names: str) -> dict[str, Any]:
    unknown = set(arguments) - set(names)
    if unknown:
        raise ToolError(f"unexpected arguments: {', '.join(sorted(unknown))}")
    for name in names:
        if arguments.get(name) is not None and not isinstance(arguments[name], str):
            raise ToolError(f"{name} must be a string")
    return {name: arguments.get(name) for name in names}
