"""One chat request whose events are read while it runs: the stream route's side of the pipeline.

The request runs as a task of its own; its events (``events``) and then its result or its error come
through a queue. ``open`` waits for the first of them, so a request that fails before it has anything to
say raises its ``ChatError`` as the plain route does (a JSON error, no stream). After that an error is one
more item of the stream, and the conversation has stored nothing: the pipeline saves only a finished
answer, and a client that goes away cancels the request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from opentelemetry.trace import Span, Status, StatusCode
from perftrace import FIRST_TOKEN_EVENT, LAST_TOKEN_EVENT

from ha_ai_agent.chat.events import ChatEvent, TextDelta
from ha_ai_agent.chat.pipeline import ChatAgent, ChatError, ChatRequest, ChatResult

_logger = logging.getLogger(__name__)

StreamItem = ChatEvent | ChatResult | ChatError


class InternalChatError(ChatError):
    """A failure of ours after the stream started; the client is told no more than this."""

    def __init__(self) -> None:
        super().__init__("Internal server error")


class ChatStream:
    """Runs ``agent.chat`` for one request and hands over what it says, in order, as it says it."""

    def __init__(self, agent: ChatAgent, request: ChatRequest, client: str, span: Span) -> None:
        self._agent = agent
        self._request = request
        self._client = client
        self._span = span
        self._queue: asyncio.Queue[StreamItem | Exception] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._first: StreamItem | None = None
        self._said_something = False

    async def open(self) -> None:
        """Start the request and wait for its first item; raises the request's error if that comes first."""
        # The task copies the current context: its stage spans are children of the request's span.
        self._task = asyncio.create_task(self._run())
        first = await self._queue.get()
        if isinstance(first, Exception):  # a ChatError, or a bug the app's error handler answers (and logs)
            raise first
        self._first = first

    def _listen(self, event: ChatEvent) -> None:
        self._said_something = True
        self._queue.put_nowait(event)

    async def _run(self) -> None:
        try:
            result = await self._agent.chat(self._request, self._client, self._listen)
        except ChatError as error:
            self._queue.put_nowait(error)
        except Exception as error:
            if not self._said_something:
                self._queue.put_nowait(error)
                return
            _logger.exception("Chat request failed after its stream started")
            self._queue.put_nowait(InternalChatError())
        else:
            self._queue.put_nowait(result)

    async def items(self) -> AsyncIterator[StreamItem]:
        """The request's events, then its result or its error; the request is cancelled if this stops early.

        The request's span gets ``FIRST_TOKEN_EVENT`` as the answer's first text goes out and
        ``LAST_TOKEN_EVENT`` (at the moment of its last text) when the request ends.
        """
        assert self._first is not None, "open() first"
        item: StreamItem | Exception = self._first
        last_text_ns = 0
        try:
            while True:
                if isinstance(item, TextDelta):
                    if not last_text_ns:
                        self._span.add_event(FIRST_TOKEN_EVENT)
                    last_text_ns = time.time_ns()
                elif isinstance(item, ChatResult | Exception) and last_text_ns:
                    self._span.add_event(LAST_TOKEN_EVENT, timestamp=last_text_ns)
                if isinstance(item, ChatError):
                    self._span.set_status(Status(StatusCode.ERROR, item.detail))
                elif isinstance(item, Exception):  # unreachable: _run turns late failures into ChatErrors
                    raise item
                yield item
                if isinstance(item, ChatResult | ChatError):
                    return
                item = await self._queue.get()
        finally:
            if self._task is not None and not self._task.done():
                self._task.cancel()
