"""The first token against the whole answer, streamed and not, and the CPU a streamed chat costs.

Latency: one ``ha-ai-agent serve`` with the embedded model at its shipped pace (``HA_AGENT_LLM_LATENCY_MS`` before
each call's first chunk, then a word every ``HA_AGENT_LLM_STREAM_CHUNK_MS``), asked the same questions on
``POST /api/v1/chat/stream`` and on ``POST /api/v1/chat`` in interleaved rounds. Times are the client's: the
first token is when the first ``text`` event arrived (streamed) or the whole answer (not streamed: the reader
sees nothing before), the total when ``done`` arrived or the response ended.

CPU: a second service with the model at 0 ms (its pace is sleeping, not CPU), the same questions one after
the other on each route, rounds interleaved (the first to run alternates) and the difference taken per round.
CPU is the service process's own (user + system, /proc): the machine's other load does not count in it. And
in-process, what reading the model's answer as a stream costs against reading it whole (the stream route
streams its LLM calls, the plain one does not): one LLM call to the embedded model, GenAI instrumentation
on, CPU time per call.

    python -m benchmarks --only streaming [--quick] [--no-write]
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
from ha_ai_agent.chat.tools import TOOL_DEFINITIONS
from ha_ai_agent.config import Settings
from ha_ai_agent.llm.client import create_llm_client
from ha_ai_agent.llm.streaming import complete
from ha_ai_agent.semconv import CHAT_PATH, CHAT_STREAM_PATH
from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor
from perftrace import TracingConfig, setup_tracing
from perftrace.analysis.report import percentile
from testsupport.processes import running_agent
from testsupport.report import median, section_preamble, table

from benchmarks.harness.interleaved import cpu_difference, interleaved
from benchmarks.harness.load import process_cpu_seconds

#: A question answered in two LLM rounds (a lookup, then the answer) and one in three (lookup, the calls, answer).
QUESTIONS = ("What devices are in the kitchen?", "Turn on the kitchen lights", "Turn off the kitchen lights")
ROUTES = {"streamed": CHAT_STREAM_PATH, "not streamed": CHAT_PATH}
#: Chats in flight at once in the latency part (the pace is sleeping: they hardly compete).
CLIENTS = 3
_DEFAULTS = Settings.model_fields


@contextmanager
def paced_agent(workdir: Path, name: str, latency_ms: int, chunk_ms: int) -> Iterator[tuple[str, int]]:
    """The service with the embedded model at this pace, rate limits lifted; yields its URL and pid."""
    folder = workdir / name
    folder.mkdir()
    env = {
        "HA_AGENT_LLM_LATENCY_MS": str(latency_ms),
        "HA_AGENT_LLM_STREAM_CHUNK_MS": str(chunk_ms),
        "HA_AGENT_RATE_LIMIT_PER_MINUTE": "100000000",
    }
    with running_agent(folder, env) as (url, managed):
        yield url, managed.process.pid


def timed_chat(client: httpx2.Client, route: str, question: str) -> tuple[float, float]:
    """One chat on ``route``: ms to the first words the client had, and ms to the whole answer."""
    sent = time.perf_counter()
    if route == CHAT_PATH:
        client.post(route, json={"message": question}).raise_for_status()
        whole = (time.perf_counter() - sent) * 1000
        return whole, whole
    first: float | None = None
    with client.stream("POST", route, json={"message": question}) as response:
        response.raise_for_status()
        for event in httpx2.EventSource(response):
            if event.event == "text" and first is None:
                first = (time.perf_counter() - sent) * 1000
            elif event.event == "error":
                raise RuntimeError(f"the stream failed: {event.data}")
    whole = (time.perf_counter() - sent) * 1000
    return (first if first is not None else whole), whole


def latency_round(url: str, route: str, chats: int) -> list[tuple[float, float]]:
    """``chats`` chats on ``route``, ``CLIENTS`` at a time; each one's (first token, total) in ms."""
    with httpx2.Client(base_url=url, timeout=120) as client, ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(lambda i: timed_chat(client, route, QUESTIONS[i % len(QUESTIONS)]), range(chats)))


