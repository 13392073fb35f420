"""Home Assistant's state changes, read from its WebSocket API over one connection that reconnects.

The messages are Home Assistant's (``developers.home-assistant.io/docs/api/websocket``): the server sends
``auth_required``, the client ``{"type": "auth", "access_token": …}``, the server ``auth_ok`` (or
``auth_invalid``), then the client subscribes with ``{"id": 1, "type": "subscribe_events", "event_type":
"state_changed"}`` and every change comes as ``{"id": 1, "type": "event", "event": {"data": {"entity_id", …,
"new_state"}}}``. ``httpx-ws`` speaks the WebSocket protocol over httpx, so the same code reaches a real Home
Assistant over the network and the embedded demo home in-process (its ASGI transport).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx
from httpx_ws import AsyncWebSocketSession, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.types import ASGIApp

_logger = logging.getLogger(__name__)

WEBSOCKET_PATH = "/api/websocket"
SUBSCRIPTION_ID = 1
#: Waits between attempts to reconnect grow from the first to the last (seconds).
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0

#: Called with the entity id and its new state (Home Assistant's state object, None when removed).
StateListener = Callable[[str, dict[str, Any] | None], None]


class StateChangeStream:
    """One subscription to ``state_changed`` for the service's lifetime; ``connected`` while it holds.

    Args:
        base_url: Home Assistant's address (``http://host:8123``); the WebSocket is at ``/api/websocket``.
        token: the long-lived access token the REST client uses too.
        listener: called for every state change, on the event loop; must not block.
        app: the embedded demo home, reached in-process instead of over the network.
        open_timeout_seconds: how long connecting and logging in may take.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        listener: StateListener,
        app: ASGIApp | None = None,
        open_timeout_seconds: float = 10.0,
    ) -> None:
        self.url = base_url.rstrip("/") + WEBSOCKET_PATH
        self._token = token
        self._listener = listener
        self._app = app
        self._open_timeout_seconds = open_timeout_seconds
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """Whether state changes are being received now."""
        return self._connected.is_set()

    async def wait_connected(self, timeout_seconds: float) -> bool:
        """Wait until the subscription holds; False when it did not within the timeout."""
        try:
            await asyncio.wait_for(self._connected.wait(), timeout_seconds)
        except TimeoutError:
            return False
        return True

    def start(self) -> None:
        """Connect in the background (and keep reconnecting); returns at once."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ha-state-changes")

    async def aclose(self) -> None:
        """Close the connection and stop reconnecting."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._connected.clear()

    async def _run(self) -> None:
        wait = RETRY_FIRST_SECONDS
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # any failure of the connection: say so once per outage, reconnect
                if self.connected or wait == RETRY_FIRST_SECONDS:
                    _logger.warning("Home Assistant state changes unavailable (%s); reconnecting", error)
            if self.connected:
                wait = RETRY_FIRST_SECONDS  # it had connected: a new outage starts from the first wait
                self._connected.clear()
            await asyncio.sleep(wait)
            wait = min(wait * 2, RETRY_MAX_SECONDS)

    async def _session(self) -> None:
        transport = ASGIWebSocketTransport(app=self._app) if self._app is not None else None
        # Its own client, not the instrumented REST one: the upgrade request is no span of a chat's trace.
        async with (
            httpx.AsyncClient(transport=transport, timeout=self._open_timeout_seconds) as client,
            aconnect_ws(self.url, client, session_class=AsyncWebSocketSession) as websocket,
        ):
            async with asyncio.timeout(self._open_timeout_seconds):
                await _expect(websocket, "auth_required")
                await websocket.send_json({"type": "auth", "access_token": self._token})
                await _expect(websocket, "auth_ok")
                await websocket.send_json(
                    {"id": SUBSCRIPTION_ID, "type": "subscribe_events", "event_type": "state_changed"}
                )
                result = await websocket.receive_json()
                if result.get("id") != SUBSCRIPTION_ID or not result.get("success"):
                    raise ConnectionError(f"Home Assistant refused the subscription: {result}")
            self._connected.set()
            _logger.info("Receiving Home Assistant state changes from %s", self.url)
            while True:
                self._dispatch(await websocket.receive_json())

    def _dispatch(self, message: Any) -> None:
        if not isinstance(message, dict) or message.get("type") != "event" or message.get("id") != SUBSCRIPTION_ID:
            return
        data = (message.get("event") or {}).get("data") or {}
        entity_id = data.get("entity_id")
        if isinstance(entity_id, str):
            try:
                self._listener(entity_id, data.get("new_state"))
            except Exception:  # a listener's bug must not end the subscription
                _logger.exception("A state change listener failed")


async def _expect(websocket: AsyncWebSocketSession, kind: str) -> None:
    message = await websocket.receive_json()
    if not isinstance(message, dict) or message.get("type") != kind:
        raise ConnectionError(f"Home Assistant answered {message!r} where {kind} was expected")
