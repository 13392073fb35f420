"""Time to effect: a span per entity from a service call until Home Assistant reports the state asked for.

A service call's answer says what Home Assistant started, not what happened in the home: a cover answers
``opening`` and is ``open`` seconds later. ``EffectWatcher`` hears every state change (``StateChangeStream``)
and, for each entity a call touched, makes a ``home_effect`` span under the call's ``tool_execution``: it
starts when the call is sent, carries each state reported on the way as an event, and ends when Home Assistant
reports the target state, or at the bound, marked as timed out. The span is made when the call has answered
and ended from the event loop later on, so the chat's answer never waits for it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from opentelemetry import context as otel_context
from opentelemetry.trace import Span, Status, StatusCode, Tracer
from perftrace import FollowingTracer

from ha_ai_agent.home.state_changes import StateChangeStream
from ha_ai_agent.semconv import (
    EFFECT_CANCELLED,
    EFFECT_REACHED,
    EFFECT_TIMEOUT,
    EFFECT_UNOBSERVED,
    HA_DOMAIN,
    HA_EFFECT_FINAL_STATE,
    HA_EFFECT_GROUP,
    HA_EFFECT_OUTCOME,
    HA_EFFECT_TARGET,
    HA_ENTITY_ID,
    HA_SERVICE,
    HA_STATE,
    HA_STATE_CHANGED_EVENT,
    HOME_EFFECT,
)

#: The state a service asks of its targets, whatever their domain (the demo home sets the same).
SERVICE_STATES: Final = {
    "turn_on": "on",
    "turn_off": "off",
    "open_cover": "open",
    "close_cover": "closed",
    "lock": "locked",
    "unlock": "unlocked",
    "media_play": "playing",
    "media_pause": "paused",
}
#: Domains whose state is not what their services change (a scene's state is when it last ran).
_NO_TARGET_DOMAINS = frozenset({"scene", "script", "automation", "button", "notify"})
_tracer = FollowingTracer(__name__)
#: States kept per entity at most: a device that flaps for the whole bound does not grow memory.
MAX_STATES_PER_EFFECT = 32


@dataclass
class Target:
    """What a call asked of an entity: a state, or an attribute's value; neither yet for ``toggle``."""

    state: str | None = None
    attribute: tuple[str, Any] | None = None

    @property
    def decided(self) -> bool:
        """Whether the target is known (a toggle's is the state its call reports)."""
        return self.state is not None or self.attribute is not None

    def describe(self) -> str:
        """``open``, or ``temperature=21``."""
        if self.attribute is not None:
            return f"{self.attribute[0]}={self.attribute[1]}"
        return self.state or "?"

    def met_by(self, state: dict[str, Any] | None) -> bool:
        """Whether Home Assistant's state object shows the target."""
        if state is None:
            return False
        if self.attribute is not None:
            name, value = self.attribute
            return bool((state.get("attributes") or {}).get(name) == value)
        return self.state is not None and state.get("state") == self.state


def target_of(domain: str, service: str, data: dict[str, Any]) -> Target | None:
    """The target a service call sets, or None when it has none to wait for (a scene, an unknown service)."""
    if domain in _NO_TARGET_DOMAINS:
        return None
    if service == "toggle":
        return Target()  # the state the call's answer reports
    if service == "set_hvac_mode" and isinstance(data.get("hvac_mode"), str):
        return Target(state=data["hvac_mode"])
    if service == "set_temperature" and isinstance(data.get("temperature"), int | float):
        return Target(attribute=("temperature", data["temperature"]))
    if service == "set_cover_position" and isinstance(data.get("position"), int):
        return Target(attribute=("current_position", data["position"]))
    state = SERVICE_STATES.get(service)
    return Target(state=state) if state else None


class _Effect:
    """One entity's way to its target, from the call on."""

    def __init__(self, entity_id: str, service: str, target: Target, parent: otel_context.Context) -> None:
        self.entity_id = entity_id
        self.service = service
        self.target = target
        self.parent = parent
        self.started_ns = time.time_ns()
        self.states: list[tuple[int, str]] = []  # (when, state) as Home Assistant reported them
        self.final_state: str | None = None
        self.reached_ns: int | None = None
        self.span: Span | None = None
        self.timer: asyncio.TimerHandle | None = None

    def observe(self, state: dict[str, Any] | None, now_ns: int) -> None:
        value = str(state.get("state")) if state else "removed"
        if value != self.final_state and len(self.states) < MAX_STATES_PER_EFFECT:
            self.states.append((now_ns, value))
            if self.span is not None:
                self.span.add_event(HA_STATE_CHANGED_EVENT, {HA_STATE: value}, timestamp=now_ns)
        self.final_state = value
        if self.reached_ns is None and self.target.met_by(state):
            self.reached_ns = now_ns


