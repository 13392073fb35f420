"""PII and secret canaries: strings that must never reach a trace backend, and how to count them in a text."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

API_KEY = "sk-canary0a1b2c3d4e5f6a7b8c9d"
BEARER = "canary-bearer-7f3a9e1d2c"
EMAIL = "canary.person@example.org"
CARD = "4111111111111111"
CARD_SPACED = "4111 1111 1111 1111"
CANARIES = {"API key": API_KEY, "bearer token": BEARER, "e-mail": EMAIL, "card number": CARD}


def forms(canary: str) -> set[str]:
    """The canary as text, URL-encoded, and (for the card) with spaces."""
    found = {canary, quote(canary), quote_plus(canary), quote(canary, safe="")}
    if canary == CARD:
        found.add(CARD_SPACED)
    return found


def occurrences(text: str) -> dict[str, int]:
    """How often each canary appears in the text, in any of its forms."""
    return {name: sum(text.count(form) for form in forms(canary)) for name, canary in CANARIES.items()}
