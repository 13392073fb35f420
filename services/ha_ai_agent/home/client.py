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


class HomeAssistantRejected(HomeAssistantError):
    """Home Assistant refused the request (4xx); ``detail`` is its reason when it gave one.

    A refused service call answers ``400`` with the plain text ``400: Bad Request`` (an unknown service
    or data the service does not accept), so ``detail`` is often None.
    """

    def __init__(self, status_code: int, detail: str | None) -> None:
        super().__init__(f"Home Assistant answered HTTP {status_code}" + (f": {detail}" if detail else ""))
        self.status_code = status_code
        self.detail = detail


class HomeAssistantStillWorking(HomeAssistantError):
    """A service call was sent but had not finished within the timeout; Home Assistant carries on with it."""

    def __init__(self, waited_seconds: float) -> None:
        super().__init__(f"Home Assistant had not finished the service call after {waited_seconds:g} s")
        self.waited_seconds = waited_seconds


class HomeAssistantClient:
    """The calls the agent makes to Home Assistant.

    Args:
        http: an ``httpx.AsyncClient`` whose ``base_url`` is Home Assistant's and whose headers carry
            the Bearer token (see ``create``).
    """

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    @property
    def timeout_seconds(self) -> float:
        """How long a call waits for Home Assistant's answer."""
        return float(self.http.timeout.read or 0.0)

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
        except httpx.ReadTimeout as error:
            if path.startswith("/api/services/"):
                # Home Assistant answers a service call when the service has finished: it got the call.
                raise HomeAssistantStillWorking(self.timeout_seconds) from error
            raise HomeAssistantUnavailable("Home Assistant did not answer in time") from error
        except httpx.TransportError as error:
            why = "the connection timed out" if isinstance(error, httpx.TimeoutException) else "no connection"
            raise HomeAssistantUnavailable(f"Home Assistant is unreachable ({why})") from error
        if response.status_code >= 500:
            raise HomeAssistantUnavailable(f"Home Assistant failed with HTTP {response.status_code}")
        if response.status_code == 401:
            raise HomeAssistantError("Home Assistant rejected the access token (HTTP 401)")
        if response.status_code >= 400:
            raise HomeAssistantRejected(response.status_code, _reason(response))
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
        """Call a service; returns every state change it made, in order (intermediate ones included).

        Raises:
            HomeAssistantStillWorking: the call was not finished within the timeout.
            HomeAssistantRejected: an unknown service or data it does not accept.
        """
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


def _reason(response: httpx.Response) -> str | None:
    """Home Assistant's reason for a 4xx, or None when it is only the status line (``400: Bad Request``)."""
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        message = response.text.strip()[:200]
    if not message or message == f"{response.status_code}: {response.reason_phrase}":
        return None
    return str(message)
