"""Checking a presented token: the agent's own (stored as hashes) and Home Assistant's (asked, cached by hash).

No token is stored, logged or put in a span: the cache and the configured list hold SHA-256 digests. The
agent's own tokens are 256-bit random strings, so a fast hash is enough (no password stretching needed).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from enum import Enum

import httpx

#: How a stored hash is written in ``HA_AGENT_AUTH_TOKEN_HASHES``.
HASH_PREFIX = "sha256:"
#: Entropy of a token ``ha-ai-agent token`` makes, in bytes.
TOKEN_BYTES = 32
#: Most verdicts of Home Assistant the cache remembers (least recently used forgotten first).
MAX_CACHED_VERDICTS = 4096


class Verdict(Enum):
    """What checking a token found."""

    VALID = "valid"
    INVALID = "invalid"
    UNVERIFIABLE = "unverifiable"  # Home Assistant could not be asked: neither accepted nor refused


def token_digest(token: str) -> str:
    """The stored form of a token: ``sha256:<64 hex digits>``."""
    return HASH_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A new own token and its stored form."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_digest(token)


def is_token_digest(value: str) -> bool:
    """Whether ``value`` is a stored form ``token_digest`` could have written."""
    hex_part = value[len(HASH_PREFIX) :]
    return value.startswith(HASH_PREFIX) and len(hex_part) == 64 and all(c in "0123456789abcdef" for c in hex_part)


class OwnTokens:
    """The agent's own tokens, known only by their digests."""

    def __init__(self, digests: Iterable[str]) -> None:
        self._digests = tuple(d.encode("ascii") for d in digests)

    def __bool__(self) -> bool:
        return bool(self._digests)

    def check(self, digest: str) -> bool:
        """Whether ``digest`` is one of the configured ones; every one is compared, each in constant time."""
        presented = digest.encode("ascii")
        found = False
        for known in self._digests:
            found |= hmac.compare_digest(presented, known)
        return found


class HomeAssistantTokens:
    """Asks Home Assistant whether a token is one of its users' (``GET /api/``), remembering the verdict briefly.

    A token deleted in Home Assistant stops working once its cached verdict is older than ``cache_seconds``.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._api_url = f"{base_url}/api/"
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._verdicts: OrderedDict[str, tuple[Verdict, float]] = OrderedDict()

    def cached(self, digest: str) -> Verdict | None:
        """The remembered verdict on the token with this digest, if still fresh."""
        entry = self._verdicts.get(digest)
        if entry is None:
            return None
        verdict, expires = entry
        if self._clock() >= expires:
            del self._verdicts[digest]
            return None
        return verdict

    async def check(self, token: str, digest: str) -> Verdict:
        """Ask Home Assistant (an authenticated call any user may make); remember a definite answer."""
        try:
            answer = await self._http.get(self._api_url, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError:
            return Verdict.UNVERIFIABLE
        if answer.status_code in (401, 403):
            verdict = Verdict.INVALID
        elif answer.is_success:
            verdict = Verdict.VALID
        else:
            return Verdict.UNVERIFIABLE
        self._verdicts[digest] = (verdict, self._clock() + self._cache_seconds)
        self._verdicts.move_to_end(digest)
        while len(self._verdicts) > MAX_CACHED_VERDICTS:
            self._verdicts.popitem(last=False)
        return verdict
