"""``/api/v1/session``: sign in with a token for a session cookie (the chat page), sign out to end it.

Mounted only when access control is on. The cookie is HttpOnly (page scripts cannot read it), SameSite=Strict
(other sites cannot send it) and Secure when the request came over HTTPS.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from perftrace.fastapi.contract import UNREADABLE_BODY, VALIDATION_ERROR, error_responses
from pydantic import BaseModel, ConfigDict, Field

from ha_ai_agent.api.deps import client_key, running_access
from ha_ai_agent.auth.sessions import SESSION_COOKIE
from ha_ai_agent.semconv import SESSION_PATH

router = APIRouter(prefix=SESSION_PATH, tags=["session"])
#: What checking a credential can answer: on every protected operation, and on signing in.
AUTH_ERRORS = error_responses(
    {
        401: "No valid credential: the body says how to authenticate",
        429: "Too many attempts with wrong credentials from this client",
        503: "Home Assistant cannot check the token now",
    },
    retry_after=(429,),
)
#: Longer than any token Home Assistant or ``ha-ai-agent token`` makes, short enough to hash at once.
MAX_TOKEN_CHARS = 4096


class SignIn(BaseModel):
    """A token to sign in with."""

    model_config = ConfigDict(strict=True)

    token: str = Field(
        min_length=1,
        max_length=MAX_TOKEN_CHARS,
        description="A Home Assistant long-lived access token, or a token of `ha-ai-agent token`",
    )


@router.post(
    "", status_code=204, response_class=Response, responses={**AUTH_ERRORS, **UNREADABLE_BODY, **VALIDATION_ERROR}
)
async def sign_in(body: SignIn, request: Request) -> Response:
    """Check the token and set the session cookie (the token itself is not kept)."""
    access = running_access(request)
    await access.verify_token(body.token, client_key(request))
    response = Response(status_code=204)
    response.set_cookie(
        SESSION_COOKIE,
        access.sessions.open(),
        max_age=int(access.sessions.lifetime_seconds),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.delete("", status_code=204, response_class=Response)
async def sign_out(request: Request) -> Response:
    """End the session on the server (the cookie, replayed, is refused) and clear it in the browser."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is not None:
        running_access(request).sessions.close(cookie)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict")
    return response