def cpu_ms_per_chat(url: str, pid: int, route: str, chats: int) -> float:
    """The service's CPU ms per chat over ``chats`` chats on ``route``, one after the other."""
    with httpx2.Client(base_url=url, timeout=120) as client:
        before = process_cpu_seconds(pid)
        for i in range(chats):
            timed_chat(client, route, QUESTIONS[i % len(QUESTIONS)])
        return (process_cpu_seconds(pid) - before) * 1000 / chats


def llm_call_cpu_us(calls: int, rounds: int) -> dict[str, list[float]]:
    """CPU µs per LLM call, the answer read as a stream and whole, in interleaved rounds of ``calls`` calls."""
    handle = setup_tracing(TracingConfig(service_name="streaming-bench"))
    OpenAIInstrumentor().instrument(tracer_provider=handle.provider, meter_provider=handle.meter_provider)
    llm = create_llm_client(
        api_key=None,
        base_url=None,
        timeout_seconds=60,
        max_retries=0,
        embedded_latency_ms=0,
        embedded_stream_chunk_ms=0,
    )
    # A finished lookup: the model answers in words (about 40 chunks streamed), as a chat's last round does.
    call = {"id": "call_1", "type": "function", "function": {"name": "get_entities", "arguments": "{}"}}
    result = {
        "area_name": "Kitchen",
        "entities": [{"entity_id": f"light.k{i}", "name": f"Lamp {i}", "state": "on"} for i in range(8)],
    }
    messages: Any = [
        {"role": "user", "content": "What devices are in the kitchen?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": json.dumps(result)},
    ]
    tools: Any = TOOL_DEFINITIONS

    async def streamed() -> None:
        await complete(llm, lambda text: None, model="embedded", messages=messages, tools=tools)

    async def whole() -> None:
        await complete(llm, None, model="embedded", messages=messages, tools=tools)

    async def measure(one: Callable[[], Awaitable[None]]) -> float:
        started = time.process_time()
        for _ in range(calls):
            await one()
        return (time.process_time() - started) * 1e6 / calls

    reads = {"streamed": streamed, "whole": whole}
    with asyncio.Runner() as runner:  # one event loop for the warm-up and every round
        try:
            for read in reads.values():
                runner.run(measure(read))  # warm-up
            return interleaved(list(reads), rounds, lambda name: runner.run(measure(reads[name])))
        finally:
            runner.run(llm.close())
            OpenAIInstrumentor().uninstrument()
            handle.shutdown()


def run(quick: bool) -> str:
    """Measure and render the section."""
    started = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()[0]
    latency_ms, chunk_ms = int(_DEFAULTS["llm_latency_ms"].default), int(_DEFAULTS["llm_stream_chunk_ms"].default)
    latency_rounds, latency_chats = (2, 6) if quick else (6, 15)
    cpu_rounds, cpu_chats = (3, 30) if quick else (8, 120)
    with tempfile.TemporaryDirectory() as tmp:
        with paced_agent(Path(tmp), "paced", latency_ms, chunk_ms) as (url, _):
            latency_round(url, CHAT_PATH, CLIENTS)  # warm-up: imports, first connections, caches
            per_round = interleaved(
                list(ROUTES), latency_rounds, lambda name: latency_round(url, ROUTES[name], latency_chats)
            )
        timings = {name: [timing for found in per_round[name] for timing in found] for name in ROUTES}
        with paced_agent(Path(tmp), "unpaced", 0, 0) as (url, pid):
            for route in ROUTES.values():
                cpu_ms_per_chat(url, pid, route, 20)
            cpu = interleaved(list(ROUTES), cpu_rounds, lambda name: cpu_ms_per_chat(url, pid, ROUTES[name], cpu_chats))
    per_call = llm_call_cpu_us(100 if quick else 400, 3 if quick else 7)
    load_after = os.getloadavg()[0]
    lines = render(started, (latency_ms, chunk_ms), timings, cpu, (load_before, load_after), cpu_chats)
    extra = [s - w for s, w in zip(per_call["streamed"], per_call["whole"], strict=True)]
    lines += [
        "",
        f"In-process, one LLM call answering in words (about 40 chunks), GenAI instrumentation on: read as a stream "
        f"**{median(per_call['streamed']):.0f} µs** CPU, read whole {median(per_call['whole']):.0f} µs (medians of "
        f"{len(extra)} interleaved rounds; per-round difference {min(extra):+.0f} to {max(extra):+.0f} µs): the "
        "openai client makes a model object per chunk and the instrumentation does its work per chunk. Only the "
        "stream route pays it; the embedded model's own chunking is counted in it.",
    ]
    return "\n".join(lines) + "\n"


