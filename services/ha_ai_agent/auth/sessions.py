"""Signed-in browsers: a random session id, signed (``itsdangerous``) into an HttpOnly cookie, kept on the server.

Signing makes a forged cookie fail before any lookup; keeping the ids on the server is what lets sign-out end a
session for good (a replayed cookie names an id that is gone). Sessions live in memory: a restart signs
everyone out, and the signing key is new on every start.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

from itsdangerous import BadSignature, TimestampSigner

#: The cookie's name.
SESSION_COOKIE = "ha_agent_session"
#: Most sessions kept at once; the oldest is ended first.
MAX_SESSIONS = 10_000


class Sessions:
    """Open sessions, each until its expiry or its sign-out."""

    def __init__(self, lifetime_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.lifetime_seconds = lifetime_seconds
        self._signer = TimestampSigner(secrets.token_bytes(32), salt="ha-ai-agent session")
        self._clock = clock
        self._expiries: OrderedDict[str, float] = OrderedDict()

    def open(self) -> str:
        """Start a session; the cookie value that names it."""
        session_id = secrets.token_urlsafe(32)
        self._expiries[session_id] = self._clock() + self.lifetime_seconds
        while len(self._expiries) > MAX_SESSIONS:
            self._expiries.popitem(last=False)
        return self._signer.sign(session_id).decode("ascii")

    def _session_id(self, cookie: str) -> str | None:
        try:
            return self._signer.unsign(cookie, max_age=int(self.lifetime_seconds)).decode("ascii")
        except (BadSignature, UnicodeError):
            return None

    def valid(self, cookie: str) -> bool:
        """Whether the cookie is signed by this service and names a session neither expired nor ended."""
        session_id = self._session_id(cookie)
        if session_id is None:
            return False
        expires = self._expiries.get(session_id)
        if expires is None:
            return False
        if self._clock() >= expires:
            del self._expiries[session_id]
            return False
        return True

    def close(self, cookie: str) -> None:
        """End the session the cookie names (nothing when it names none)."""
        session_id = self._session_id(cookie)
        if session_id is not None:
            self._expiries.pop(session_id, None)
