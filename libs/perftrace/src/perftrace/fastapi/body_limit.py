"""A byte cap on the body of chosen routes, enforced before the route (or FastAPI's parsing) reads it.

FastAPI reads and parses a JSON body before any dependency runs, so a cap must sit in front of the app: a
declared ``Content-Length`` over the cap is answered at once, and a streamed body is cut off as soon as it
passes the cap; both with a 413 in the contract's error body.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from perftrace.fastapi.contract import error_response


class BodyLimitMiddleware:
    """Answer 413 to a request to one of ``max_bytes_by_path``'s paths whose body is longer than its cap."""

    def __init__(self, app: ASGIApp, max_bytes_by_path: Mapping[str, int]) -> None:
        self.app = app
        self.max_bytes_by_path = dict(max_bytes_by_path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, its body counted when its path has a cap."""
        # The route's path: under a mount or a proxy's root path, ``path`` starts with ``root_path``.
        path = scope["path"].removeprefix(scope.get("root_path", "")) if scope["type"] == "http" else None
        limit = self.max_bytes_by_path.get(path) if path is not None else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await error_response(413, _too_large(limit))(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                # An HTTPException, so that the route's body parsing passes it on and the contract answers it.
                raise HTTPException(413, _too_large(limit))
            return message

        await self.app(scope, counting_receive, send)


def _too_large(limit: int) -> str:
    return f"body is over the {limit}-byte limit"