class EffectWatcher:
    """Watches the entities of service calls until their target state, each as a ``home_effect`` span.

    Args:
        timeout_seconds: the bound: an entity not in its target state by then gets a span ended there,
            outcome ``timeout``, status ERROR.
        tracer: where the spans are made.
    """

    def __init__(self, timeout_seconds: float, tracer: Tracer = _tracer) -> None:
        self.tracer = tracer
        self.timeout_seconds = timeout_seconds
        self.stream: StateChangeStream | None = None
        self._by_entity: dict[str, list[_Effect]] = {}
        self._open: set[_Effect] = set()  # spans made, not yet ended

    def on_state(self, entity_id: str, state: dict[str, Any] | None) -> None:
        """A state change from Home Assistant (the stream's listener)."""
        effects = self._by_entity.get(entity_id)
        if not effects:
            return
        now_ns = time.time_ns()
        for effect in list(effects):
            effect.observe(state, now_ns)
            if effect.reached_ns is not None and effect.span is not None:
                self._end(effect, EFFECT_REACHED, effect.reached_ns)

    def begin(self, domain: str, service: str, entity_ids: list[str], data: dict[str, Any]) -> EffectCall:
        """Start watching the targets of a call about to be sent; the current span is the spans' parent."""
        target = target_of(domain, service, data)
        observed = self.stream is not None and self.stream.connected
        effects = []
        if target is not None:
            parent = otel_context.get_current()
            for entity_id in entity_ids:
                effect = _Effect(entity_id, f"{domain}.{service}", Target(target.state, target.attribute), parent)
                self._by_entity.setdefault(entity_id, []).append(effect)
                effects.append(effect)
        return EffectCall(self, effects, observed)

    async def aclose(self) -> None:
        """End every open span (outcome ``cancelled``) and stop the stream."""
        now_ns = time.time_ns()
        for effect in list(self._open):
            self._end(effect, EFFECT_CANCELLED, now_ns)
        self._by_entity.clear()
        if self.stream is not None:
            await self.stream.aclose()

    def follow(self, effect: _Effect, answered: dict[str, Any] | None, observed: bool) -> None:
        """The call has answered: make the span and end it now, or when the state or the bound comes."""
        if not effect.target.decided and answered is not None:
            wanted = effect.target.state = str(answered.get("state"))
            effect.reached_ns = next((when for when, value in effect.states if value == wanted), None)
        span = self.tracer.start_span(
            HOME_EFFECT,
            context=effect.parent,
            start_time=effect.started_ns,
            attributes={
                HA_ENTITY_ID: effect.entity_id,
                HA_DOMAIN: effect.entity_id.split(".", 1)[0],
                HA_SERVICE: effect.service,
                HA_EFFECT_TARGET: effect.target.describe(),
            },
        )
        for when, value in effect.states:
            span.add_event(HA_STATE_CHANGED_EVENT, {HA_STATE: value}, timestamp=when)
        effect.span = span
        self._open.add(effect)
        now_ns = time.time_ns()
        if effect.reached_ns is not None:
            self._end(effect, EFFECT_REACHED, effect.reached_ns)
        elif not observed:
            effect.final_state = effect.final_state or (str(answered.get("state")) if answered else None)
            self._end(effect, EFFECT_UNOBSERVED, now_ns)
        else:
            deadline_ns = effect.started_ns + int(self.timeout_seconds * 1e9)
            delay = max(0.0, (deadline_ns - now_ns) / 1e9)
            effect.timer = asyncio.get_running_loop().call_later(delay, self._end, effect, EFFECT_TIMEOUT, deadline_ns)

    def forget(self, effect: _Effect) -> None:
        """Stop hearing the entity's state changes for this effect."""
        effects = self._by_entity.get(effect.entity_id)
        if effects and effect in effects:
            effects.remove(effect)
            if not effects:
                del self._by_entity[effect.entity_id]

    def _end(self, effect: _Effect, outcome: str, end_ns: int) -> None:
        self.forget(effect)
        if effect.timer is not None:
            effect.timer.cancel()
        span = effect.span
        if span is None or effect not in self._open:
            return
        self._open.discard(effect)
        span.set_attribute(HA_EFFECT_OUTCOME, outcome)
        if outcome in (EFFECT_REACHED, EFFECT_TIMEOUT):  # the others' time measures no effect
            span.set_attribute(HA_EFFECT_GROUP, effect.entity_id.split(".", 1)[0])
        if effect.final_state is not None:
            span.set_attribute(HA_EFFECT_FINAL_STATE, effect.final_state)
        if outcome == EFFECT_TIMEOUT:
            span.set_status(
                Status(
                    StatusCode.ERROR,
                    f"{effect.entity_id} did not reach {effect.target.describe()} within {self.timeout_seconds:g} s",
                )
            )
        span.end(end_time=end_ns)


class EffectCall:
    """The entities of one service call being watched; the tool tells it how the call went."""

    #: Nothing watched (no watcher, or a call without a target state).
    NONE: ClassVar[EffectCall]

    def __init__(self, watcher: EffectWatcher | None, effects: list[_Effect], observed: bool) -> None:
        self._watcher = watcher
        self._effects = effects
        self._observed = observed

    def answered(self, changed: list[dict[str, Any]], unchanged: list[dict[str, Any]]) -> None:
        """The call returned the states it changed; ``unchanged`` are the other targets' current states.

        A target that changed is followed; one that did not and is already in its target state had nothing
        to do (no span); one that did not but is not there yet (a cover still moving) is followed too.
        """
        if self._watcher is None:
            return
        states = {str(s.get("entity_id")): s for s in changed}
        current = {str(s.get("entity_id")): s for s in unchanged}
        for effect in self._effects:
            state = states.get(effect.entity_id)
            if state is None:
                now = current.get(effect.entity_id)
                if now is None or not effect.target.decided or effect.target.met_by(now):
                    self._watcher.forget(effect)
                    continue
                state = now
            self._watcher.follow(effect, state, self._observed)

    def still_working(self) -> None:
        """The call did not answer in time; Home Assistant carries on with it: follow every target."""
        if self._watcher is not None:
            for effect in self._effects:
                self._watcher.follow(effect, None, self._observed)

    def abandon(self) -> None:
        """The call was refused or failed: nothing to follow."""
        if self._watcher is not None:
            for effect in self._effects:
                self._watcher.forget(effect)


EffectCall.NONE = EffectCall(None, [], observed=False)
