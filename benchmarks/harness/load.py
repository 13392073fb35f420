"""Chat load against a running service, and what the service's process spent on it (from /proc)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from perftrace.analysis.report import percentile
from testsupport.chat_load import QUESTION


@dataclass
class RoundResult:
    """One load run against one service."""

    requests: int
    errors: int
    elapsed_seconds: float
    latencies_ms: list[float] = field(repr=False)
    service_cpu_seconds: float = 0.0

    @property
    def cpu_ms_per_chat(self) -> float:
        """CPU time the service process spent per request (all its threads)."""
        return self.service_cpu_seconds * 1000 / self.requests

    @property
    def chats_per_cpu_second(self) -> float:
        """Requests answered per second of the service's CPU time."""
        return (self.requests - self.errors) / self.service_cpu_seconds if self.service_cpu_seconds else 0.0

    @property
    def rps(self) -> float:
        """Successful requests per second of wall-clock time."""
        return (self.requests - self.errors) / self.elapsed_seconds

    @property
    def p50_ms(self) -> float:
        """Median latency."""
        return percentile(self.latencies_ms, 50)

    @property
    def p99_ms(self) -> float:
        """99th-percentile latency."""
        return percentile(self.latencies_ms, 99)


async def send_chat(client: httpx.AsyncClient) -> bool:
    """One chat, a new conversation; True when answered with 200 (a transport error is a failure)."""
    try:
        return (await client.post("/api/v1/chat", json={"message": QUESTION})).status_code == 200
    except httpx.HTTPError:
        return False


async def drive(base_url: str, requests: int, concurrency: int) -> RoundResult:
    """Closed loop: ``requests`` chats from ``concurrency`` clients, each sending as soon as it has an answer."""
    latencies: list[float] = []
    errors = 0
    remaining = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for _ in remaining:
            sent = time.perf_counter()
            ok = await send_chat(client)
            latencies.append((time.perf_counter() - sent) * 1000)
            errors += 0 if ok else 1

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return RoundResult(requests, errors, elapsed, latencies)


async def drive_at_rate(base_url: str, rate: float, seconds: float) -> RoundResult:
    """Open loop: start a chat every ``1 / rate`` seconds whatever the answers do.

    Each latency runs from the moment the chat was due, so a stalled service cannot hide its tail by
    slowing the load down (no coordinated omission).
    """
    count = max(1, int(rate * seconds))
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)

    async def one(client: httpx.AsyncClient, due: float) -> None:
        nonlocal errors
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        ok = await send_chat(client)
        latencies.append((time.perf_counter() - due) * 1000)
        errors += 0 if ok else 1

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(one(client, started + i / rate) for i in range(count)))
        elapsed = time.perf_counter() - started
    return RoundResult(count, errors, elapsed, latencies)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_rss_mib(pid: int) -> float:
    """Resident set size of a process now, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measured(loads: Sequence[tuple[int, Coroutine[Any, Any, RoundResult]]]) -> list[RoundResult]:
    """Run loads at the same time, each against one service's process (pid), counting the CPU each spent."""
    before = [process_cpu_seconds(pid) for pid, _ in loads]

    async def together() -> list[RoundResult]:
        return list(await asyncio.gather(*(load for _, load in loads)))

    results = asyncio.run(together())
    for (pid, _), cpu_before, result in zip(loads, before, results, strict=True):
        result.service_cpu_seconds = process_cpu_seconds(pid) - cpu_before
    return results
