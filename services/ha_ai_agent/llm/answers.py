"""The embedded model's answers, in plain sentences made from the tool results it was given."""

from __future__ import annotations

from typing import Any

from ha_ai_agent.llm.intents import READINGS, Intent

CAPABILITIES = (
    'I can tell you what is in a room ("What\'s in the kitchen?"), switch or dim lights and switches '
    '("Turn off the living room lights", "Dim the bedroom lights to 30%"), open, close, lock and unlock '
    '("Open the garage door"), answer questions about states ("Is the garage door open?"), read sensors '
    '("What\'s the temperature in the office?") and activate scenes ("Activate movie night").'
)
NOUNS = {
    None: ("device", "devices"),
    "light": ("light", "lights"),
    "switch": ("switch", "switches"),
    "sensor": ("sensor", "sensors"),
    "cover": ("cover", "covers"),
    "lock": ("lock", "locks"),
    "fan": ("fan", "fans"),
    "scene": ("scene", "scenes"),
    "climate": ("thermostat", "thermostats"),
    "media_player": ("media player", "media players"),
}
#: The domains a yes/no question about a state is about.
STATE_DOMAINS = {
    "open": ("cover", "binary_sensor", "valve"),
    "closed": ("cover", "binary_sensor", "valve"),
    "locked": ("lock",),
    "unlocked": ("lock",),
}
VERBS = {
    "turn_on": "turn on",
    "turn_off": "turn off",
    "open_cover": "open",
    "close_cover": "close",
    "lock": "lock",
    "unlock": "unlock",
}
MOVING = {"opening", "closing", "locking", "unlocking"}
OPENINGS = {"door", "window", "garage_door", "opening"}
Round = tuple[list[dict[str, Any]], list[Any]]


