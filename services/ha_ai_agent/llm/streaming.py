"""One chat completion, streamed when someone reads its text as it comes.

A streamed call (``stream=True`` with ``include_usage``, so the usage, hence tokens and cost, stay as exact
as a non-streamed call's) hands each piece of text on as it arrives and returns the completion assembled at
the end; the GenAI instrumentation then records the time to the first chunk on its ``chat <model>`` span.
Only the stream route streams: reading a completion as chunks costs the openai client several times the CPU
of reading it whole (docs/performance.md, "Streaming"), for nothing when no one reads the pieces. The chunks
are put together here rather than by the openai package's ``ChatCompletionStreamState``, which builds a
snapshot and event objects for every chunk: about a third of a streamed call's CPU, for nothing read here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion, ChatCompletionChunk


class EmptyStream(Exception):
    """The model's stream ended before its first chunk."""


#: Errors of a stream that started and then failed (the connection dropped, nothing came), besides the
#: ``openai.APIError`` the client raises for an error event in the stream.
STREAM_ERRORS: tuple[type[Exception], ...] = (httpx2.TransportError, EmptyStream)


class _Assembly:
    """The first choice of a streamed completion, put together chunk by chunk."""

    def __init__(self) -> None:
        self.head: ChatCompletionChunk | None = None
        self.text: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.usage: Any = None

    def add(self, chunk: ChatCompletionChunk) -> str | None:
        """Take in one chunk; returns the piece of text it brought, if any."""
        self.head = self.head or chunk
        if chunk.usage is not None:
            self.usage = chunk.usage.model_dump()
        piece = None
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            delta = choice.delta
            piece = delta.content or None
            if piece:
                self.text.append(piece)
            for call in delta.tool_calls or []:
                slot = self.tool_calls.setdefault(
                    call.index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
                )
                slot["id"] = call.id or slot["id"]
                if call.function is not None:
                    slot["function"]["name"] += call.function.name or ""
                    slot["function"]["arguments"] += call.function.arguments or ""
            self.finish_reason = choice.finish_reason or self.finish_reason
        return piece

    def completion(self) -> ChatCompletion:
        """The completion as a non-streamed call would have returned it."""
        if self.head is None:
            raise EmptyStream("the model's stream ended without a chunk")
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.text) if self.text else None}
        if self.tool_calls:
            message["tool_calls"] = [self.tool_calls[index] for index in sorted(self.tool_calls)]
        choice = {"index": 0, "message": message, "finish_reason": self.finish_reason or "stop", "logprobs": None}
        return ChatCompletion.model_validate(
            {
                "id": self.head.id,
                "object": "chat.completion",
                "created": self.head.created,
                "model": self.head.model,
                "system_fingerprint": self.head.system_fingerprint,
                "choices": [choice],
                "usage": self.usage,
            }
        )


async def complete(llm: AsyncOpenAI, on_text: Callable[[str], None] | None, **request: Any) -> ChatCompletion:
    """``llm.chat.completions.create(**request)``; streamed when ``on_text`` is given, which gets each piece of text.

    Either way returns the completion as a non-streamed call does (a truncated answer stays an answer, with
    its ``finish_reason``).
    """
    if on_text is None:
        completion: ChatCompletion = await llm.chat.completions.create(**request)
        return completion
    stream = await llm.chat.completions.create(**request, stream=True, stream_options={"include_usage": True})
    assembly = _Assembly()
    # Closed on every way out: the HTTP response is released and the instrumentation ends its span.
    async with stream:
        async for chunk in stream:
            piece = assembly.add(chunk)
            if piece:
                on_text(piece)
    return assembly.completion()
