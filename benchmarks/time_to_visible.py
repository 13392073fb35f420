"""Time from a chat's answer to its trace being queryable in Jaeger (and Tempo when one is available).

Starts the same stack as the end-to-end tests (real collector, Jaeger, Prometheus; Tempo if
HA_AGENT_TEMPO_BIN names a binary) and the service with the settings docker compose ships, sends chats one
after another, and polls each backend's trace-by-id API every 25 ms from the moment the HTTP answer arrived
until the trace is there with its server span. Prints p50/p95/max and appends them to
docs/performance.md with the machine and the date.

Usage: .venv/bin/python benchmarks/time_to_visible.py [--chats 50] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.e2e.queries import SpanRecord, jaeger_trace, tempo_trace  # noqa: E402
from tests.e2e.stack import ManagedProcess, Stack, free_port, poll, running_stack  # noqa: E402
from tests.e2e.test_chat_service import SERVICE_ENV, service_command  # noqa: E402

PERFORMANCE_DOC = REPO_ROOT / "docs" / "performance.md"
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
        if spans and any(span.name == "POST /api/v1/chat" for span in spans):
            return time.monotonic() - since
        time.sleep(POLL_INTERVAL_S)
    raise TimeoutError(f"trace not visible within {VISIBLE_TIMEOUT_S}s")


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))]


def start_service(stack: Stack, data_dir: Path) -> str:
    """The service as compose runs it (schedule delay 500 ms), exporting to the stack's collector."""
    port = free_port()
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("OTEL_")},
        **SERVICE_ENV,
        "OTEL_EXPORTER_OTLP_ENDPOINT": stack.collector_otlp_http,
        "HA_AGENT_DATA_DIR": str(data_dir),
    }
    log_path = stack.log_dir / "ha-ai-agent.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            service_command(port), stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=data_dir
        )
    stack.processes.append(ManagedProcess("ha-ai-agent", process, log_path))
    url = f"http://127.0.0.1:{port}"
    poll(lambda: httpx.get(f"{url}/health", timeout=2.0).is_success, 60.0, what="ha-ai-agent /health")
    return url


def measure(chats: int) -> dict[str, list[float]]:
    """Run the chats and return the delays per backend."""
    delays: dict[str, list[float]] = {"jaeger": [], "tempo": []}
    with tempfile.TemporaryDirectory(prefix="ttv-") as scratch, running_stack(Path(scratch)) as stack:
        data_dir = Path(scratch) / "agent-data"
        data_dir.mkdir()
        url = start_service(stack, data_dir)
        with httpx.Client(timeout=30.0) as client:
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


def report(delays: dict[str, list[float]], chats: int) -> str:
    """A markdown section with the figures, the settings and the machine."""
    uname = " ".join(platform.uname())
    lines = [
        f"\n## Time to visible ({dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')})",
        "",
        f"`benchmarks/time_to_visible.py --chats {chats}`: from the HTTP answer of a chat to its trace being",
        "returned (with its server span) by the backend's trace-by-id API, polled every 25 ms.",
        "Settings as shipped: service `OTEL_BSP_SCHEDULE_DELAY=500` (ms), collector batch `timeout: 200ms`,",
        "Jaeger's own batch `timeout: 100ms`; Tempo `trace_idle_period: 1s`, `flush_check_period: 1s`.",
        "",
        "| backend | chats | p50 | p95 | max | target p95 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for backend, values in delays.items():
        if values:
            p50, p95 = statistics.median(values), percentile(values, 0.95)
            lines.append(
                f"| {backend} | {len(values)} | {p50 * 1000:.0f} ms | {p95 * 1000:.0f} ms | "
                f"{max(values) * 1000:.0f} ms | {'met' if p95 <= TARGET_P95_S else 'MISSED'} (≤ 2 s) |"
            )
        else:
            lines.append(f"| {backend} | 0 | not measured: no binary here (see scripts/build_backends.py) | | | |")
    lines += ["", f"Machine: `{uname}`, {os.cpu_count()} cores (nproc)."]
    return "\n".join(lines) + "\n"


def main() -> int:
    """Measure, print, and append to docs/performance.md unless told not to."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md alone")
    arguments = parser.parse_args()
    section = report(measure(arguments.chats), arguments.chats)
    print(section)
    if not arguments.no_write:
        PERFORMANCE_DOC.parent.mkdir(parents=True, exist_ok=True)
        with PERFORMANCE_DOC.open("a", encoding="utf-8") as doc:
            doc.write(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
