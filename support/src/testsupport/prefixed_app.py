"""A service with the library mounted under a path prefix, as behind a reverse proxy: for the root-path tests.

``uvicorn testsupport.prefixed_app:create_app --factory`` serves it; ``/health`` is at the top, everything of
the service (its ``/work`` route, ``/performance``, the JSON routes) under ``PREFIX``.
"""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import GEN_AI_CONVERSATION_ID
from perftrace import mark_operation, traced
from perftrace.fastapi import PerformanceTracing

PREFIX = "/tools/kitchen"
SERVICE_NAME = "prefixed-kitchen"
STAGES = ("weigh", "mix")
#: Every request of the service is a turn of this conversation, so the page links to a conversation's page.
CONVERSATION_ID = "batch 1"


@traced("weigh")
def weigh() -> int:
    """The first stage."""
    return 500


@traced("mix")
def mix(grams: int) -> int:
    """The second stage."""
    return grams * 2


def create_app() -> FastAPI:
    """The service (traced, with its page) mounted at ``PREFIX`` of an app that runs the tracing's lifespan."""
    tracing = PerformanceTracing(service_name=SERVICE_NAME)
    service = FastAPI()
    tracing.mount(service)

    @service.get("/work")
    def work() -> dict[str, int]:
        mark_operation("work")
        trace.get_current_span().set_attribute(GEN_AI_CONVERSATION_ID, CONVERSATION_ID)
        return {"grams": mix(weigh())}

    # A mounted app's lifespan does not run: the outer app runs the tracing's.
    app = FastAPI(lifespan=tracing.lifespan)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.mount(PREFIX, service)
    return app
