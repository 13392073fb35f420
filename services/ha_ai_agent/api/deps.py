"""Route dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials

from ha_ai_agent.auth.access import Access, bearer_scheme, cookie_scheme
from ha_ai_agent.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    """The running service's resources (set by the lifespan)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def client_key(request: Request) -> str:
    """Who a request is from, for rate limits: the peer address."""
    return request.client.host if request.client else "unknown"


def running_access(request: Request) -> Access:
    """The running service's guard (a 503 before the lifespan has started it)."""
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    if runtime is None:
        raise HTTPException(503, "the service is starting")
    return runtime.access


async def require_access(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    cookie: Annotated[str | None, Depends(cookie_scheme)],
) -> None:
    """What every protected route depends on: a valid session cookie or bearer token (both schemes documented)."""
    access = running_access(request)
    await access.admit(client_key(request), bearer.credentials if bearer else None, cookie)
