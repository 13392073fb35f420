"""A sliding-window rate limiter per client, in memory, with no I/O (the browser endpoint uses it)."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class SlidingWindowRateLimiter:
    """At most ``limit`` requests per client in any ``window_seconds``.

    Memory is bounded: at most ``max_clients`` clients are remembered, the least recently seen
    forgotten first.
    """

    def __init__(
        self,
        limit: int,
        window_seconds: float = 60.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.max_clients = max_clients
        self._clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, client: str) -> float:
        """Count one request of ``client``: 0.0 if allowed, else the seconds until it would be."""
        now = self._clock()
        horizon = now - self.window_seconds
        with self._lock:
            hits = self._hits.get(client)
            if hits is None:
                hits = self._hits[client] = deque()
                if len(self._hits) > self.max_clients:
                    self._hits.popitem(last=False)
            else:
                self._hits.move_to_end(client)
            while hits and hits[0] <= horizon:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(0.001, hits[0] - horizon)
            hits.append(now)
            return 0.0


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` takes whole seconds; round up so a client that obeys it is let in."""
    return str(max(1, math.ceil(seconds)))