def joined(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def found_entities(results: list[Any]) -> list[dict[str, Any]]:
    """The entities of every ``get_entities`` result, each once."""
    seen: dict[str, dict[str, Any]] = {}
    for result in results:
        if isinstance(result, dict):
            for entity in result.get("entities") or []:
                if isinstance(entity, dict):
                    seen.setdefault(str(entity.get("entity_id")), entity)
    return list(seen.values())


def _count(n: int, domain: str | None) -> str:
    singular, plural = NOUNS.get(domain, NOUNS[None])
    return f"1 {singular}" if n == 1 else f"{n} {plural}"


def _value(entity: dict[str, Any]) -> str:
    unit = entity.get("unit")
    return f"{entity.get('state')} {unit}" if unit else str(entity.get("state"))


def _state(entity: dict[str, Any]) -> str:
    """The state in the words of a question: a door or window sensor is open/closed, not on/off."""
    state = str(entity.get("state"))
    if str(entity.get("entity_id")).startswith("binary_sensor.") and entity.get("device_class") in OPENINGS:
        return {"on": "open", "off": "closed"}.get(state, state)
    return state


def _where(results: list[Any]) -> str:
    names = [r["area_name"] for r in results if isinstance(r, dict) and r.get("area_name")]
    return f"the {joined(names)}" if names else "your home"


def answer(intent: Intent, rounds: list[Round]) -> str:
    """The final answer to ``intent`` from every tool result of this request."""
    results = [r for _, round_results in rounds for r in round_results]
    service_results = [r for r in results if isinstance(r, dict) and "service" in r]
    if service_results:
        return _acted(service_results, intent)
    errors = [str(r["error"]) for r in results if isinstance(r, dict) and "error" in r]
    if errors:
        return f"I could not look that up: {joined(errors)}."
    states = [r for r in results if isinstance(r, dict) and "entity_id" in r]
    if states:
        return " ".join(f"{r.get('name') or r['entity_id']} is {_value(r)}." for r in states)
    entities = found_entities(results)
    if intent.kind in ("act", "scene"):
        what = " ".join(intent.words) or NOUNS.get(intent.domain, NOUNS[None])[1]
        verb = VERBS.get(intent.service or "", "switch")
        return f"I found no {what} to {verb} in {_where(results)}."
    if not entities and intent.kind == "list" and not intent.areas and not intent.domain:
        return f'I found nothing called "{" ".join(intent.words)}" in your home. {CAPABILITIES}'
    if intent.kind == "read":
        return _reading(intent, entities, _where(results))
    if intent.kind == "ask":
        return _asked(intent, entities, _where(results))
    return " ".join(_listed(intent, r) for r in results if isinstance(r, dict) and "entities" in r)


def _listed(intent: Intent, result: dict[str, Any]) -> str:
    where = _where([result])
    entities = list(result.get("entities") or [])
    if intent.only_state:
        entities = [e for e in entities if e.get("state") == intent.only_state]
        if not entities:
            return f"No {NOUNS.get(intent.domain, NOUNS[None])[1]} are {intent.only_state} in {where}."
        verb = "is" if len(entities) == 1 else "are"
        items = joined([str(e.get("name")) for e in entities])
        return f"In {where}, {_count(len(entities), intent.domain)} {verb} {intent.only_state}: {items}."
    if not entities:
        return f"I found no {NOUNS.get(intent.domain, NOUNS[None])[1]} in {where}."
    verb = "is" if len(entities) == 1 else "are"
    items = joined([f"{e.get('name')} ({_value(e)})" for e in entities])
    return f"In {where} there {verb} {_count(len(entities), intent.domain)}: {items}."


def _asked(intent: Intent, entities: list[dict[str, Any]], where: str) -> str:
    domains = STATE_DOMAINS.get(intent.state or "")
    relevant = [e for e in entities if domains is None or str(e.get("entity_id")).split(".", 1)[0] in domains]
    relevant = relevant or entities
    if not relevant:
        return f"I found no {' '.join(intent.words) or 'such device'} in {where}."
    matching = [e for e in relevant if _state(e) == intent.state]
    opening = "Yes" if len(matching) == len(relevant) else "No" if not matching else "Not all"
    told = joined([f"{e.get('name')} is {_state(e)}" for e in relevant])
    return f"{opening}, {told}." if len(relevant) == 1 else f"{opening}: {told}."


def _reading(intent: Intent, entities: list[dict[str, Any]], where: str) -> str:
    reading = intent.reading or "temperature"
    asks, units = READINGS[reading]
    device_class = reading.replace(" ", "_")
    sensors = [
        e
        for e in entities
        if e.get("device_class") == device_class
        or any(word in str(e.get("name")).lower() for word in (reading, *asks[:1]))
        or (e.get("unit") in units and units != ("%",))
    ]
    if not sensors:
        return f"I found no {reading} sensor in {where}."
    return "; ".join(f"{e.get('name')} is {_value(e)}" for e in sensors) + "."


def _as_it_was(entity: dict[str, Any]) -> str:
    """A target the call did not change: already so, or still on its way somewhere ("opening")."""
    moving = str(entity.get("state")) in MOVING
    return f"{entity.get('name')} is {'still' if moving else 'already'} {_value(entity)}"


def _acted(results: list[dict[str, Any]], intent: Intent) -> str:
    """One answer for every service call of the request: what changed, what already was, what failed."""
    changed = [e for r in results for e in r.get("changed") or []]
    unchanged = [e for r in results for e in r.get("unchanged") or []]
    scenes = [e for e in changed + unchanged if str(e.get("entity_id")).startswith("scene.")]
    sentences = []
    if scenes:
        sentences.append(f"Activated the scene {joined([str(e.get('name')) for e in scenes])}.")
    elif changed:
        level = intent.data.get("brightness_pct")
        at = f" at {level}% brightness" if level is not None else ""
        sentences.append("Done: " + joined([f"{e.get('name')} is now {_value(e)}{at}" for e in changed]) + ".")
    if unchanged and not scenes:
        sentences.append(joined([_as_it_was(e) for e in unchanged]) + ".")
    for result in results:
        if "error" in result:
            sentences.append(f"I could not do that: {result['error']}.")
        elif result.get("pending"):
            sentences.append(f"{result.get('message')}. Ask me again in a moment to see the result.")
        for entity_id in result.get("unknown_entities") or []:
            sentences.append(f"Home Assistant does not know {entity_id}.")
    return " ".join(dict.fromkeys(sentences)) or "Home Assistant carried out the request; nothing reported a change."
