"""Route dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from opentelemetry import trace

from ha_ai_agent.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    """The running service's resources (set by the lifespan)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def current_trace_id() -> str | None:
    """The current trace id as 32 hex digits, for error bodies."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def client_key(request: Request) -> str:
    """Who a request is from, for rate limits: the peer address."""
    return request.client.host if request.client else "unknown"
