"""``GET /health``: 200 when the service can answer chats, 503 with the failing check otherwise."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.utils import suppress_instrumentation

from ha_ai_agent import __version__
from ha_ai_agent.api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(runtime: RuntimeDep) -> JSONResponse:
    """Check the database and Home Assistant; the LLM is reported, not called (calls cost money)."""
    # Probes run every few seconds: their database and HTTP spans would crowd chats out of the buffer.
    with suppress_instrumentation():
        database_ok = runtime.store.ping()
        home_ok = await runtime.home.ping()
    checks = {
        "database": "ok" if database_ok else "down",
        "home_assistant": "ok" if home_ok else "down",
        "llm": "embedded" if runtime.settings.uses_embedded_llm else "configured",
        "tracing": "exporting" if runtime.tracing.exporter is not None else "embedded",
    }
    healthy = checks["database"] == "ok" and checks["home_assistant"] == "ok"
    body = {"status": "healthy" if healthy else "unhealthy", "version": __version__, "checks": checks}
    return JSONResponse(body, status_code=200 if healthy else 503)
