"""Which entities Home Assistant exposes to its conversation agents (Settings → Voice assistants → Expose).

Home Assistant tells only over its WebSocket API (``homeassistant/expose_entity/list``, an admin command), so
this opens one connection per read, and the answer is kept for a while. Where Home Assistant does not say (the
demo home, a token without admin rights, an older Home Assistant), nothing is known and nothing is refused.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

_logger = logging.getLogger(__name__)
#: The assistant key of Home Assistant's own conversation agents (Assist and the LLM ones).
CONVERSATION = "conversation"
ExposureSource = Callable[[], Awaitable[dict[str, bool] | None]]


def websocket_exposure(base_url: str, token: str, timeout_seconds: float) -> ExposureSource:
    """A reader of Home Assistant's exposure settings: entity id → exposed to conversation agents."""
    url = base_url.replace("https://", "wss://").replace("http://", "ws://") + "/api/websocket"

    async def read() -> dict[str, bool] | None:
        try:
            async with connect(url, open_timeout=timeout_seconds, close_timeout=1) as socket:
                await socket.recv()  # auth_required
                await socket.send(json.dumps({"type": "auth", "access_token": token}))
                if json.loads(await socket.recv()).get("type") != "auth_ok":
                    return None
                await socket.send(json.dumps({"id": 1, "type": "homeassistant/expose_entity/list"}))
                reply: dict[str, Any] = json.loads(await socket.recv())
        except (OSError, TimeoutError, WebSocketException, ValueError) as error:
            _logger.warning("Cannot read which entities Home Assistant exposes: %s", type(error).__name__)
            return None
        if not reply.get("success"):
            _logger.warning("Home Assistant does not say which entities it exposes: %s", reply.get("error"))
            return None
        listed = reply["result"]["exposed_entities"]
        return {entity: bool(flags[CONVERSATION]) for entity, flags in listed.items() if CONVERSATION in flags}

    return read


class Exposure:
    """Home Assistant's exposure settings, read at most every ``ttl_seconds``."""

    def __init__(self, source: ExposureSource | None, ttl_seconds: float) -> None:
        self._source = source
        self._ttl_seconds = ttl_seconds
        self._known: dict[str, bool] | None = None
        self._read_at = -float("inf")

    async def not_exposed(self, entity_ids: list[str]) -> list[str]:
        """The entities among ``entity_ids`` that Home Assistant keeps from its conversation agents."""
        if self._source is None or not entity_ids:
            return []
        if time.monotonic() - self._read_at >= self._ttl_seconds:
            self._known = await self._source()
            self._read_at = time.monotonic()
        known = self._known or {}
        return [entity for entity in entity_ids if known.get(entity) is False]
