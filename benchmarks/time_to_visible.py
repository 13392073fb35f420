"""Time from a chat's answer to its trace being queryable in Jaeger (and Tempo when one is available).

Starts the same stack as the end-to-end tests (real collector, Jaeger, Prometheus; Tempo if
HA_AGENT_TEMPO_BIN names a binary) and the service with the settings docker compose ships, sends chats one
after another, and polls each backend's trace-by-id API every 25 ms from the moment the HTTP answer arrived
until the trace is there with its server span. Writes p50/p95/max with the machine and the date.

Runs under the team's harness (``python -m benchmarks.run_all --only time_to_visible``, section
``time_to_visible`` of docs/performance.md) or alone: ``python -m benchmarks.time_to_visible [--chats 50]
[--bsp-delay-ms 500] [--no-write]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx
from ha_ai_agent.semconv import CHAT_SERVER_SPAN
from perftrace import SpanRecord
from perftrace.analysis import percentile
from testsupport.backend_queries import jaeger_trace, tempo_trace
from testsupport.processes import running_agent
from testsupport.report import (
    Target,
    median,
    replace_section,
    section_preamble,
    table,
    targets_table,
)
from testsupport.stack import AGENT_ENV, running_stack

SECTION = "time_to_visible"
#: What docker-compose.yml gives the service as OTEL_BSP_SCHEDULE_DELAY.
SHIPPED_BSP_DELAY_MS = 500
POLL_INTERVAL_S = 0.025
VISIBLE_TIMEOUT_S = 30.0
TARGET_P95_S = 2.0


def time_until_visible(lookup: Callable[[], list[SpanRecord] | None], since: float) -> float:
    """Seconds from `since` until lookup returns a trace holding the chat's server span."""
    deadline = since + VISIBLE_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            spans = lookup()
        except httpx.HTTPError:
            spans = None
        if spans and any(span.name == CHAT_SERVER_SPAN for span in spans):
            return time.monotonic() - since
        time.sleep(POLL_INTERVAL_S)
    raise TimeoutError(f"trace not visible within {VISIBLE_TIMEOUT_S}s")


def measure(chats: int, bsp_delay_ms: int) -> dict[str, list[float]]:
    """Run the chats and return the delays per backend."""
    delays: dict[str, list[float]] = {"jaeger": [], "tempo": []}
    with tempfile.TemporaryDirectory(prefix="ttv-") as scratch, running_stack(Path(scratch)) as stack:
        env = {
            **AGENT_ENV,
            "OTEL_BSP_SCHEDULE_DELAY": str(bsp_delay_ms),
            "OTEL_EXPORTER_OTLP_ENDPOINT": stack.collector_otlp_http,
        }
        agent = running_agent(Path(scratch), env, stack.log_dir / "ha-ai-agent.log")
        with agent as (url, _), httpx.Client(timeout=30.0) as client:
            client.post(f"{url}/api/v1/chat", json={"message": "warm-up"}).raise_for_status()
            for index in range(chats):
                response = client.post(f"{url}/api/v1/chat", json={"message": "What devices are in the kitchen?"})
                answered = time.monotonic()
                response.raise_for_status()
                trace_id = response.json()["metadata"]["trace_id"]
                jaeger_lookup = partial(jaeger_trace, stack.jaeger_query, trace_id)
                delays["jaeger"].append(time_until_visible(jaeger_lookup, answered))
                if stack.tempo:
                    tempo_lookup = partial(tempo_trace, stack.tempo, trace_id)
                    delays["tempo"].append(time_until_visible(tempo_lookup, answered))
                print(f"chat {index + 1}/{chats}: jaeger {delays['jaeger'][-1] * 1000:.0f} ms", file=sys.stderr)
    return delays


def report(delays: dict[str, list[float]], chats: int, bsp_delay_ms: int, started: dt.datetime) -> str:
    """The docs/performance.md section: settings, figures per backend, the target, the machine."""
    lines = section_preamble("Time to visible (`benchmarks/time_to_visible.py`)", started)
    lines += [
        f"`uname -a`: `{subprocess.run(['uname', '-a'], capture_output=True, text=True, check=False).stdout.strip()}`",
        "",
        f"{chats} chats, one after another, through the real service, collector and backends (the e2e stack). Each",
        "delay runs from the chat's HTTP answer to the backend's trace-by-id API returning the trace with its",
        "server span, polled every 25 ms.",
        "",
        f"Settings: service `OTEL_BSP_SCHEDULE_DELAY={bsp_delay_ms}` ms (compose ships 500; the SDK default of",
        "5000 alone would put p95 near 5 s), collector `batch.timeout: 200ms`, Jaeger's own `batch.timeout: 100ms`;",
        "Tempo `trace_idle_period: 1s`, `flush_check_period: 1s` (defaults 10 s).",
        "",
    ]
    rows = []
    targets = []
    for backend, values in delays.items():
        if values:
            p95 = percentile(values, 95)
            rows.append(
                [
                    backend,
                    str(len(values)),
                    f"{median(values) * 1000:.0f} ms",
                    f"{p95 * 1000:.0f} ms",
                    f"{max(values) * 1000:.0f} ms",
                ]
            )
            targets.append(Target(f"{backend} p95 time to visible", p95, TARGET_P95_S, "s"))
        else:
            rows.append([backend, "0", "not measured: no binary here (see scripts/build_backends.py)", "", ""])
    lines += table(["backend", "chats", "p50", "p95", "max"], rows)
    lines += ["", *targets_table(targets)]
    return "\n".join(lines) + "\n"


def run(quick: bool) -> str:
    """The harness's entry point: 10 chats when quick, else 50, at the shipped schedule delay."""
    chats = 10 if quick else 50
    started = dt.datetime.now(dt.UTC)
    return report(measure(chats, SHIPPED_BSP_DELAY_MS), chats, SHIPPED_BSP_DELAY_MS, started)


def main() -> int:
    """Measure, print, and rewrite this benchmark's section of docs/performance.md unless told not to."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument(
        "--bsp-delay-ms", type=int, default=SHIPPED_BSP_DELAY_MS, help="the service's OTEL_BSP_SCHEDULE_DELAY"
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md alone")
    arguments = parser.parse_args()
    started = dt.datetime.now(dt.UTC)
    delays = measure(arguments.chats, arguments.bsp_delay_ms)
    section = report(delays, arguments.chats, arguments.bsp_delay_ms, started)
    print(section)
    if not arguments.no_write:
        replace_section(SECTION, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
