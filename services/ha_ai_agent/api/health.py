"""``GET /health``: 200 when the service can answer chats, 503 with the failing check otherwise."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ha_ai_agent import __version__
from ha_ai_agent.api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(runtime: RuntimeDep) -> JSONResponse:
    """Check the database and Home Assistant; the LLM is reported, not called (calls cost money)."""
    checks = {
        "database": "ok" if runtime.store.ping() else "down",
        "home_assistant": "ok" if await runtime.home.ping() else "down",
        "llm": "embedded" if runtime.settings.uses_embedded_llm else "configured",
        "tracing": "exporting" if runtime.tracing.exporter is not None else "embedded",
    }
    healthy = checks["database"] == "ok" and checks["home_assistant"] == "ok"
    body = {"status": "healthy" if healthy else "unhealthy", "version": __version__, "checks": checks}
    return JSONResponse(body, status_code=200 if healthy else 503)
