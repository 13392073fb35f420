"""What a user asks of the embedded model, read from their words (deterministic, no model download).

The usual ways people talk to a home: what is in an area ("What's in the kitchen?", "everything in the
office"), switching or dimming things in an area or by name ("Turn off the living room lights", "Dim the
bedroom lights to 30%", "Open the garage door"), yes/no questions about states ("Is the front door
locked?"), sensor readings ("How warm is the bedroom?") and scenes ("Activate movie night"). Areas come
from the home context of the system prompt, so the words of any home's areas are understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

#: Area words some people use for an area of another name.
AREA_ALIASES = {"lounge": "living room", "sitting room": "living room", "den": "living room"}
#: Used when the system prompt has no areas section (e.g. a client that sends no home context).
DEFAULT_AREAS = {"kitchen": "kitchen", "living room": "living_room", "bedroom": "bedroom", "office": "office"}

DOMAIN_WORDS = {
    "light": "light",
    "lights": "light",
    "lamp": "light",
    "lamps": "light",
    "lighting": "light",
    "switch": "switch",
    "switches": "switch",
    "plug": "switch",
    "plugs": "switch",
    "fan": "fan",
    "fans": "fan",
    "blind": "cover",
    "blinds": "cover",
    "shade": "cover",
    "shades": "cover",
    "shutter": "cover",
    "shutters": "cover",
    "curtains": "cover",
    "lock": "lock",
    "locks": "lock",
    "thermostat": "climate",
    "heating": "climate",
    "tv": "media_player",
    "speaker": "media_player",
    "scene": "scene",
    "scenes": "scene",
    "sensor": "sensor",
    "sensors": "sensor",
}
#: Domain words that are also in device names ("Bedside Lamp", "Living Room Fan"): searched for too.
NAMING_WORDS = {"lamp", "lamps", "fan", "fans", "tv", "speaker", "thermostat"}
#: Sensor readings: the words that ask for one and the units that answer it.
READINGS = {
    "temperature": (("temperature", "warm", "hot", "cold", "cool", "degrees"), ("°C", "°F")),
    "humidity": (("humidity", "humid"), ("%",)),
    "power": (("power", "watts", "consumption", "using"), ("W", "kW")),
    "carbon dioxide": (("co2", "carbon dioxide"), ("ppm",)),
}
#: A tuple, not a set: when a question holds two state words, the same one wins in every process.
STATE_WORDS = ("open", "closed", "locked", "unlocked", "on", "off", "running", "playing", "home")
STOP_WORDS = {
    "a", "all", "am", "and", "any", "anything", "are", "at", "be", "can", "could", "currently", "devices", "device",
    "do", "does", "every", "everything", "for", "from", "get", "give", "has", "have", "how", "i", "in", "inside", "is",
    "it", "its", "it's", "list", "me", "much", "my", "now", "of", "on", "off", "please", "right", "set", "show", "tell",
    "the", "there", "to", "turn", "switch", "up", "want", "what", "what's", "whats", "which", "would", "you", "your",
    "there's", "dim", "brighten", "open", "close", "lock", "unlock", "activate", "start", "run", "percent", "state",
    "status", "level", "reading", "home", "house", "room", "things", "stuff", "hey", "ok", "so", "too", "like",
    "know", "let", "check", "whether", "if", "will", "wanna", "put", "lights", "light", "them", "they", "shut", "flip",
    "switched", "turned", "using", "out",
}  # fmt: skip
QUESTION_STARTS = ("is ", "are ", "was ", "were ", "did ", "has ", "have ")
#: Starts of a question even when it holds "on" or "off" ("Which lights are on?").
ASKING_STARTS = (*QUESTION_STARTS, "which ", "what ", "how ", "where ", "who ", "tell me ", "show ", "list ")
POLITE_STARTS = ("can you ", "could you ", "would you ", "will you ", "please ", "hey ", "ok ", "i want you to ")


@dataclass(frozen=True)
class Intent:
    """One request in the terms of the tools.

    ``kind`` is ``list`` (what is there), ``act`` (call a service on what is found), ``ask`` (a yes/no
    question about ``state``), ``read`` (a sensor ``reading``), ``scene`` or ``help`` (not understood).
    """

    kind: str
    areas: tuple[str, ...] = ()
    domain: str | None = None
    words: tuple[str, ...] = ()
    service: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    state: str | None = None
    reading: str | None = None
    only_state: str | None = None

    def lookups(self) -> list[dict[str, Any]]:
        """The ``get_entities`` arguments that find what the request is about, one per area."""
        base: dict[str, Any] = {}
        if self.domain:
            base["domain"] = self.domain
        if self.words:
            base["search"] = " ".join(self.words)
        if not self.areas:
            return [base] if base else []
        return [{"area": area, **base} for area in self.areas]


def areas_from_prompt(messages: list[dict[str, Any]]) -> dict[str, str]:
    """Area words → area id, from the ``## Areas`` section of the system prompt (``Name (id), …``)."""
    for message in messages:
        if message.get("role") != "system":
            continue
        found = re.search(r"^## Areas\n(.+)$", str(message.get("content") or ""), re.MULTILINE)
        if found:
            pairs = re.findall(r"\s*([^,()]+?) \(([^()]+)\)", found.group(1))
            return {name.lower(): area_id for name, area_id in pairs} | {
                area_id.replace("_", " "): area_id for _, area_id in pairs
            }
    return dict(DEFAULT_AREAS)


