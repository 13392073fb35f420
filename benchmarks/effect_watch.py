"""The CPU the effect watch costs per chat: the service with ``home_effect`` spans against the same without.

Two ``ha-ai-agent serve`` processes, each with a demo home of its own in a process of its own (so the home's
side of the WebSocket is not counted), the embedded model at 0 ms, no exporter. "on" watches effects (the
default 30 s bound: one WebSocket subscription, a span per entity changed), "off" has
``HA_AGENT_EFFECT_TIMEOUT_SECONDS=0`` (no connection, no span). Every chat switches the two living room lights
(on, then off, ...), so each makes two service changes and two effect spans. Rounds interleave the two (the
first to run alternates), and the difference is taken per round, so the other load on the machine cancels out.

    python -m benchmarks --only effect_watch [--quick] [--no-write]
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
from ha_ai_agent.home.demo import DEMO_TOKEN, create_demo_home_app
from ha_ai_agent.home.effects import EffectWatcher
from ha_ai_agent.home.state_changes import StateChangeStream
from perftrace import TracingConfig, setup_tracing
from perftrace.analysis.report import percentile
from testsupport.processes import running_agent
from testsupport.report import median, section_preamble, table

from benchmarks.harness.interleaved import cpu_difference, interleaved
from benchmarks.harness.load import process_cpu_seconds
from benchmarks.harness.peers import running_backends

QUESTIONS = ("Turn on the living room lights", "Turn off the living room lights")
VARIANTS = {"on": {}, "off": {"HA_AGENT_EFFECT_TIMEOUT_SECONDS": "0"}}


@contextmanager
def running_variant(name: str, env: dict[str, str], workdir: Path) -> Iterator[tuple[str, int]]:
    """The service and its own demo home (in the harness's backends process); yields its URL and pid."""
    folder = workdir / name
    folder.mkdir()
    with running_backends(folder) as backends:
        lifted = {"HA_AGENT_RATE_LIMIT_PER_MINUTE": "100000000", "HA_URL": backends.home_url, "HA_TOKEN": DEMO_TOKEN}
        with running_agent(folder, {**lifted, **env}) as (url, managed):
            yield url, managed.process.pid


def chats(url: str, pid: int, count: int) -> tuple[float, list[float]]:
    """CPU ms per chat of the service over ``count`` chats one after the other, and each chat's latency."""
    latencies = []
    with httpx.Client(base_url=url, timeout=60) as client:
        before = process_cpu_seconds(pid)
        for i in range(count):
            sent = time.perf_counter()
            response = client.post("/api/v1/chat", json={"message": QUESTIONS[i % 2]})
            latencies.append((time.perf_counter() - sent) * 1000)
            response.raise_for_status()
        time.sleep(0.2)  # the last effect spans end after the answer
        spent = process_cpu_seconds(pid) - before
    return spent * 1000 / count, latencies


def watch_cpu_us_per_effect(effects: int) -> float:
    """CPU µs per effect of the watch's own work, in-process: begin, the state change, the answer, the span.

    A light's ``home_effect`` as it goes in the service: watched before the call, Home Assistant's
    ``state_changed`` for it, the call's answer, then the span made, given its event, ended and kept by the
    trace buffer. No WebSocket: that is ``stream_cpu_us_per_event``.
    """
    handle = setup_tracing(TracingConfig(service_name="effect-bench"))
    watcher = EffectWatcher(30.0, tracer=handle.provider.get_tracer(__name__))
    state = {"entity_id": "light.bench", "state": "on", "attributes": {"friendly_name": "Bench"}}
    tracer = handle.provider.get_tracer(__name__)
    try:
        started = time.process_time()
        for _ in range(effects):
            with tracer.start_as_current_span("tool_execution"):
                call = watcher.begin("light", "turn_on", ["light.bench"], {})
                watcher.on_state("light.bench", state)
                call.answered([state], [])
        return (time.process_time() - started) * 1e6 / effects
    finally:
        handle.shutdown()


def stream_cpu_us_per_event(events: int) -> float:
    """CPU µs per state change through the WebSocket connection, both ends in this process (the demo home's too)."""

    async def measure() -> float:
        app = create_demo_home_app()
        received: list[str] = []
        stream = StateChangeStream("http://demo-home", DEMO_TOKEN, lambda entity_id, _: received.append(entity_id), app)
        stream.start()
        await stream.wait_connected(10)
        started = time.process_time()
        for i in range(events):
            app.state.home.call_service("light", "toggle", {"entity_id": "light.garage"})
            if i % 50 == 0:
                await asyncio.sleep(0)
        while len(received) < events:
            await asyncio.sleep(0.001)
        spent = time.process_time() - started
        await stream.aclose()
        return spent * 1e6 / events

    return asyncio.run(measure())


def run(quick: bool) -> str:
    """Measure and render the section."""
    started = dt.datetime.now(dt.UTC)
    rounds, count = (3, 60) if quick else (8, 150)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        services = {name: stack.enter_context(running_variant(name, env, Path(tmp))) for name, env in VARIANTS.items()}
        for url, pid in services.values():
            chats(url, pid, 20)  # warm-up: imports, first connections, caches
        measured = interleaved(list(VARIANTS), rounds, lambda name: chats(*services[name], count))
    cpu = {name: [per_chat for per_chat, _ in found] for name, found in measured.items()}
    latency = {name: [ms for _, latencies in found for ms in latencies] for name, found in measured.items()}
    per_effect = median([watch_cpu_us_per_effect(500 if quick else 5000) for _ in range(3 if quick else 5)])
    per_event = median([stream_cpu_us_per_event(200 if quick else 2000) for _ in range(3 if quick else 5)])
    lines = section_preamble("Effect watch: CPU per chat", started)
    lines += [
        f"{rounds} rounds of {count} chats per variant, one after the other, interleaved; each chat switches two",
        "demo lights (two `home_effect` spans with an event each). CPU is the service process's own (user +",
        "system, /proc); each variant's demo home runs in a process of its own and is not counted.",
        "",
    ]
    lines += table(
        ["variant", "CPU ms per chat (median of rounds)", "latency p50 ms", "latency p95 ms"],
        [
            [
                name,
                f"{median(cpu[name]):.2f}",
                f"{percentile(latency[name], 50):.1f}",
                f"{percentile(latency[name], 95):.1f}",
            ]
            for name in VARIANTS
        ],
    )
    lines += [
        "",
        f"Effect watch: {cpu_difference(cpu['on'], cpu['off'], 'on / off')}.",
        "",
        "The same work measured in-process, where the machine's other load does not reach CPU time: the watch's own",
        f"work is **{per_effect:.0f} µs per effect** (watched, its state change matched, the span made with its event,",
        f"ended and kept by the buffer), and a state change through the WebSocket costs {per_event:.0f} µs (both ends:",
        "the demo home's sending is counted too, and a real Home Assistant sends every change of the home, watched",
        "or not). So a chat that changes two devices should cost about "
        f"{(2 * per_effect + 2 * per_event) / 1000:.2f} ms more; the service-level difference above is that plus "
        "noise.",
    ]
    return "\n".join(lines) + "\n"
