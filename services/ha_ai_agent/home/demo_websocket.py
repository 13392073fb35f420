"""The demo home's ``/api/websocket``: the part of Home Assistant's WebSocket API that state changes need.

Authentication (``auth_required``, ``auth`` → ``auth_ok`` or ``auth_invalid``), then commands with an ``id``:
``subscribe_events`` (every ``state_changed`` event comes as ``{"id", "type": "event", "event"}``),
``unsubscribe_events`` and ``ping``; any other command is answered with Home Assistant's ``unknown_command``
error. Everything is sent through one queue, so replies and events never interleave within a frame.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect

if TYPE_CHECKING:
    from ha_ai_agent.home.demo import DemoHome, StateChangedListener

DEMO_VERSION = "demo"


def websocket_endpoint(home: DemoHome, token: str) -> Callable[[WebSocket], Awaitable[None]]:
    """The endpoint for ``home``, accepting ``token`` as its access token."""

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"type": "auth_required", "ha_version": DEMO_VERSION})
        try:
            auth = await websocket.receive_json()
        except (WebSocketDisconnect, ValueError):
            return
        if not isinstance(auth, dict) or auth.get("type") != "auth" or auth.get("access_token") != token:
            await websocket.send_json({"type": "auth_invalid", "message": "Invalid access token or password"})
            await websocket.close()
            return
        await websocket.send_json({"type": "auth_ok", "ha_version": DEMO_VERSION})
        outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        sender = asyncio.create_task(_send_all(websocket, outbox))
        session = _Session(home, outbox)
        try:
            while True:
                session.handle(await websocket.receive_json())
        except (WebSocketDisconnect, ValueError):
            pass
        finally:
            session.close()
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    return endpoint


async def _send_all(websocket: WebSocket, outbox: asyncio.Queue[dict[str, Any]]) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await websocket.send_json(await outbox.get())


class _Session:
    """The subscriptions of one connection."""

    def __init__(self, home: DemoHome, outbox: asyncio.Queue[dict[str, Any]]) -> None:
        self.home = home
        self.outbox = outbox
        self.subscriptions: dict[int, StateChangedListener] = {}

    def handle(self, message: Any) -> None:
        command_id = message.get("id") if isinstance(message, dict) else None
        if not isinstance(command_id, int):
            self._error(None, "invalid_format", "Message incorrectly formatted.")
            return
        kind = message.get("type")
        if kind == "ping":
            self.outbox.put_nowait({"id": command_id, "type": "pong"})
        elif kind == "subscribe_events":
            self._subscribe(command_id, message.get("event_type"))
        elif kind == "unsubscribe_events":
            listener = self.subscriptions.pop(message.get("subscription"), None)
            if listener is None:
                self._error(command_id, "not_found", "Subscription not found.")
                return
            self.home.listeners.discard(listener)
            self._result(command_id)
        else:
            self._error(command_id, "unknown_command", "Unknown command.")

    def close(self) -> None:
        for listener in self.subscriptions.values():
            self.home.listeners.discard(listener)
        self.subscriptions.clear()

    def _subscribe(self, command_id: int, event_type: Any) -> None:
        def listener(event: dict[str, Any]) -> None:
            if event_type in (None, event["event_type"]):
                self.outbox.put_nowait({"id": command_id, "type": "event", "event": event})

        self.subscriptions[command_id] = listener
        self.home.listeners.add(listener)
        self._result(command_id)

    def _result(self, command_id: int) -> None:
        self.outbox.put_nowait({"id": command_id, "type": "result", "success": True, "result": None})

    def _error(self, command_id: int | None, code: str, message: str) -> None:
        self.outbox.put_nowait(
            {"id": command_id, "type": "result", "success": False, "error": {"code": code, "message": message}}
        )
