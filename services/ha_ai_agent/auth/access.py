"""The guard of every route but ``/health``: a session cookie or ``Authorization: Bearer``, else 401 (or 429).

Order matters for abuse: a valid session or an already-known token passes without touching the rate limit,
so a flood of wrong tokens from one address neither locks out the people signed in there nor reaches Home
Assistant more than ``HA_AGENT_AUTH_FAILURES_PER_MINUTE`` times a minute.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException
from fastapi.security import APIKeyCookie, HTTPBearer
from opentelemetry.metrics import Counter
from perftrace.ratelimit import SlidingWindowRateLimiter, retry_after_header

from ha_ai_agent.auth.credentials import HomeAssistantTokens, OwnTokens, Verdict, token_digest
from ha_ai_agent.auth.policy import AuthMode, ResolvedAuth
from ha_ai_agent.auth.sessions import SESSION_COOKIE, Sessions
from ha_ai_agent.semconv import AUTH_FAILURE_REASON

#: How to authenticate, per mode: the whole of a 401's detail.
HOW_TO_AUTHENTICATE = {
    AuthMode.HOME_ASSISTANT: "Authentication required: send 'Authorization: Bearer <token>' with a Home Assistant "
    "long-lived access token (your Home Assistant profile, Security tab), or sign in on the chat page",
    AuthMode.TOKENS: "Authentication required: send 'Authorization: Bearer <token>' with a token of this agent "
    "(`ha-ai-agent token` makes one), or sign in on the chat page",
}
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="ha-ai-agent"'}

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="A Home Assistant long-lived access token, or a token of the agent's own (`ha-ai-agent token`)",
)
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="session",
    description="The session cookie POST /api/v1/session sets (HttpOnly, SameSite=Strict)",
)


class SignInRequired(HTTPException):
    """A 401: the answer says how to authenticate (a page to sign in on, for a browser)."""

    def __init__(self, mode: AuthMode) -> None:
        super().__init__(401, HOW_TO_AUTHENTICATE.get(mode, "Authentication required"), WWW_AUTHENTICATE)


@dataclass
class Access:
    """What the guard checks against while the service runs."""

    auth: ResolvedAuth
    own_tokens: OwnTokens
    home_tokens: HomeAssistantTokens | None
    sessions: Sessions
    limiter: SlidingWindowRateLimiter
    failures: Counter

    def _refuse(self, reason: str, error: HTTPException) -> HTTPException:
        self.failures.add(1, {AUTH_FAILURE_REASON: reason})
        return error

    async def verify_token(self, token: str, client: str) -> None:
        """Return if ``token`` may use the agent; raise the 401, 429 or 503 to answer otherwise."""
        digest = token_digest(token)
        if self.own_tokens.check(digest):
            return
        home = self.home_tokens
        if home is not None and home.cached(digest) is Verdict.VALID:
            return
        self.limit(client)
        verdict = Verdict.INVALID
        if home is not None:
            verdict = home.cached(digest) or await home.check(token, digest)
        if verdict is Verdict.VALID:
            return
        if verdict is Verdict.UNVERIFIABLE:
            raise self._refuse("unverifiable", HTTPException(503, "Home Assistant cannot check the token right now"))
        raise self._refuse("invalid", SignInRequired(self.auth.mode))

    def limit(self, client: str) -> None:
        """Count one attempt with an unknown credential; raise the 429 once the client has made too many."""
        wait = self.limiter.acquire(client)
        if wait > 0:
            retry = {"Retry-After": retry_after_header(wait)}
            error = HTTPException(429, "Too many attempts with wrong credentials; wait", retry)
            raise self._refuse("rate_limited", error)

    async def admit(self, client: str, token: str | None, cookie: str | None) -> None:
        """Let a request through with a valid session or token; raise what to answer otherwise."""
        if cookie is not None and self.sessions.valid(cookie):
            return
        if token is not None:
            await self.verify_token(token, client)
            return
        if cookie is not None:  # signed out, expired, or forged
            self.limit(client)
            raise self._refuse("invalid", SignInRequired(self.auth.mode))
        raise self._refuse("missing", SignInRequired(self.auth.mode))