def _find_areas(text: str, areas: dict[str, str]) -> tuple[list[str], str]:
    """Area ids named in ``text`` (first mention first) and the text without them."""
    for alias, name in AREA_ALIASES.items():
        if name in areas:
            text = re.sub(rf"\b{alias}\b", name, text)
    found: list[tuple[int, str]] = []
    for words in sorted(areas, key=len, reverse=True):
        match = re.search(rf"\b{re.escape(words)}\b", text)
        if match and areas[words] not in (a for _, a in found):
            found.append((match.start(), areas[words]))
            text = text[: match.start()] + " " + text[match.end() :]
    return [area for _, area in sorted(found)], text


def _name_words(text: str) -> tuple[str, ...]:
    words = re.findall(r"[a-z0-9][a-z0-9'+-]*", text)
    skipped = STOP_WORDS | set(STATE_WORDS) | (set(DOMAIN_WORDS) - NAMING_WORDS)
    return tuple(w for w in words if w not in skipped and not w.isdigit())


def _action(text: str) -> tuple[str, str | None, dict[str, Any]] | None:
    """(service, domain it implies, data) for an action request, else None."""
    percent = re.search(r"(\d{1,3})\s*(%|percent)", text)
    if re.search(r"\b(dim|brighten)\b", text) or (percent and re.search(r"\bset\b", text)):
        level = int(percent.group(1)) if percent else (30 if "dim" in text else 100)
        return "turn_on", "light", {"brightness_pct": level}
    for verb, service, domain in (
        ("unlock", "unlock", "lock"),
        ("lock", "lock", "lock"),
        ("open", "open_cover", "cover"),
        ("close", "close_cover", "cover"),
        ("shut", "close_cover", "cover"),
    ):
        if re.search(rf"^(?:\w+ ){{0,3}}{verb}\b", text):
            return service, domain, {}
    switched = re.search(r"\b(turn|switch|put|flip|shut)\b.*?\b(on|off)\b", text) or re.search(
        r"^(?:\w+ ){0,3}(?:lights?|lamps?|everything|all|fans?)\s+(on|off)\b", text
    )
    if switched:
        return ("turn_on" if switched.group(switched.lastindex or 1) == "on" else "turn_off"), None, {}
    return None


def parse_intent(text: str, areas: dict[str, str]) -> Intent:
    """Read one user message."""
    lowered = " ".join(re.sub(r"[?!.,;:]", " ", text.lower()).split())
    for start in POLITE_STARTS:
        if lowered.startswith(start):
            lowered = lowered[len(start) :]
    area_ids, rest = _find_areas(lowered, areas)
    words = _name_words(rest)
    # The last domain word: in "switch off the kitchen lights" the first "switch" is the verb.
    named = re.findall(r"[a-z0-9]+", re.sub(r"^switch\b", "", rest.strip()))
    domain = next((DOMAIN_WORDS[w] for w in reversed(named) if w in DOMAIN_WORDS), None)
    question = lowered.startswith(QUESTION_STARTS)
    if not question and ("scene" in lowered or re.match(r"(activate|run|start)\b", lowered)):
        return Intent("scene", domain="scene", words=words, service="turn_on")
    action = None if lowered.startswith(ASKING_STARTS) else _action(lowered)
    if action is not None:
        service, implied, data = action
        everything = re.search(r"\b(everything|all)\b", lowered) is not None and domain is None
        return Intent("act", tuple(area_ids), None if everything else domain or implied, words, service, data)
    reading = next((r for r, (asks, _) in READINGS.items() if any(re.search(rf"\b{a}\b", lowered) for a in asks)), None)
    if reading is not None:
        kept = tuple(w for w in words if w not in READINGS[reading][0])
        return Intent("read", tuple(area_ids), "sensor", kept, reading=reading)
    state = next((s for s in STATE_WORDS if re.search(rf"\b{s}\b", lowered)), None)
    if question and state is not None:
        return Intent("ask", tuple(area_ids), domain, words, state=state)
    if area_ids or domain or re.search(r"\b(what|which|list|show)\b", lowered) and words:
        only = "on" if re.search(r"\b(are|is)\b.*\bon( right)?( now)?$", lowered) else None
        return Intent("list", tuple(area_ids), domain, () if area_ids else words, only_state=only)
    return Intent("help")
