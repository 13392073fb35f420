"""Home Assistant's REST API over httpx (instrumented, so ``traceparent`` reaches Home Assistant)."""

from __future__ import annotations

import json
from typing import Any

import httpx

#: Rendered by Home Assistant's ``POST /api/template``: the area registry is not in ``/api/states``.
AREAS_TEMPLATE = (
    "{% set ns = namespace(items=[]) %}{% for a in areas() %}"
    "{% set ns.items = ns.items + [{'id': a, 'name': area_name(a), 'entities': area_entities(a)}] %}"
    "{% endfor %}{{ ns.items | tojson }}"
)


class HomeAssistantError(Exception):
    """Home Assistant answered the request with an error."""


class HomeAssistantUnavailable(HomeAssistantError):
    """Home Assistant could not be reached, timed out, or failed (5xx)."""


class HomeAssistantClient:
    """The calls the agent makes to Home Assistant.

    Args:
        http: an ``httpx.AsyncClient`` whose ``base_url`` is Home Assistant's and whose headers carry
            the Bearer token (see ``create``).
    """

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    @classmethod
    def create(
        cls,
        base_url: str,
        token: str,
        timeout_seconds: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> HomeAssistantClient:
        """A client for the Home Assistant at ``base_url`` (``transport`` for the in-process demo)."""
        http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=timeout_seconds,
            transport=transport,
        )
        return cls(http)

    async def _request(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = await self.http.request(method, path, json=body)
        except httpx.TransportError as error:
            raise HomeAssistantUnavailable(f"Home Assistant is unreachable: {type(error).__name__}") from error
        if response.status_code >= 500:
            raise HomeAssistantUnavailable(f"Home Assistant failed with HTTP {response.status_code}")
        if response.status_code == 401:
            raise HomeAssistantError("Home Assistant rejected the access token (HTTP 401)")
        if response.status_code >= 400:
            try:
                message = response.json().get("message", "")
            except ValueError:
                message = response.text[:200]
            raise HomeAssistantError(f"Home Assistant answered HTTP {response.status_code}: {message}")
        try:
            return response.json()
        except ValueError:
            return response.text

    async def ping(self) -> bool:
        """True if Home Assistant answers ``GET /api/``."""
        try:
            await self._request("GET", "/api/")
        except HomeAssistantError:
            return False
        return True

    async def get_states(self) -> list[dict[str, Any]]:
        """All entity states."""
        states = await self._request("GET", "/api/states")
        return list(states) if isinstance(states, list) else []

    async def get_state(self, entity_id: str) -> dict[str, Any] | None:
        """One entity's state, or None if Home Assistant has no such entity."""
        try:
            state = await self._request("GET", f"/api/states/{entity_id}")
        except HomeAssistantUnavailable:
            raise
        except HomeAssistantError:
            return None
        return state if isinstance(state, dict) else None

    async def get_services(self) -> list[dict[str, Any]]:
        """The service domains and their services."""
        services = await self._request("GET", "/api/services")
        return list(services) if isinstance(services, list) else []

    async def call_service(self, domain: str, service: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        """Call a service; returns the states it changed."""
        changed = await self._request("POST", f"/api/services/{domain}/{service}", data)
        return list(changed) if isinstance(changed, list) else []

    async def get_areas(self) -> list[dict[str, Any]]:
        """Areas with their entity ids, rendered by Home Assistant's template API."""
        rendered = await self._request("POST", "/api/template", {"template": AREAS_TEMPLATE})
        areas = json.loads(rendered) if isinstance(rendered, str) else rendered
        return list(areas) if isinstance(areas, list) else []

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()
