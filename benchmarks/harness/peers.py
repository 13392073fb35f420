"""The ways of running the chat service that ``chat_throughput`` compares (peers), and the backends they share.

Every peer is the same service (embedded model at 0 ms, the demo home over real HTTP on loopback, rate
limit out of reach), exporting OTLP/HTTP to the same counting receiver (``peer_backends``) under its own
``service.name``, with the metrics and logs exporters off: only spans differ. The switches are the
service's documented settings (README, Configuration), not benchmark hooks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from ha_ai_agent.home.demo import DEMO_TOKEN
from testsupport.processes import ManagedProcess, agent_command, free_port, poll, running_service

HARNESS = Path(__file__).resolve().parent
SERVICE_PREFIX = "bench-"


@dataclass(frozen=True)
class Peer:
    """One way of running the service.

    Attributes:
        label: how the tables name it.
        env: settings on top of the shared ones.
        launcher: ``serve`` (``ha-ai-agent serve``), ``zero-code`` (the same under ``opentelemetry-instrument``)
            or ``logfire`` (``logfire_serve.py``).
        source: run the service's code from this checkout (its ``services`` and ``libs/*/src`` folders first on
            the path) instead of the installed one, e.g. a worktree of another commit.
    """

    label: str
    env: Mapping[str, str] = field(default_factory=dict)
    launcher: str = "serve"
    source: Path | None = None


PEERS: dict[str, Peer] = {
    "off": Peer("off (`OTEL_SDK_DISABLED=true`)", {"OTEL_SDK_DISABLED": "true"}),
    "ours": Peer("ours, as shipped"),
    "floor": Peer("SDK floor (ours with `HA_AGENT_RECENT_TRACES=0`)", {"HA_AGENT_RECENT_TRACES": "0"}),
    "zero_code": Peer(
        "zero-code OpenTelemetry (`opentelemetry-instrument`)",
        # FastAPI, httpx, sqlite3 and the GenAI OpenAI instrumentation; the logging one makes no spans.
        {"HA_AGENT_BUILTIN_TRACING": "false", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "logging"},
        launcher="zero-code",
    ),
    "logfire": Peer("Logfire (FastAPI, httpx, OpenAI)", {"HA_AGENT_BUILTIN_TRACING": "false"}, launcher="logfire"),
    # For the tail: ours with the same spans but no export, and ours exporting small batches often.
    "ours_unexported": Peer("ours, nothing exported (`OTEL_TRACES_EXPORTER=none`)", {"OTEL_TRACES_EXPORTER": "none"}),
    "ours_small_batches": Peer(
        "ours, small batches (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE=64`, `OTEL_BSP_SCHEDULE_DELAY=100`)",
        {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "64", "OTEL_BSP_SCHEDULE_DELAY": "100"},
    ),
}


@dataclass(frozen=True)
class Backends:
    """The counting OTLP receiver and the demo home, both on loopback."""

    otlp_url: str
    home_url: str

    def span_counts(self) -> dict[str, dict[str, int]]:
        """Spans received so far: peer name → span name → count."""
        counts: dict[str, dict[str, int]] = httpx.get(f"{self.otlp_url}/counts", timeout=30).json()
        return {k.removeprefix(SERVICE_PREFIX): v for k, v in counts.items() if k.startswith(SERVICE_PREFIX)}


@contextmanager
def running_backends(workdir: Path) -> Iterator[Backends]:
    """Start ``peer_backends.py`` in its own process; stop it at the end."""
    otlp_port, home_port = free_port(), free_port()
    log_path = workdir / "backends.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(HARNESS / "peer_backends.py"), str(otlp_port), str(home_port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    managed = ManagedProcess("peer backends", process, log_path)
    backends = Backends(f"http://127.0.0.1:{otlp_port}", f"http://127.0.0.1:{home_port}")
    try:
        poll(lambda: httpx.get(f"{backends.otlp_url}/counts", timeout=2).is_success, 30, 0.1, "OTLP receiver")
        poll(lambda: httpx.get(f"{backends.home_url}/api/", timeout=2).status_code < 500, 30, 0.1, "demo home")
        yield backends
    finally:
        managed.stop()


def peer_command(peer: Peer) -> Callable[[int], list[str]]:
    """The command line of a peer for a port, from the benchmark's own virtualenv."""
    bin_dir = Path(sys.executable).parent

    def command(port: int) -> list[str]:
        if peer.launcher == "logfire":
            return [sys.executable, str(HARNESS / "logfire_serve.py"), "--port", str(port)]
        if peer.launcher == "zero-code":
            return [str(bin_dir / "opentelemetry-instrument"), *agent_command(port)]
        return agent_command(port)

    return command


def peer_env(name: str, peer: Peer, backends: Backends) -> dict[str, str]:
    """Shared settings, then the peer's own."""
    env = {
        "HA_AGENT_DATA_DIR": "data",  # in the peer's own folder, its working directory
        "HA_AGENT_LLM_LATENCY_MS": "0",
        "HA_AGENT_LLM_STREAM_CHUNK_MS": "0",
        "HA_AGENT_RATE_LIMIT_PER_MINUTE": "100000000",
        "HA_URL": backends.home_url,
        "HA_TOKEN": DEMO_TOKEN,
        "OTEL_SERVICE_NAME": f"{SERVICE_PREFIX}{name}",
        "OTEL_EXPORTER_OTLP_ENDPOINT": backends.otlp_url,
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    }
    if peer.source is not None:
        folders = [peer.source / "services", *sorted(peer.source.glob("libs/*/src"))]
        env["PYTHONPATH"] = os.pathsep.join(str(folder) for folder in folders)
    return {**env, **peer.env}


@contextmanager
def running_peer(name: str, peer: Peer, backends: Backends, workdir: Path) -> Iterator[tuple[str, ManagedProcess]]:
    """Start one peer in its own folder (no stray ``.env``); stop it (and so flush its spans) at the end."""
    folder = workdir / name
    folder.mkdir()
    env = peer_env(name, peer, backends)
    with running_service(name, peer_command(peer), folder, env, folder / "service.log") as running:
        yield running
