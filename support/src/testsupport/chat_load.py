"""A bounded closed-loop chat load on loopback: N worker threads, each sending one chat after another."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx

QUESTION = "What devices are in the kitchen?"
CHAT_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class ChatResult:
    """One chat: when it started (monotonic), how long it took, its status (0: no answer) and trace id."""

    started: float
    seconds: float
    status: int
    trace_id: str | None


def send_chat(client: httpx.Client, url: str, message: str = QUESTION) -> ChatResult:
    """One chat; a transport error is status 0, never an exception."""
    started = time.monotonic()
    try:
        response = client.post(f"{url}/api/v1/chat", json={"message": message}, timeout=CHAT_TIMEOUT_SECONDS)
    except httpx.HTTPError:
        return ChatResult(started, time.monotonic() - started, 0, None)
    seconds = time.monotonic() - started
    trace_id = response.json().get("metadata", {}).get("trace_id") if response.status_code == 200 else None
    return ChatResult(started, seconds, response.status_code, trace_id)


class ChatLoad:
    """``workers`` threads chatting back to back until ``stop`` (or ``max_chats`` in all), with ``headers``."""

    def __init__(
        self, url: str, workers: int, max_chats: int = 10_000, headers: Mapping[str, str] | None = None
    ) -> None:
        self._url = url
        self._headers = dict(headers or {})
        self._workers = workers
        self._max_chats = max_chats
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._results: list[ChatResult] = []
        self._threads: list[threading.Thread] = []

    def _run(self) -> None:
        with httpx.Client(headers=self._headers) as client:
            while not self._stopping.is_set():
                result = send_chat(client, self._url)
                with self._lock:
                    self._results.append(result)
                    if len(self._results) >= self._max_chats:
                        self._stopping.set()

    def start(self) -> ChatLoad:
        """Start the workers."""
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(self._workers)]
        for thread in self._threads:
            thread.start()
        return self

    def results(self) -> list[ChatResult]:
        """A copy of the chats finished so far."""
        with self._lock:
            return list(self._results)

    def stop(self) -> list[ChatResult]:
        """Let each worker finish its current chat, then return every result."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(CHAT_TIMEOUT_SECONDS + 5)
        return self.results()


def between(results: Sequence[ChatResult], start: float, end: float) -> list[ChatResult]:
    """The chats that started in [start, end)."""
    return [r for r in results if start <= r.started < end]
