"""One streamed chat completion: the text handed on as it arrives, the completion assembled at the end.

Every LLM call streams (``stream=True`` with ``include_usage``, so the usage, hence tokens and cost, stay as
exact as a non-streamed call's); the GenAI instrumentation then records the time to the first chunk on its
``chat <model>`` span. The chunks are put together by the openai package's own ``ChatCompletionStreamState``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
from openai import AsyncOpenAI
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion


class EmptyStream(Exception):
    """The model's stream ended before its first chunk."""


#: Errors of a stream that started and then failed (the connection dropped, nothing came), besides the
#: ``openai.APIError`` the client raises for an error event in the stream.
STREAM_ERRORS: tuple[type[Exception], ...] = (httpx2.TransportError, EmptyStream)


async def create_streamed(llm: AsyncOpenAI, on_text: Callable[[str], None], **request: Any) -> ChatCompletion:
    """``llm.chat.completions.create(**request)``, streamed: ``on_text`` gets each piece of the first choice's text.

    Returns the completion as a non-streamed call would have (a truncated answer stays an answer: no
    exception for ``finish_reason`` ``length`` or ``content_filter``).
    """
    stream = await llm.chat.completions.create(**request, stream=True, stream_options={"include_usage": True})
    state: ChatCompletionStreamState[None] = ChatCompletionStreamState()
    received = False
    # Closed on every way out: the HTTP response is released and the instrumentation ends its span.
    async with stream:
        async for chunk in stream:
            received = True
            state.handle_chunk(chunk)
            for choice in chunk.choices:
                if choice.index == 0 and choice.delta.content:
                    on_text(choice.delta.content)
    if not received:
        raise EmptyStream("the model's stream ended without a chunk")
    return ChatCompletion.model_validate(state.current_completion_snapshot.model_dump())
