"""The HTTP contract every route of an app keeps: one error body, declared statuses, 405 with ``Allow``.

The library's routes keep it, and so can the service that mounts them: a route declares the errors it can
answer with :func:`error_responses`, and :func:`install_contract` (run by ``PerformanceTracing.mount``)
makes every HTTP error of the app an ``ErrorBody``, every 405 name all the methods of its path and
``OPTIONS`` answer with them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from perftrace.tracing.current import current_trace_id

TRACE_ID_PATTERN = "^[0-9a-f]{32}$"
RETRY_AFTER_HEADER = {
    "Retry-After": {"description": "Whole seconds to wait before trying again", "schema": {"type": "integer"}}
}


class ErrorBody(BaseModel):
    """The body of every error answer (4xx and 5xx) of the API."""

    detail: str = Field(description="What went wrong, in words safe to show to a user")
    trace_id: str | None = Field(
        None, pattern=TRACE_ID_PATTERN, description="The request's trace id (32 hex digits), when it was traced"
    )


def error_response(status_code: int, detail: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """An error answer in the contract's shape, with the current trace id."""
    body = ErrorBody(detail=detail, trace_id=current_trace_id())
    return JSONResponse(body.model_dump(), status_code=status_code, headers=dict(headers or {}))


ERROR_BODY_SCHEMA_REF = "#/components/schemas/ErrorBody"


def error_responses(described: Mapping[int, str], *, retry_after: tuple[int, ...] = ()) -> dict[int | str, Any]:
    """The ``responses=`` of a route for the errors it can answer, each an ``ErrorBody`` in JSON.

    The schema is named by reference rather than given as ``model``: FastAPI would file a model under the
    route's own media type, and an HTML page's errors are JSON all the same. :func:`install_contract` puts
    ``ErrorBody`` in the document's components.

    Args:
        described: status code to what it means for this route ("" for the standard reason phrase).
        retry_after: the status codes whose answers carry a ``Retry-After`` header.
    """
    responses: dict[int | str, Any] = {}
    for status_code, description in described.items():
        entry: dict[str, Any] = {
            "description": description or HTTPStatus(status_code).phrase,
            "content": {"application/json": {"schema": {"$ref": ERROR_BODY_SCHEMA_REF}}},
        }
        if status_code in retry_after:
            entry["headers"] = RETRY_AFTER_HEADER
        responses[status_code] = entry
    return responses


#: Every route can fail unexpectedly; the answer is an ``ErrorBody`` with the trace id, never the exception.
SERVER_ERROR = error_responses({500: "Unexpected error; the trace id finds it in the logs and traces"})
VALIDATION_ERROR = error_responses({422: "The request does not match this operation's schema"})
#: FastAPI's own answer to a JSON body that is not UTF-8, on every route that takes one.
UNREADABLE_BODY = error_responses({400: "The body cannot be read (not UTF-8)"})


#: The methods an ``Allow`` header can name besides ``OPTIONS`` (which every path answers).
PROBED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app fully serves at the request's path, ``OPTIONS`` included.

    Each method is probed through the routes' own ``matches`` (public Starlette API), so included routers,
    path converters and mounts answer for themselves.
    """
    routes = request.app.router.routes
    allowed = [
        method
        for method in PROBED_METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]
    return [*allowed, "OPTIONS"]


#: Validation problems named in an error's detail; the rest are counted (a large body can have thousands).
MAX_PROBLEMS_NAMED = 5


def describe_problems(errors: Sequence[Mapping[str, Any]]) -> str:
    """Pydantic's validation errors as one line: ``where: what`` for the first few, then how many more."""
    problems = []
    for item in errors[:MAX_PROBLEMS_NAMED]:
        where = ".".join(str(part) for part in item.get("loc", ()))
        problems.append(f"{where}: {item.get('msg', 'invalid')}" if where else str(item.get("msg", "invalid")))
    more = len(errors) - MAX_PROBLEMS_NAMED
    return "; ".join(problems) + (f"; and {more} more" if more > 0 else "") or "the request is invalid"


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    headers = dict(error.headers or {})
    if error.status_code == 405:
        # Starlette names only the first route that matched the path; several routes may share it.
        allow = ", ".join(allowed_methods(request))
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": allow})
        headers["Allow"] = allow
    detail = error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code).phrase
    return error_response(error.status_code, detail, headers)


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    return error_response(422, describe_problems(error.errors()))


def install_contract(app: FastAPI) -> None:
    """Answer every HTTP error of ``app`` with an ``ErrorBody``; 405 and ``OPTIONS`` with the path's methods.

    Idempotent: the service and a library that mounts routes on it may both call it.
    """
    if getattr(app.state, "http_contract_installed", False):
        return
    app.state.http_contract_installed = True
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    document_models(app, ErrorBody)


def complete_openapi(app: FastAPI, step: Callable[[dict[str, Any]], None]) -> None:
    """Run ``step`` on the app's OpenAPI document once, when it is first generated (steps chain)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()  # FastAPI keeps it in app.openapi_schema: completed once
        step(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _schemas(document: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    return schemas


def document_models(app: FastAPI, *models: type[BaseModel]) -> None:
    """Put models no route names as its body or response (e.g. ``ErrorBody``) into the document's components."""

    def add(document: dict[str, Any]) -> None:
        schemas = _schemas(document)
        for model in models:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema

    complete_openapi(app, add)


def document_limits(app: FastAPI, limits: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> None:
    """Put limits known only at run time (from settings) into the app's OpenAPI document.

    Args:
        app: the application.
        limits: schema name to property name to JSON Schema keywords, e.g.
            ``{"ChatBody": {"message": {"maxLength": 4000}}}``.
    """

    def constrain(document: dict[str, Any]) -> None:
        schemas = _schemas(document)
        for model, properties in limits.items():
            for name, keywords in properties.items():
                schemas[model]["properties"][name].update(keywords)

    complete_openapi(app, constrain)
