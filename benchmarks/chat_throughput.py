"""Chat requests per second and latency of the real service, tracing on vs ``OTEL_SDK_DISABLED=true``.

``ha-ai-agent serve`` processes run side by side on free loopback ports, each with its own data
directory, the embedded LLM at 0 ms latency, the demo home and the rate limit out of the way: tracing
on and tracing disabled. Each is warmed up, then driven in interleaved rounds (the order reversed every other round,
one service at a time) by a bounded async load: a fixed
number of ``POST /api/v1/chat`` requests, each a new conversation, from a fixed number of concurrent
clients. Figures are medians of the rounds; each round also counts the service process's CPU time (from
/proc). The warm ``message_assembly`` stage is read from the tracing-on service's own
``GET /api/v1/performance/reports``. Last, both services take chats at one fixed rate well below their
capacity (open loop), for the latency tail that tracing might add beyond the queue.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from ha_ai_agent.semconv import MESSAGE_ASSEMBLY
from perftrace.analysis import percentile
from testsupport.report import Target, median, section_preamble, table, targets_table

SECTION = "chat_throughput"
REPO = Path(__file__).resolve().parent.parent
QUESTION = "What devices are in the kitchen?"
STAGE = MESSAGE_ASSEMBLY
#: Variables of the developer's shell that would change what is measured (an exporter, a real LLM…).
ISOLATED_PREFIXES = ("OTEL_", "HA_AGENT_", "OPENAI_", "HA_URL", "HA_TOKEN")


@dataclass(frozen=True)
class LoadPlan:
    """How hard and how long each service is driven."""

    concurrency: int
    warmup_requests: int
    requests_per_round: int
    rounds: int
    sequential_probe: int
    fixed_rate_share: float = 0.3
    fixed_rate_seconds: float = 15.0
    fixed_rate_rounds: int = 2


FULL = LoadPlan(concurrency=8, warmup_requests=60, requests_per_round=500, rounds=6, sequential_probe=40)
QUICK = LoadPlan(
    concurrency=8,
    warmup_requests=16,
    requests_per_round=60,
    rounds=2,
    sequential_probe=10,
    fixed_rate_seconds=3.0,
    fixed_rate_rounds=1,
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Variant:
    """One way of running the service."""

    label: str
    tracing: bool


VARIANTS = {
    "on": Variant("tracing on", tracing=True),
    "off": Variant("`OTEL_SDK_DISABLED=true`", tracing=False),
}


def service_command(port: int) -> list[str]:
    """The venv's ``ha-ai-agent serve`` on a loopback port."""
    script = REPO / ".venv" / "bin" / "ha-ai-agent"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "ha_ai_agent"]
    return [*base, "serve", "--host", "127.0.0.1", "--port", str(port)]


