"""Message content in spans, only when the user opted in, and then without secrets or e-mail addresses.

By default the GenAI instrumentation records no prompt or answer. With the standard
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` on it puts them in the LLM call spans'
``gen_ai.input.messages`` / ``gen_ai.output.messages`` / ``gen_ai.system_instructions`` attributes;
``ContentRedactingProcessor`` then masks e-mail addresses, bearer tokens, API keys and card numbers in every
string attribute of every span as the span ends, before any processor (the buffer, the exporter) sees it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Span, SpanProcessor
from opentelemetry.util.genai.types import ContentCapturingMode
from opentelemetry.util.genai.utils import get_content_capturing_mode
from opentelemetry.util.types import AttributeValue

_logger = logging.getLogger(__name__)

REDACTED = "[REDACTED]"
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_TOKEN_CHARS = r"[A-Za-z0-9._~+/=-]"
#: A value after a word that announces a secret: "Bearer x", "token: x", "api_key=x", "password is x".
_ANNOUNCED_SECRET = re.compile(
    rf"(?i)\b(bearer|token|api[_ -]?key|secret|password|passwd)(\s*(?:is\s+|:\s*|=\s*|\s+)){_TOKEN_CHARS}{{8,}}"
)
#: Keys by their shape: OpenAI/Stripe style, GitHub, AWS access key ids, JWTs (Home Assistant's tokens).
_KEY_SHAPES = re.compile(
    r"\b(?:(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}|"
    r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"
)
_CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return REDACTED if _luhn(digits) else match.group(0)


def redact(text: str) -> str:
    """``text`` with e-mail addresses, announced secrets, key-shaped strings and card numbers masked."""
    text = _EMAIL.sub(REDACTED, text)
    text = _ANNOUNCED_SECRET.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    text = _KEY_SHAPES.sub(REDACTED, text)
    return _CARD.sub(_mask_card, text)


def _redact_value(value: AttributeValue) -> AttributeValue:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, tuple | list) and value and isinstance(value[0], str):
        return tuple(redact(str(item)) for item in value)
    return value


class ContentRedactingProcessor(SpanProcessor):
    """Masks secrets and e-mail addresses in span attributes as each span ends (install it first).

    It uses the SDK's ending hook, the last moment a span is still the writer's: the SDK has already frozen
    the attributes there, so this lifts the freeze for the replacement only. It never raises.
    """

    def __init__(self, redact_text: Callable[[str], str] = redact) -> None:
        self._redact = redact_text

    def _on_ending(self, span: Span) -> None:
        try:
            attributes = span._attributes  # the SDK offers no public way to change an ending span
            if not isinstance(attributes, BoundedAttributes):
                return
            changed = {key: masked for key, value in attributes.items() if (masked := _redact_value(value)) != value}
            if not changed:
                return
            attributes._immutable = False
            try:
                for key, masked in changed.items():
                    attributes[key] = masked
            finally:
                attributes._immutable = True
        except Exception:  # the span path never raises
            _logger.exception("could not redact span %s", span.name)


def content_capture_on() -> bool:
    """Whether the GenAI instrumentation captures message content (the standard variable, read as it reads it)."""
    return get_content_capturing_mode() is not ContentCapturingMode.NO_CONTENT
