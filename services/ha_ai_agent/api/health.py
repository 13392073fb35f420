"""``GET /health``: 200 when the service can answer chats, 503 with the failing check otherwise."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.utils import suppress_instrumentation
from pydantic import BaseModel

from ha_ai_agent import __version__
from ha_ai_agent.api.deps import RuntimeDep

router = APIRouter(tags=["health"])


class HealthChecks(BaseModel):
    """Each dependency's state."""

    database: Literal["ok", "down"]
    home_assistant: Literal["ok", "down"]
    llm: Literal["embedded", "configured"]
    tracing: Literal["exporting", "embedded"]


class Health(BaseModel):
    """The service's health: ``unhealthy`` (HTTP 503) when the database or Home Assistant is down."""

    status: Literal["healthy", "unhealthy"]
    version: str
    checks: HealthChecks


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database or Home Assistant is down"}},
)
async def health(runtime: RuntimeDep) -> JSONResponse:
    """Check the database and Home Assistant; the LLM is reported, not called (calls cost money)."""
    # Probes run every few seconds: their database and HTTP spans would crowd chats out of the buffer.
    with suppress_instrumentation():
        database_ok = runtime.store.ping()
        home_ok = await runtime.home.ping()
    checks = HealthChecks(
        database="ok" if database_ok else "down",
        home_assistant="ok" if home_ok else "down",
        llm="embedded" if runtime.settings.uses_embedded_llm else "configured",
        tracing="exporting" if runtime.tracing.exporter is not None else "embedded",
    )
    healthy = database_ok and home_ok
    body = Health(status="healthy" if healthy else "unhealthy", version=__version__, checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)