def render(
    started: dt.datetime,
    pace: tuple[int, int],
    timings: dict[str, list[tuple[float, float]]],
    cpu: dict[str, list[float]],
    load: tuple[float, float],
    cpu_chats: int,
) -> list[str]:
    """The section's lines: first token and total per route, the streamed/not ratios, CPU per chat per route."""
    first = {name: [t[0] for t in timings[name]] for name in ROUTES}
    total = {name: [t[1] for t in timings[name]] for name in ROUTES}
    lines = section_preamble("Streaming: first token against the whole answer, and its CPU", started)
    lines += [
        f"The embedded model at its shipped pace: {pace[0]} ms to each call's first chunk, then a word every "
        f"{pace[1]} ms (`HA_AGENT_LLM_LATENCY_MS`, `HA_AGENT_LLM_STREAM_CHUNK_MS`). {len(first['streamed'])} chats "
        f"per route, {CLIENTS} at a time, the routes in interleaved rounds of one run; questions of two and three "
        f"LLM rounds in turn. Load average {load[0]:.1f} before, {load[1]:.1f} after (2 cores, shared).",
        "",
    ]
    lines += table(
        ["route", "first token p50 ms", "first token p95 ms", "total p50 ms", "total p95 ms"],
        [
            [
                f"{name} (`{ROUTES[name]}`)",
                f"{percentile(first[name], 50):.0f}",
                f"{percentile(first[name], 95):.0f}",
                f"{percentile(total[name], 50):.0f}",
                f"{percentile(total[name], 95):.0f}",
            ]
            for name in ROUTES
        ],
    )
    streamed_first, plain_first = percentile(first["streamed"], 50), percentile(first["not streamed"], 50)
    total_ratio = percentile(total["streamed"], 50) / percentile(total["not streamed"], 50)
    lines += [
        "",
        f"Streamed, the first words come at **{streamed_first / plain_first:.2f}×** the time the whole answer takes "
        f"unstreamed (p50 {streamed_first:.0f} ms against {plain_first:.0f} ms); the whole answer streamed takes "
        f"{total_ratio:.2f}× the unstreamed one (p50). Before the first words a reader waits for every tool round "
        "and the last call's first chunk: that is what is left to shorten.",
        "",
        f"CPU, the model at 0 ms: {len(cpu['streamed'])} rounds of {cpu_chats} chats per route, one after the other.",
        "",
    ]
    lines += table(
        ["route", "CPU ms per chat (median of rounds)", "range"],
        [[name, f"{median(cpu[name]):.2f}", f"{min(cpu[name]):.2f}–{max(cpu[name]):.2f}"] for name in ROUTES],
    )
    lines += [
        "",
        f"Streaming costs {cpu_difference(cpu['streamed'], cpu['not streamed'], 'streamed / not')}: the model's "
        "answers read as chunks (below), a task per request, an event per word and tool call, the marks.",
    ]
    return lines
