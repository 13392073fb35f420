"""The home context of the system prompt: sections cached with a TTL, fetched concurrently.

The original assembled the prompt up to three times per request and fetched the sections one after
another (1.1 s of a 3.2 s request). Here the sections are built concurrently, each cached for its
TTL, Home Assistant calls shared between sections of one build, and a section whose refresh fails
falls back to its stale value when it has one. A section that is built is a span (its Home Assistant
calls under it); one served from the cache is not (a dict lookup in a 50 µs span): the caller's span
(``message_assembly``) lists the hits and the misses instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Tracer, TracerProvider
from opentelemetry.util.types import AttributeValue
from perftrace import FollowingTracer

from ha_ai_agent.home.client import HomeAssistantClient, HomeAssistantError
from ha_ai_agent.semconv import (
    CONTEXT_CACHE_HITS,
    CONTEXT_CACHE_MISSES,
    CONTEXT_SECTION,
    CONTEXT_SECTIONS,
    CONTEXT_SPAN_PREFIX,
    CONTEXT_STALE,
)

_tracer = FollowingTracer(__name__)

SECTIONS = CONTEXT_SECTIONS
HELPER_DOMAINS = (
    "input_boolean",
    "input_number",
    "input_select",
    "input_text",
    "scene",
    "script",
    "automation",
)
DEVICE_DOMAINS = (
    "light",
    "switch",
    "sensor",
    "binary_sensor",
    "climate",
    "cover",
    "fan",
    "lock",
    "media_player",
)


@dataclass
class _Entry:
    value: Any
    expires_at: float


class _SharedFetch:
    """Home Assistant reads of one build, each made once however many sections need it."""

    def __init__(self, home: HomeAssistantClient, areas: Callable[[], Awaitable[list[dict[str, Any]]]]) -> None:
        self._home = home
        self._areas = areas
        self._tasks: dict[str, asyncio.Future[Any]] = {}

    def _once(self, key: str, make: Callable[[], Awaitable[Any]]) -> asyncio.Future[Any]:
        if key not in self._tasks:
            self._tasks[key] = asyncio.ensure_future(make())
        return self._tasks[key]

    async def states(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await asyncio.shield(self._once("states", self._home.get_states))
        return result

    async def services(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await asyncio.shield(self._once("services", self._home.get_services))
        return result

    async def areas(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await asyncio.shield(self._once("areas", self._areas))
        return result


def _name(state: dict[str, Any]) -> str:
    return str(state.get("attributes", {}).get("friendly_name") or state.get("entity_id"))


def _format_state(state: dict[str, Any]) -> str:
    unit = state.get("attributes", {}).get("unit_of_measurement")
    value = f"{state.get('state')}{' ' + unit if unit else ''}"
    return f"{_name(state)} ({state.get('entity_id')}): {value}"


class HomeContext:
    """Builds and caches the context sections; also gives the tools the area of each entity.

    Args:
        home: the Home Assistant client.
        ttl_seconds: lifetime of the sections that change often (devices, helpers and scenes).
        static_ttl_seconds: lifetime of the services section.
        areas_ttl_seconds: lifetime of the areas, ``static_ttl_seconds`` when None (an area change made in
            Home Assistant is seen within it; the tools also re-read the areas at once when asked for an
            area they do not know).
        tracer_provider: where the section spans go (the global provider if None; a ``NoOpTracerProvider``
            makes none, for tracing off or left to an agent).
    """

    def __init__(
        self,
        home: HomeAssistantClient,
        ttl_seconds: float = 900,
        static_ttl_seconds: float = 1800,
        clock: Callable[[], float] = time.monotonic,
        areas_ttl_seconds: float | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self._tracer: Tracer = _tracer if tracer_provider is None else tracer_provider.get_tracer(__name__)
        self.home = home
        areas_ttl = static_ttl_seconds if areas_ttl_seconds is None else areas_ttl_seconds
        self._ttl = {
            "devices": ttl_seconds,
            "helpers_scenes": ttl_seconds,
            "areas": areas_ttl,
            "services": static_ttl_seconds,
            "_areas": areas_ttl,
        }
        self._clock = clock
        self._cache: dict[str, _Entry] = {}
        self._locks = {name: asyncio.Lock() for name in (*SECTIONS, "_areas")}

    async def sections(self, refresh: bool = False) -> dict[str, str]:
        """All sections, the missing ones built concurrently; ``refresh`` bypasses the cache.

        The current span (``message_assembly``) gets ``context.cache_hits`` and ``context.cache_misses``;
        each miss is a ``context.<section>`` span.
        """
        # Read before any await, so a hit is served as it was when counted.
        cached = {} if refresh else {name: self._cache[name].value for name in SECTIONS if self._fresh(name)}
        misses = [name for name in SECTIONS if name not in cached]
        stage = trace.get_current_span()
        if stage.is_recording():  # not under a no-op tracer's stage: tracing is off, or an agent's
            stage.set_attributes({CONTEXT_CACHE_HITS: list(cached), CONTEXT_CACHE_MISSES: misses})
        built: dict[str, str] = {}
        if misses:  # all cached is the usual case: then no task to schedule, no wait for the event loop
            fetch = _SharedFetch(self.home, lambda: self.areas(refresh))
            texts = await asyncio.gather(*(self._build_section(name, fetch, refresh) for name in misses))
            built = dict(zip(misses, texts, strict=True))
        return {name: str(cached[name]) if name in cached else built[name] for name in SECTIONS}

    def _fresh(self, name: str) -> bool:
        entry = self._cache.get(name)
        return entry is not None and entry.expires_at > self._clock()

    async def areas(self, refresh: bool = False) -> list[dict[str, Any]]:
        """Areas with their entity ids, cached (not a section span of its own)."""
        value: list[dict[str, Any]] = await self._cached("_areas", self.home.get_areas, refresh)
        return value

    async def area_of(self, refresh: bool = False) -> dict[str, tuple[str, str]]:
        """entity_id → (area id, area name); an entity in no area of its own is in its device's area."""
        return {
            entity_id: (str(area.get("id")), str(area.get("name")))
            for area in await self.areas(refresh)
            for entity_id in area.get("entities") or []
        }

    def invalidate(self) -> None:
        """Forget the cached sections (e.g. after a service call changed states)."""
        for name in ("devices", "helpers_scenes"):
            self._cache.pop(name, None)

    async def _build_section(self, name: str, fetch: _SharedFetch, refresh: bool) -> str:
        entry = self._cache.get(name)
        attributes: dict[str, AttributeValue] = {CONTEXT_SECTION: name}
        with self._tracer.start_as_current_span(CONTEXT_SPAN_PREFIX + name, attributes=attributes) as span:
            builders = {
                "areas": self._build_areas,
                "devices": self._build_devices,
                "services": self._build_services,
                "helpers_scenes": self._build_helpers,
            }
            try:
                text: str = await self._cached(name, lambda: builders[name](fetch), refresh)
            except HomeAssistantError:
                if entry is None:
                    raise
                span.set_attribute(CONTEXT_STALE, True)
                return str(entry.value)
            return text

    async def _cached(self, key: str, build: Callable[[], Awaitable[Any]], refresh: bool) -> Any:
        async with self._locks[key]:
            entry = self._cache.get(key)
            if not refresh and entry is not None and entry.expires_at > self._clock():
                return entry.value  # another request built it while we waited
            value = await build()
            self._cache[key] = _Entry(value, self._clock() + self._ttl[key])
            return value

    async def _build_areas(self, fetch: _SharedFetch) -> str:
        return ", ".join(f"{a.get('name')} ({a.get('id')})" for a in await fetch.areas())

    async def _build_devices(self, fetch: _SharedFetch) -> str:
        states, areas = await asyncio.gather(fetch.states(), fetch.areas())
        area_names = {e: str(a.get("name")) for a in areas for e in a.get("entities") or []}
        by_area: dict[str, list[str]] = {}
        for state in states:
            entity_id = str(state.get("entity_id", ""))
            if entity_id.split(".", 1)[0] in DEVICE_DOMAINS:
                by_area.setdefault(area_names.get(entity_id, "No area"), []).append(_format_state(state))
        return "\n".join(f"{area}: " + "; ".join(items) for area, items in sorted(by_area.items()))

    async def _build_services(self, fetch: _SharedFetch) -> str:
        services = await fetch.services()
        return "\n".join(f"{s.get('domain')}: {', '.join(sorted((s.get('services') or {}).keys()))}" for s in services)

    async def _build_helpers(self, fetch: _SharedFetch) -> str:
        states = await fetch.states()
        return "\n".join(
            _format_state(s) for s in states if str(s.get("entity_id", "")).split(".", 1)[0] in HELPER_DOMAINS
        )
