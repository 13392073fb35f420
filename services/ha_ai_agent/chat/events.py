"""What a chat request tells its listener while it runs: the answer's text as it comes, and each tool call.

The pipeline calls the listener synchronously (it must not block); ``POST /api/v1/chat/stream`` turns the
events into server-sent events, ``POST /api/v1/chat`` listens to none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer, as the model produced it.

    ``iteration`` is the LLM round it came from: text of a round that ends in tool calls is the model's note
    before acting, not the answer (the answer is the text of the last round).
    """

    text: str
    iteration: int


@dataclass(frozen=True)
class ToolStarted:
    """The agent calls a tool the model asked for (or the call a user confirmed)."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ToolFinished:
    """A tool call is done; ``ok`` False when it failed (its error went back to the model)."""

    id: str
    name: str
    ok: bool


ChatEvent = TextDelta | ToolStarted | ToolFinished
ChatListener = Callable[[ChatEvent], None]


def ignore_events(event: ChatEvent) -> None:
    """The listener of a request nobody streams."""
