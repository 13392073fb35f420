"""Route dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ha_ai_agent.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    """The running service's resources (set by the lifespan)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def client_key(request: Request) -> str:
    """Who a request is from, for rate limits: the peer address."""
    return request.client.host if request.client else "unknown"
