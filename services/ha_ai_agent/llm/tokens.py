"""Token estimates without a tokenizer download.

The service must run on a machine with no network, so no ``tiktoken`` encoding is fetched at run
time. For English chat text, four characters per token is within about 10 % of OpenAI's tokenizers;
a message also costs a few tokens of framing. Real token usage reported by the LLM is used wherever
there is one (``tokens_used``); the estimate only sizes the prompt against the input budget.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4


def estimate_tokens(text: str) -> int:
    """Estimated tokens of a piece of text."""
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def estimate_message_tokens(message: Mapping[str, Any]) -> int:
    """Estimated tokens of one chat message, tool calls included."""
    total = TOKENS_PER_MESSAGE + estimate_tokens(str(message.get("content") or ""))
    if message.get("tool_calls"):
        total += estimate_tokens(json.dumps(message["tool_calls"]))
    return total


def estimate_messages_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """Estimated tokens of a list of chat messages."""
    return sum(estimate_message_tokens(m) for m in messages)
