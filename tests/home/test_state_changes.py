"""Home Assistant's WebSocket messages as the demo home speaks them, and the agent's connection over a real socket."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from fastapi.testclient import TestClient
from ha_ai_agent.app import create_app
from ha_ai_agent.config import Settings
from ha_ai_agent.home.demo import DEMO_TOKEN, create_demo_home_app
from ha_ai_agent.runtime import Runtime
from ha_ai_agent.semconv import EFFECT_REACHED
from pydantic import SecretStr
from testsupport.processes import free_port, poll
from testsupport.servers import serve_in_thread
from websockets.sync.client import ClientConnection, connect

from tests.home.effect_spans import export_spans, outcome, states_reported, wait_for_effect


def slow_to_act(app: Any, delay_s: float) -> Any:
    """The demo home, carrying out each service call ``delay_s`` after it arrived (the caller may have given up)."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/services/") or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        messages = [await receive()]
        while messages[-1].get("more_body"):
            messages.append(await receive())
        await asyncio.sleep(delay_s)

        async def replay() -> Any:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        await app(scope, replay, send)

    return wrapped


def receive(websocket: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(websocket.recv(timeout=5))
    return message


@contextmanager
def logged_in(url: str, token: str = DEMO_TOKEN) -> Iterator[ClientConnection]:
    with connect(url.replace("http://", "ws://") + "/api/websocket", open_timeout=5) as websocket:
        assert receive(websocket)["type"] == "auth_required"
        websocket.send(json.dumps({"type": "auth", "access_token": token}))
        yield websocket


def test_the_demo_home_speaks_home_assistants_websocket_messages() -> None:
    app = create_demo_home_app()
    with serve_in_thread(app) as url:
        with logged_in(url, token="wrong") as refused:
            assert receive(refused)["type"] == "auth_invalid"
        with logged_in(url) as websocket:
            assert receive(websocket)["type"] == "auth_ok"
            websocket.send(json.dumps({"id": 1, "type": "ping"}))
            assert receive(websocket) == {"id": 1, "type": "pong"}
            websocket.send(json.dumps({"id": 2, "type": "get_panels"}))
            assert receive(websocket)["error"]["code"] == "unknown_command"
            websocket.send(json.dumps({"id": 3, "type": "subscribe_events", "event_type": "state_changed"}))
            assert receive(websocket) == {"id": 3, "type": "result", "success": True, "result": None}
            app.state.home.call_service("light", "turn_on", {"entity_id": "light.garage"})
            event = receive(websocket)
            assert event["id"] == 3 and event["type"] == "event"
            assert event["event"]["event_type"] == "state_changed"
            data = event["event"]["data"]
            assert data["entity_id"] == "light.garage"
            assert (data["old_state"]["state"], data["new_state"]["state"]) == ("off", "on")
            websocket.send(json.dumps({"id": 4, "type": "unsubscribe_events", "subscription": 3}))
            assert receive(websocket)["success"] is True
            assert not app.state.home.listeners


def test_a_call_still_running_at_the_timeout_gets_its_effect_when_home_assistant_reports_it(
    settings: Settings,
) -> None:
    with serve_in_thread(slow_to_act(create_demo_home_app(), delay_s=1.0)) as url:
        slow = settings.model_copy(update={"ha_url": url, "ha_token": SecretStr(DEMO_TOKEN), "ha_timeout_seconds": 0.3})
        with TestClient(create_app(slow)) as client:
            runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
            assert runtime.effects is not None and runtime.effects.stream is not None
            assert client.portal.call(runtime.effects.stream.wait_connected, 5.0)  # type: ignore[union-attr]
            exporter = export_spans(runtime)
            body = client.post("/api/v1/chat", json={"message": "Turn on the garage light"}).json()
            assert "still carrying out light.turn_on" in body["message"]
            effect = wait_for_effect(exporter, body["metadata"]["trace_id"], "light.garage")
    assert outcome(effect) == EFFECT_REACHED and states_reported(effect) == ["on"]
    assert effect.start_time is not None and effect.end_time is not None
    assert (effect.end_time - effect.start_time) / 1e9 >= 1.0  # when the home reported it, not when the call gave up


def test_the_connection_comes_back_after_home_assistant_restarts(settings: Settings) -> None:
    app, port = create_demo_home_app(), free_port()
    first = ExitStack()
    url = first.enter_context(serve_in_thread(app, port))
    real = settings.model_copy(update={"ha_url": url, "ha_token": SecretStr(DEMO_TOKEN)})
    with first, TestClient(create_app(real)) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        assert runtime.effects is not None and runtime.effects.stream is not None
        stream = runtime.effects.stream
        assert client.portal.call(stream.wait_connected, 5.0)  # type: ignore[union-attr]
        exporter = export_spans(runtime)
        first.close()  # Home Assistant stops
        poll(lambda: not stream.connected, 15, interval_s=0.05, what="the connection seen lost")
        with serve_in_thread(app, port):
            back = time.monotonic()
            poll(lambda: stream.connected, 15, interval_s=0.05, what="the connection back")
            print(f"reconnected {time.monotonic() - back:.1f}s after Home Assistant came back")
            body = client.post("/api/v1/chat", json={"message": "Open the bedroom blinds"}).json()
            effect = wait_for_effect(exporter, body["metadata"]["trace_id"], "cover.bedroom_blinds")
    assert outcome(effect) == EFFECT_REACHED
