"""A chat completion as OpenAI streams it: ``chat.completion.chunk`` objects in server-sent events.

What a model server answers to ``stream=True``: a first chunk with the role, the text in pieces (here a word
each, as tokens come), each tool call, a chunk with the finish reason, with
``stream_options={"include_usage": true}`` a last chunk with no choices and the usage, then ``data: [DONE]``.
The embedded model streams this way, and so does the tests' OpenAI-compatible server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

#: The end of a stream, after the last chunk.
DONE_EVENT = b"data: [DONE]\n\n"
#: What a piece of text is: a word with the spaces after it (or spaces alone, at the start).
_PIECE = re.compile(r"\s*\S+\s*|\s+")


def sse_event(data: dict[str, Any]) -> bytes:
    """One server-sent event carrying ``data`` as JSON."""
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def text_pieces(text: str) -> list[str]:
    """``text`` in the pieces it streams in; joined they are ``text`` again."""
    return _PIECE.findall(text)


def completion_chunks(completion: dict[str, Any], include_usage: bool) -> Iterator[dict[str, Any]]:
    """The chunks of a non-streamed ``chat.completion`` (one choice), in the order OpenAI sends them."""
    choice = completion["choices"][0]
    message = choice["message"]
    head = {
        "id": completion["id"],
        "object": "chat.completion.chunk",
        "created": completion["created"],
        "model": completion["model"],
        "system_fingerprint": completion.get("system_fingerprint"),
    }

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]}

    yield chunk({"role": "assistant", "content": ""})
    for piece in text_pieces(message.get("content") or ""):
        yield chunk({"content": piece})
    for index, call in enumerate(message.get("tool_calls") or []):
        function = call["function"]
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": function["name"], "arguments": function["arguments"]},
                    }
                ]
            }
        )
    yield chunk({}, choice["finish_reason"])
    if include_usage:
        yield {**head, "choices": [], "usage": completion.get("usage")}


def wants_usage(body: dict[str, Any]) -> bool:
    """Whether a streamed request asked for the usage chunk (``stream_options.include_usage``)."""
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))
