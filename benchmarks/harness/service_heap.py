"""Full-GC pause of the real service's process with its trace buffer full (run in a subprocess).

``python -m benchmarks.harness.service_heap`` builds the app with embedded defaults, runs its lifespan
(which freezes the start-up heap, ``gc.freeze()``), answers 100+ chats in-process (so the buffer holds 100
chat traces), then times full collections and prints one JSON object. ``span_overhead`` uses it to put the
buffer's cost next to the cost of the heap it lives in.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHATS = 110
QUESTION = "What devices are in the kitchen?"


def longest_full_gc(collections: int) -> tuple[float, float]:
    """The longest of ``collections`` timed full collections: (wall-clock ms, CPU ms of this thread).

    CPU time leaves out the time the process was preempted by other work on a shared machine; wall
    time is what a request waiting on the pause would see.
    """
    gc.collect()  # a first pass untracks the atomic tuples; steady state is what a process sees
    wall_ns = cpu_ns = 0
    for _ in range(collections):
        wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
        gc.collect()
        cpu_ns = max(cpu_ns, time.thread_time_ns() - cpu)
        wall_ns = max(wall_ns, time.perf_counter_ns() - wall)
    return wall_ns / 1e6, cpu_ns / 1e6


async def measure(collections: int) -> dict[str, Any]:
    """Start the app, fill its buffer with chat traces, time full collections."""
    # Imported here: span_overhead imports this module and must not carry the app's heap.
    import httpx
    from ha_ai_agent.app import create_app
    from ha_ai_agent.config import Settings

    logging.disable(logging.INFO)  # the per-request report lines are not what is measured here
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            data_dir=Path(data_dir),
            llm_latency_ms=0,
            llm_stream_chunk_ms=0,
            rate_limit_per_minute=10**8,
            _env_file=None,
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://ha-ai-agent") as client:
                for _ in range(CHATS):
                    response = await client.post("/api/v1/chat", json={"message": QUESTION})
                    response.raise_for_status()
            stored = len(app.state.runtime.tracing.recent.traces())
            wall_ms, cpu_ms = longest_full_gc(collections)
            return {
                "stored_traces": stored,
                "tracked_objects": len(gc.get_objects()),
                "longest_wall_ms": wall_ms,
                "longest_cpu_ms": cpu_ms,
            }


def run_in_subprocess(collections: int = 10) -> dict[str, Any]:
    """Measure in a fresh interpreter (so nothing of the caller's heap counts); the parsed result."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "HA_AGENT_", "OPENAI_", "HA_"))}
    command = [sys.executable, "-m", "benchmarks.harness.service_heap", "--collections", str(collections)]
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=600, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Print the measurement as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collections", type=int, default=10)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.collections))))


if __name__ == "__main__":
    main()