def service_env(data_dir: Path, tracing: bool) -> dict[str, str]:
    """Embedded LLM at 0 ms, demo home, rate limit out of reach; tracing on or disabled."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ISOLATED_PREFIXES)}
    env.update(
        HA_AGENT_DATA_DIR=str(data_dir),
        HA_AGENT_LLM_LATENCY_MS="0",
        HA_AGENT_RATE_LIMIT_PER_MINUTE="100000000",
    )
    if not tracing:
        env["OTEL_SDK_DISABLED"] = "true"
    return env


@dataclass
class Service:
    """One running service process."""

    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path


def wait_until_healthy(service: Service, timeout_seconds: float = 90.0) -> None:
    """Poll ``/health`` until it answers 200; fail with the log's tail if the process dies or times out."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            break
        try:
            if httpx.get(f"{service.base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    tail = service.log_path.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"service {service.name} did not become healthy:\n{tail}")


@contextmanager
def running_service(name: str, variant: Variant, workdir: Path) -> Iterator[Service]:
    """Start the service in its own directory (no stray ``.env``), stop it on exit."""
    folder = workdir / name
    folder.mkdir()
    port = free_port()
    log_path = folder / "service.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            service_command(port),
            cwd=folder,
            env=service_env(folder / "data", variant.tracing),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    service = Service(name, f"http://127.0.0.1:{port}", process, log_path)
    try:
        wait_until_healthy(service)
        yield service
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class RoundResult:
    """One bounded load run against one service."""

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
    """One chat; True when it was answered with 200 (a transport error counts as a failure)."""
    try:
        return (await client.post("/api/v1/chat", json={"message": QUESTION})).status_code == 200
    except httpx.HTTPError:
        return False


async def drive(base_url: str, requests: int, concurrency: int) -> RoundResult:
    """Send ``requests`` chats from ``concurrency`` clients as fast as answers come back."""
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


def drive_measured(service: Service, requests: int, concurrency: int) -> RoundResult:
    """``drive`` one service, also counting the CPU time its process spent."""
    before = process_cpu_seconds(service.process.pid)
    result = asyncio.run(drive(service.base_url, requests, concurrency))
    result.service_cpu_seconds = process_cpu_seconds(service.process.pid) - before
    return result


def stage_durations_ms(base_url: str, since_epoch_seconds: float) -> list[float]:
    """``message_assembly`` durations of the service's kept reports that started after a moment."""
    reports = httpx.get(f"{base_url}/api/v1/performance/reports", timeout=30).json()
    return [
        metric["duration"] * 1000
        for report in reports
        if report["timestamp"] >= since_epoch_seconds
        for metric in report["metrics"]
        if metric["name"] == STAGE and metric["duration"] is not None
    ]


@dataclass
class ThroughputResults:
    """Every round of both services, and the warm stage durations."""

    plan: LoadPlan
    rounds: dict[str, list[RoundResult]]
    assembly_under_load_ms: list[float]
    assembly_sequential_ms: list[float]
    fixed_rate: float = 0.0
    fixed_rounds: dict[str, list[RoundResult]] = field(default_factory=dict)

    def fixed_rate_p(self, name: str, q: float) -> float:
        """A percentile over every fixed-rate chat of one service."""
        return percentile([ms for r in self.fixed_rounds.get(name, []) for ms in r.latencies_ms], q)

    def median_of(self, name: str, figure: str) -> float:
        """Median over the rounds of ``rps``, ``p50_ms``, ``p99_ms`` or ``cpu_ms_per_chat``."""
        return median([getattr(r, figure) for r in self.rounds[name]])


def measure(plan: LoadPlan, workdir: Path) -> ThroughputResults:
    """Start the services, warm them up, run the interleaved rounds, then the sequential probe."""
    rounds: dict[str, list[RoundResult]] = {name: [] for name in VARIANTS}
    with ExitStack() as stack:
        services = {name: stack.enter_context(running_service(name, v, workdir)) for name, v in VARIANTS.items()}
        for service in services.values():
            asyncio.run(drive(service.base_url, plan.warmup_requests, plan.concurrency))
        warm_since = time.time()
        for index in range(plan.rounds):
            for name in list(VARIANTS) if index % 2 == 0 else list(VARIANTS)[::-1]:
                rounds[name].append(drive_measured(services[name], plan.requests_per_round, plan.concurrency))
        on = services["on"]
        under_load = stage_durations_ms(on.base_url, warm_since)
        probe_since = time.time()
        asyncio.run(drive(on.base_url, plan.sequential_probe, 1))
        sequential = stage_durations_ms(on.base_url, probe_since)
        # Latency below saturation: the same fixed arrival rate for both, a share of what "off" sustained.
        rate = plan.fixed_rate_share * median([r.rps for r in rounds["off"]])
        fixed: dict[str, list[RoundResult]] = {name: [] for name in VARIANTS}
        for index in range(plan.fixed_rate_rounds):
            for name in list(VARIANTS) if index % 2 == 0 else list(VARIANTS)[::-1]:
                fixed[name].append(asyncio.run(drive_at_rate(services[name].base_url, rate, plan.fixed_rate_seconds)))
    return ThroughputResults(plan, rounds, under_load, sequential, rate, fixed)


def render(results: ThroughputResults, started: dt.datetime) -> str:
    """The Markdown section."""
    plan = results.plan
    rps_ratio = results.median_of("on", "rps") / results.median_of("off", "rps")
    p99_ratio = results.median_of("on", "p99_ms") / results.median_of("off", "p99_ms")
    cpu_ratio = results.median_of("off", "cpu_ms_per_chat") / results.median_of("on", "cpu_ms_per_chat")
    fixed_p99_ratio = results.fixed_rate_p("on", 0.99) / (results.fixed_rate_p("off", 0.99) or float("inf"))
    assembly_p50 = percentile(results.assembly_under_load_ms, 50)
    targets = [
        Target("requests/s, on/off", rps_ratio, 0.90, "×", at_most=False),
        Target("p99 latency, on/off", p99_ratio, 1.2, "×"),
        Target(f"warm `{STAGE}` p50 (under load)", assembly_p50, 5.0, "ms"),
        Target("p99 latency at a fixed rate below saturation, on/off (extra)", fixed_p99_ratio, 1.2, "×"),
    ]
    rows = []
    for name, variant in VARIANTS.items():
        label = variant.label
        per_round = ", ".join(f"{r.rps:.1f}" for r in results.rounds[name])
        errors = sum(r.errors for r in results.rounds[name])
        rows.append(
            [
                label,
                f"{results.median_of(name, 'rps'):.1f}",
                f"{results.median_of(name, 'p50_ms'):.1f}",
                f"{results.median_of(name, 'p99_ms'):.1f}",
                f"{results.median_of(name, 'cpu_ms_per_chat'):.2f}",
                per_round,
                str(errors),
            ]
        )
    lines = section_preamble("Chat throughput (`benchmarks/chat_throughput.py`)", started)
    lines += [
        f"Two `ha-ai-agent serve` processes on loopback (embedded LLM at 0 ms, demo home): tracing on and "
        f"`OTEL_SDK_DISABLED=true`. Each warmed up with {plan.warmup_requests} requests, then "
        f"{plan.rounds} interleaved rounds (the order reversed every other round) of "
        f'{plan.requests_per_round} `POST /api/v1/chat` "{QUESTION}" (a new conversation each) from '
        f"{plan.concurrency} concurrent clients; one service driven at a time, the load generator in another "
        "process on the same cores. Medians of the rounds (p99 of a round is over its "
        f"{plan.requests_per_round} requests).",
        "",
        *table(
            [
                "service",
                "requests/s",
                "p50 (ms)",
                "p99 (ms)",
                "service CPU per chat (ms)",
                "requests/s per round",
                "errors",
            ],
            rows,
        ),
        "",
        f"Ratios from the same run: requests/s on/off = **{rps_ratio:.3f}**, p99 on/off = **{p99_ratio:.3f}**; "
        f"chats per CPU-second of the service process, on/off = {cpu_ratio:.3f} (user + system time from /proc, "
        "less disturbed by other work on the machine than requests/s).",
        "",
        f"Warm `{STAGE}` from the tracing-on service's `/api/v1/performance/reports` (warm-up excluded): "
        f"p50 **{assembly_p50:.2f} ms**, p95 {percentile(results.assembly_under_load_ms, 95):.2f} ms over the "
        f"last {len(results.assembly_under_load_ms)} requests under load; one client at a time "
        f"({len(results.assembly_sequential_ms)} requests): p50 "
        f"{percentile(results.assembly_sequential_ms, 50):.2f} ms.",
        "",
        f"The p99 above is taken at saturation (8 clients back to back), where it mostly measures the queue: "
        f"a service that is 10 % slower keeps every request waiting 10 % longer. To see a tail of its own "
        f"(GC pauses, a stalled exporter), both services then took chats at a fixed rate low enough that "
        f"requests seldom wait for each other, "
        f"{results.fixed_rate:.0f} chats/s ({plan.fixed_rate_share:.0%} of what the disabled one sustained), "
        f"{plan.fixed_rate_rounds} × {plan.fixed_rate_seconds:.0f} s each, interleaved, latency counted from "
        "each chat's due time:",
        "",
        *table(
            ["service", "p50 (ms)", "p99 (ms)", "max (ms)", "chats", "errors"],
            [
                [
                    VARIANTS[name].label,
                    f"{results.fixed_rate_p(name, 0.5):.1f}",
                    f"{results.fixed_rate_p(name, 0.99):.1f}",
                    f"{results.fixed_rate_p(name, 100):.1f}",
                    str(sum(r.requests for r in results.fixed_rounds[name])),
                    str(sum(r.errors for r in results.fixed_rounds[name])),
                ]
                for name in VARIANTS
            ],
        ),
        "",
        "The issue's targets are the first three rows; the last is this extra view of the tail.",
        "",
        *targets_table(targets),
    ]
    return "\n".join(lines) + "\n"


def run(quick: bool = False) -> str:
    """Run the whole benchmark; return the Markdown section."""
    started = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory(prefix="chat-throughput-") as workdir:
        results = measure(QUICK if quick else FULL, Path(workdir))
    return render(results, started)


def main() -> None:
    """Print the section (``python -m benchmarks.chat_throughput [--quick]``)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    print(run(parser.parse_args().quick))


if __name__ == "__main__":
    main()
