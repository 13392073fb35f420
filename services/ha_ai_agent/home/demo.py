"""An embedded demo home that speaks Home Assistant's REST API.

``make run`` needs no Home Assistant: the client talks HTTP to this app in-process (an ASGI transport),
and the tests run it as a real server on loopback. It answers the calls the agent makes, with the
same shapes as Home Assistant: ``GET /api/``, ``GET /api/states``, ``GET /api/states/{entity_id}``,
``GET /api/services``, ``POST /api/services/{domain}/{service}``, ``POST /api/template`` (only the
areas template the client sends), and its WebSocket API for state changes (``/api/websocket``:
``home/demo_websocket.py``). Like Home Assistant's, a cover with a position takes time: a service call answers
``opening`` and the cover reports ``open`` when it gets there. It records the ``traceparent`` headers it
receives, so tests can check the agent's trace reached Home Assistant.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from ha_ai_agent.home.client import AREAS_TEMPLATE
from ha_ai_agent.home.demo_websocket import websocket_endpoint
from ha_ai_agent.home.effects import SERVICE_STATES

DEMO_TOKEN = "demo-token"

AREAS = {
    "kitchen": "Kitchen",
    "living_room": "Living Room",
    "bedroom": "Bedroom",
    "office": "Office",
    "garage": "Garage",
}

# entity_id, area, state, attributes
_ENTITIES: list[tuple[str, str | None, str, dict[str, Any]]] = [
    ("light.kitchen_ceiling", "kitchen", "on", {"friendly_name": "Kitchen Ceiling Light", "brightness": 200}),
    ("light.kitchen_under_cabinet", "kitchen", "off", {"friendly_name": "Kitchen Under-Cabinet Lights"}),
    ("switch.coffee_maker", "kitchen", "off", {"friendly_name": "Coffee Maker"}),
    (
        "sensor.kitchen_temperature",
        "kitchen",
        "21.5",
        {"friendly_name": "Kitchen Temperature", "unit_of_measurement": "°C", "device_class": "temperature"},
    ),
    (
        "binary_sensor.kitchen_motion",
        "kitchen",
        "off",
        {"friendly_name": "Kitchen Motion", "device_class": "motion"},
    ),
    ("sensor.fridge_power", "kitchen", "85", {"friendly_name": "Fridge Power", "unit_of_measurement": "W"}),
    ("light.living_room_lamp", "living_room", "on", {"friendly_name": "Living Room Lamp", "brightness": 120}),
    ("light.living_room_ceiling", "living_room", "off", {"friendly_name": "Living Room Ceiling Light"}),
    ("media_player.living_room_tv", "living_room", "idle", {"friendly_name": "Living Room TV"}),
    (
        "climate.living_room",
        "living_room",
        "heat",
        {"friendly_name": "Living Room Thermostat", "temperature": 21, "current_temperature": 20.5},
    ),
    (
        "sensor.living_room_humidity",
        "living_room",
        "45",
        {"friendly_name": "Living Room Humidity", "unit_of_measurement": "%"},
    ),
    ("cover.living_room_blinds", "living_room", "open", {"friendly_name": "Living Room Blinds"}),
    ("light.bedroom_ceiling", "bedroom", "off", {"friendly_name": "Bedroom Ceiling Light"}),
    ("cover.bedroom_blinds", "bedroom", "closed", {"friendly_name": "Bedroom Blinds", "current_position": 0}),
    ("light.bedside_lamp", "bedroom", "off", {"friendly_name": "Bedside Lamp"}),
    (
        "sensor.bedroom_temperature",
        "bedroom",
        "19.8",
        {"friendly_name": "Bedroom Temperature", "unit_of_measurement": "°C"},
    ),
    (
        "binary_sensor.bedroom_window",
        "bedroom",
        "off",
        {"friendly_name": "Bedroom Window", "device_class": "window"},
    ),
    ("fan.bedroom_fan", "bedroom", "off", {"friendly_name": "Bedroom Fan"}),
    ("light.office_desk", "office", "on", {"friendly_name": "Office Desk Lamp"}),
    ("switch.office_monitor", "office", "on", {"friendly_name": "Office Monitor"}),
    (
        "sensor.office_temperature",
        "office",
        "22.1",
        {"friendly_name": "Office Temperature", "unit_of_measurement": "°C"},
    ),
    ("sensor.office_co2", "office", "650", {"friendly_name": "Office CO2", "unit_of_measurement": "ppm"}),
    ("media_player.office_speaker", "office", "off", {"friendly_name": "Office Speaker"}),
    ("cover.garage_door", "garage", "closed", {"friendly_name": "Garage Door", "device_class": "garage"}),
    ("light.garage", "garage", "off", {"friendly_name": "Garage Light"}),
    ("lock.garage_side_door", "garage", "locked", {"friendly_name": "Garage Side Door"}),
    (
        "sensor.ev_charger_power",
        "garage",
        "0",
        {"friendly_name": "EV Charger Power", "unit_of_measurement": "W"},
    ),
    ("binary_sensor.garage_motion", "garage", "off", {"friendly_name": "Garage Motion"}),
    ("input_boolean.guest_mode", None, "off", {"friendly_name": "Guest Mode"}),
    ("scene.movie_night", None, "scening", {"friendly_name": "Movie Night"}),
    ("scene.good_morning", None, "scening", {"friendly_name": "Good Morning"}),
    ("automation.morning_lights", None, "on", {"friendly_name": "Morning Lights"}),
    ("person.alex", None, "home", {"friendly_name": "Alex"}),
]

_SERVICES: dict[str, list[str]] = {
    "homeassistant": ["turn_on", "turn_off", "toggle"],
    "light": ["turn_on", "turn_off", "toggle"],
    "switch": ["turn_on", "turn_off", "toggle"],
    "fan": ["turn_on", "turn_off", "toggle"],
    "cover": ["open_cover", "close_cover", "stop_cover", "set_cover_position"],
    "lock": ["lock", "unlock"],
    "climate": ["set_temperature", "set_hvac_mode"],
    "media_player": ["turn_on", "turn_off", "media_play", "media_pause"],
    "input_boolean": ["turn_on", "turn_off", "toggle"],
    "scene": ["turn_on"],
    "automation": ["trigger", "turn_on", "turn_off"],
}

#: The state a service passes through on its way (Home Assistant reports both).
_PASSING_THROUGH = {"lock": "locking", "unlock": "unlocking"}
#: A cover with a position moves this many percent per step, a step every COVER_STEP_SECONDS (0 to 100 in 2 s),
#: reporting each position (as Home Assistant's demo covers do, by 10 % a second).
COVER_STEP_PERCENT = 25
COVER_STEP_SECONDS = 0.5
_COVER_GOALS = {"open_cover": 100, "close_cover": 0}
#: Told of every state change: Home Assistant's ``state_changed`` event (``event_type``, ``data``, ``time_fired``).
StateChangedListener = Callable[[dict[str, Any]], None]
#: Home Assistant refuses a service call it cannot validate with this plain-text body.
BAD_REQUEST = "400: Bad Request"


class DemoHome:
    """The mutable state of one demo home."""

    def __init__(self) -> None:
        now = datetime.now(UTC).isoformat()
        self.areas = dict(AREAS)
        self.entity_areas = {entity_id: area for entity_id, area, _, _ in _ENTITIES}
        self.states: dict[str, dict[str, Any]] = {
            entity_id: {
                "entity_id": entity_id,
                "state": state,
                "attributes": copy.deepcopy(attributes),
                "last_changed": now,
                "last_updated": now,
                "context": {"id": f"demo-{i}", "parent_id": None, "user_id": None},
            }
            for i, (entity_id, _, state, attributes) in enumerate(_ENTITIES)
        }
        self.listeners: set[StateChangedListener] = set()
        self._moves: dict[str, asyncio.TimerHandle] = {}

    def close(self) -> None:
        """Stop every cover still moving (its timer would outlive the app)."""
        for handle in self._moves.values():
            handle.cancel()
        self._moves.clear()

    def call_service(self, domain: str, service: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        """Apply a service call; return every state change it made, as Home Assistant does.

        Like Home Assistant: a target already in the asked state is no change (not listed), and a lock
        passes through "locking"/"unlocking" (both states listed, in order).
        """
        targets = data.get("entity_id") or []
        if isinstance(targets, str):
            targets = [t.strip() for t in targets.split(",")]
        changed: list[dict[str, Any]] = []
        for entity_id in targets:
            state = self.states.get(entity_id)
            if state is None:
                continue
            if "current_position" in state["attributes"] and domain == "cover":
                moved = self._cover(state, service, data)
                if moved is not None:
                    changed.append(moved)
                continue
            before = copy.deepcopy((state["state"], state["attributes"]))
            new_state = SERVICE_STATES.get(service, state["state"])
            if service == "toggle":
                new_state = "off" if state["state"] == "on" else "on"
            if service == "set_temperature" and "temperature" in data:
                state["attributes"]["temperature"] = data["temperature"]
            if "brightness_pct" in data and new_state == "on":
                state["attributes"]["brightness"] = round(int(data["brightness_pct"]) * 255 / 100)
            if service in _PASSING_THROUGH and new_state != state["state"]:
                changed.append(self._set(state, _PASSING_THROUGH[service]))
            if (new_state, state["attributes"]) != before:
                changed.append(self._set(state, new_state))
        return changed

    def _set(self, state: dict[str, Any], value: str) -> dict[str, Any]:
        old = copy.deepcopy(state)
        now = datetime.now(UTC).isoformat()
        if value != state["state"]:
            state["last_changed"] = now
        state["state"] = value
        state["last_updated"] = now
        new = copy.deepcopy(state)
        event = {
            "event_type": "state_changed",
            "data": {"entity_id": state["entity_id"], "old_state": old, "new_state": new},
            "origin": "LOCAL",
            "time_fired": now,
        }
        for listener in list(self.listeners):
            listener(event)
        return copy.deepcopy(new)

    def _cover(self, state: dict[str, Any], service: str, data: dict[str, Any]) -> dict[str, Any] | None:
        """Start, or stop, a cover with a position; the state it reports now (None: no change)."""
        entity_id = state["entity_id"]
        position = int(state["attributes"]["current_position"])
        moving = self._moves.pop(entity_id, None)
        if moving is not None:
            moving.cancel()
        goal = _COVER_GOALS.get(service, data.get("position"))
        if service == "stop_cover" or not isinstance(goal, int) or goal == position:
            settled = "closed" if position == 0 else "open"
            return self._set(state, settled) if settled != state["state"] else None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside an event loop (a unit test): there at once
            state["attributes"]["current_position"] = goal
            return self._set(state, "closed" if goal == 0 else "open")
        self._moves[entity_id] = loop.call_later(COVER_STEP_SECONDS, self._step, entity_id, goal)
        return self._set(state, "opening" if goal > position else "closing")

    def _step(self, entity_id: str, goal: int) -> None:
        state = self.states[entity_id]
        position = int(state["attributes"]["current_position"])
        step = COVER_STEP_PERCENT if goal > position else -COVER_STEP_PERCENT
        position = min(goal, position + step) if step > 0 else max(goal, position + step)
        state["attributes"]["current_position"] = position
        if position == goal:
            del self._moves[entity_id]
            self._set(state, "closed" if position == 0 else "open")
            return
        self._moves[entity_id] = asyncio.get_running_loop().call_later(COVER_STEP_SECONDS, self._step, entity_id, goal)
        self._set(state, str(state["state"]))  # a new position, still moving

    def areas_payload(self) -> list[dict[str, Any]]:
        """What the areas template renders to on a real Home Assistant."""
        return [
            {
                "id": area_id,
                "name": name,
                "entities": [e for e, a in self.entity_areas.items() if a == area_id],
            }
            for area_id, name in self.areas.items()
        ]


def _valid(data: dict[str, Any]) -> bool:
    """The service data checks of Home Assistant the demo home makes (brightness in percent)."""
    level = data.get("brightness_pct", 0)
    return isinstance(level, int | float) and 0 <= level <= 100


def create_demo_home_app(token: str = DEMO_TOKEN) -> Starlette:
    """An ASGI app serving a fresh demo home behind a Bearer token."""
    home = DemoHome()
    received_traceparents: deque[str] = deque(maxlen=1000)

    def authorized(request: Request) -> bool:
        traceparent = request.headers.get("traceparent")
        if traceparent:
            received_traceparents.append(traceparent)
        return request.headers.get("authorization") == f"Bearer {token}"

    def unauthorized() -> Response:
        return JSONResponse({"message": "Unauthorized"}, status_code=401)

    async def api_root(request: Request) -> Response:
        return JSONResponse({"message": "API running."}) if authorized(request) else unauthorized()

    async def states(request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        return JSONResponse(list(home.states.values()))

    async def state(request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        found = home.states.get(request.path_params["entity_id"])
        return JSONResponse(found) if found else JSONResponse({"message": "Entity not found."}, status_code=404)

    async def services(request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        payload = [
            {
                "domain": domain,
                "services": {name: {"name": name.replace("_", " "), "fields": {}} for name in names},
            }
            for domain, names in _SERVICES.items()
        ]
        return JSONResponse(payload)

    async def call_service(request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        domain, service = request.path_params["domain"], request.path_params["service"]
        try:
            data = await request.json() if await request.body() else {}
        except ValueError:
            return JSONResponse({"message": "Data should be valid JSON."}, status_code=400)
        if not isinstance(data, dict):
            return JSONResponse({"message": "Data should be a JSON object."}, status_code=400)
        if service not in _SERVICES.get(domain, []) or not _valid(data):
            return Response(BAD_REQUEST, status_code=400, media_type="text/plain")
        return JSONResponse(home.call_service(domain, service, data))

    async def template(request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        body = await request.json()
        if body.get("template") != AREAS_TEMPLATE:
            return JSONResponse({"message": "The demo home renders only the areas template."}, status_code=400)
        return Response(json.dumps(home.areas_payload()), media_type="text/plain")

    app = Starlette(
        routes=[
            Route("/api/", api_root),
            Route("/api/states", states),
            Route("/api/states/{entity_id}", state),
            Route("/api/services", services),
            Route("/api/services/{domain}/{service}", call_service, methods=["POST"]),
            Route("/api/template", template, methods=["POST"]),
            WebSocketRoute("/api/websocket", websocket_endpoint(home, token)),
        ]
    )
    app.state.home = home
    app.state.received_traceparents = received_traceparents
    return app
