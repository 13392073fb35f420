"""The observability stack of docker-compose.yml, run as plain processes on loopback for the end-to-end tests.

Prometheus, Jaeger and the collector (and Tempo, when HA_AGENT_TEMPO_BIN names a binary) are started from the
binaries that testsupport.backends builds (`make backends`), with the repository's own config files; every listen
address is a free loopback port and every data directory (the collector's queues, Jaeger's Badger files) a
directory of the stack, passed through the environment variables those files read. Logs go to one directory
and their tails are printed when something fails.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from ha_ai_agent.semconv import SERVICE_NAME

from testsupport.backends import BuildError, SetupError, ensure_backends
from testsupport.paths import REPO_ROOT
from testsupport.processes import ManagedProcess, free_port, poll

COLLECTOR_DIR = REPO_ROOT / "collector"
#: The config files each collector role runs, in order (later files override earlier ones), as compose runs them.
COLLECTOR_CONFIGS = {
    "one-box": (COLLECTOR_DIR / "common.yaml", COLLECTOR_DIR / "otel-config.yaml"),
    "agent": (COLLECTOR_DIR / "agent.yaml",),
    "gateway": (COLLECTOR_DIR / "common.yaml", COLLECTOR_DIR / "gateway.yaml", COLLECTOR_DIR / "tail-sampling.yaml"),
}
TAIL_SAMPLING_CONFIG = COLLECTOR_DIR / "tail-sampling.yaml"
JAEGER_CONFIG = REPO_ROOT / "backends" / "jaeger.yaml"
#: The trace store files that go on top of JAEGER_CONFIG (the one box's, and the scale-out layer's).
JAEGER_BADGER_CONFIG = REPO_ROOT / "backends" / "jaeger-badger.yaml"
JAEGER_CASSANDRA_CONFIG = REPO_ROOT / "backends" / "jaeger-cassandra.yaml"
JAEGER_UI_CONFIG = REPO_ROOT / "backends" / "jaeger-ui.json"
TEMPO_CONFIG = REPO_ROOT / "backends" / "tempo.yaml"
PROMETHEUS_CONFIG = REPO_ROOT / "backends" / "prometheus.yml"
PROMETHEUS_SCRAPE_DIR = "/etc/prometheus/scrape.d"
PROMETHEUS_RULES_DIR = "/etc/prometheus/rules.d"

TEMPO_BIN_ENV = "HA_AGENT_TEMPO_BIN"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
# Prometheus flags that only make sense inside the container; the tests set their own paths and address.
PROMETHEUS_CONTAINER_FLAGS = ("--config.file", "--storage.tsdb.path", "--web.listen-address")
# What compose ships (docker-compose.yml): the service's batch span processor waits at most this long.
AGENT_ENV = {
    "OTEL_SERVICE_NAME": SERVICE_NAME,
    "OTEL_BSP_SCHEDULE_DELAY": "500",
    "OTEL_BSP_MAX_QUEUE_SIZE": "20000",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "40",
    "HA_AGENT_LLM_LATENCY_MS": "0",
    "HA_AGENT_LLM_STREAM_CHUNK_MS": "0",
    "OTEL_METRIC_EXPORT_INTERVAL": "1000",
}
START_TIMEOUT_SECONDS = 60.0


class BackendUnavailable(RuntimeError):
    """A backend could not be built or started; the message says which and why."""


def built_backends() -> dict[str, Path]:
    """The backends' binaries, building what the cache lacks first (progress on stderr)."""
    try:
        return ensure_backends()
    except (BuildError, SetupError, OSError) as error:
        raise BackendUnavailable(f"the backends could not be built: {error}") from error


@dataclass
class Stack:
    """Addresses of the running backends (all on 127.0.0.1) and the processes behind them."""

    log_dir: Path
    collector_otlp_http: str = ""
    collector_otlp_grpc: str = ""
    collector_health: str = ""
    jaeger_query: str = ""
    jaeger_health: str = ""
    prometheus: str = ""
    tempo: str | None = None
    processes: list[ManagedProcess] = field(default_factory=list)

    def log_tails(self) -> str:
        """The tail of every backend's log, for a failure report."""
        return "\n".join(f"----- {proc.name} ({proc.log_path}) -----\n{proc.log_tail()}" for proc in self.processes)

    def stop(self) -> None:
        """Stop every process, the last started first (the collector before the backends it exports to)."""
        for proc in reversed(self.processes):
            proc.stop()


def start_process(stack: Stack, name: str, command: list[str], env: dict[str, str], ready_url: str) -> None:
    """Start one process with its output in the log directory and wait until ready_url answers 2xx."""
    log_path = stack.log_dir / f"{name}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, **env}, cwd=stack.log_dir
        )
    managed = ManagedProcess(name, process, log_path)
    stack.processes.append(managed)

    def ready() -> bool:
        if process.poll() is not None:
            raise BackendUnavailable(f"{name} exited with {process.returncode}:\n{managed.log_tail()}")
        return httpx.get(ready_url, timeout=2.0).is_success

    try:
        poll(ready, START_TIMEOUT_SECONDS, interval_s=0.2, what=f"{name} ready at {ready_url}")
    except AssertionError as error:
        raise BackendUnavailable(f"{error}\n{managed.log_tail()}") from error


def render_prometheus_config(target: Path, prometheus_port: int, collector_metrics: int, jaeger_metrics: int) -> Path:
    """backends/prometheus.yml with its compose addresses made loopback ones (it has no env expansion)."""
    text = PROMETHEUS_CONFIG.read_text(encoding="utf-8")
    replacements = {
        "localhost:9090": f"127.0.0.1:{prometheus_port}",
        "otel-collector:8888": f"127.0.0.1:{collector_metrics}",
        "jaeger:8888": f"127.0.0.1:{jaeger_metrics}",
        # A layer's scrape jobs and rules: directories of the stack (testsupport.scaleout writes into them).
        PROMETHEUS_SCRAPE_DIR: str(target.parent / "prometheus-scrape.d"),
        PROMETHEUS_RULES_DIR: str(target.parent / "prometheus-rules.d"),
    }
    for compose_address, loopback_address in replacements.items():
        if compose_address not in text:
            raise BackendUnavailable(f"backends/prometheus.yml no longer contains {compose_address}")
        text = text.replace(compose_address, loopback_address)
    target.write_text(text, encoding="utf-8")
    return target


def prometheus_compose_flags() -> list[str]:
    """The flags compose gives Prometheus (OTLP receiver, features): the tests run it the same way."""
    compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    command: list[str] = compose["services"]["prometheus"]["command"]
    return [flag for flag in command if not flag.startswith(PROMETHEUS_CONTAINER_FLAGS)]


def start_prometheus(stack: Stack, binary: Path, ports: dict[str, int]) -> None:
    """Start Prometheus on the ``prometheus`` port, scraping the collector and Jaeger ports of ``ports``."""
    config = render_prometheus_config(
        stack.log_dir / "prometheus.yml",
        ports["prometheus"],
        ports["collector_metrics"],
        ports["jaeger_metrics"],
    )
    stack.prometheus = f"http://127.0.0.1:{ports['prometheus']}"
    command = [
        str(binary),
        f"--config.file={config}",
        f"--storage.tsdb.path={stack.log_dir / 'prometheus-data'}",
        f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
        *prometheus_compose_flags(),
    ]
    start_process(stack, "prometheus", command, {}, f"{stack.prometheus}/-/ready")


def start_jaeger(
    stack: Stack,
    binary: Path,
    ports: Mapping[str, int],
    name: str = "jaeger",
    cassandra_servers: str | None = None,
) -> str:
    """Start a Jaeger on the ``jaeger_*`` ports (its process joins ``stack``); return its query URL.

    It stores traces in Badger under the stack's directory, or with ``cassandra_servers`` (host:port,...) in that
    Cassandra cluster, as the scale-out layer does.
    """
    env = {
        "JAEGER_METRICS_HOST": "127.0.0.1",
        "JAEGER_METRICS_PORT": str(ports["jaeger_metrics"]),
        "JAEGER_HEALTH_LISTEN": f"127.0.0.1:{ports['jaeger_health']}",
        "JAEGER_UI_CONFIG": str(JAEGER_UI_CONFIG),
        "JAEGER_QUERY_HTTP_LISTEN": f"127.0.0.1:{ports['jaeger_query']}",
        "JAEGER_QUERY_GRPC_LISTEN": f"127.0.0.1:{ports['jaeger_query_grpc']}",
        "JAEGER_OTLP_GRPC_LISTEN": f"127.0.0.1:{ports['jaeger_otlp_grpc']}",
        "JAEGER_OTLP_HTTP_LISTEN": f"127.0.0.1:{ports['jaeger_otlp_http']}",
        "PROMETHEUS_URL": stack.prometheus,
        "JAEGER_BADGER_DIR": str(stack.log_dir / f"{name}-badger"),
        "CASSANDRA_SERVERS": cassandra_servers or "",
    }
    store = JAEGER_CASSANDRA_CONFIG if cassandra_servers else JAEGER_BADGER_CONFIG
    command = [str(binary), f"--config={JAEGER_CONFIG}", f"--config={store}"]
    health = f"http://127.0.0.1:{ports['jaeger_health']}/status"
    start_process(stack, name, command, env, health)
    if name == "jaeger":
        stack.jaeger_health = health
    return f"http://127.0.0.1:{ports['jaeger_query']}"


def _start_tempo(stack: Stack, binary: Path, ports: dict[str, int]) -> None:
    env = {
        "TEMPO_HTTP_LISTEN_ADDRESS": "127.0.0.1",
        "TEMPO_HTTP_PORT": str(ports["tempo_http"]),
        "TEMPO_GRPC_LISTEN_ADDRESS": "127.0.0.1",
        "TEMPO_GRPC_PORT": str(ports["tempo_grpc"]),
        "TEMPO_OTLP_GRPC_LISTEN": f"127.0.0.1:{ports['tempo_otlp_grpc']}",
        "TEMPO_DATA_DIR": str(stack.log_dir / "tempo-data"),
        "PROMETHEUS_REMOTE_WRITE_URL": f"{stack.prometheus}/api/v1/write",
    }
    stack.tempo = f"http://127.0.0.1:{ports['tempo_http']}"
    command = [str(binary), f"-config.file={TEMPO_CONFIG}", "-config.expand-env=true"]
    start_process(stack, "tempo", command, env, f"{stack.tempo}/ready")


def collector_command(binary: Path, role: str, sampling: bool = False) -> list[str]:
    """The collector of ``role`` with its config files (and the tail-sampling overlay, for a one box with it on)."""
    configs = list(COLLECTOR_CONFIGS[role])
    if sampling and TAIL_SAMPLING_CONFIG not in configs:
        configs.append(TAIL_SAMPLING_CONFIG)
    return [str(binary), *(f"--config={config}" for config in configs)]


def collector_own_env(queue_dir: Path, health_port: int, metrics_port: int) -> dict[str, str]:
    """A collector's own addresses and the directory of its persistent queues."""
    return {
        "OTELCOL_STORAGE_DIR": str(queue_dir),
        "OTELCOL_HEALTH_ENDPOINT": f"127.0.0.1:{health_port}",
        "OTELCOL_METRICS_HOST": "127.0.0.1",
        "OTELCOL_METRICS_PORT": str(metrics_port),
    }


def collector_backend_env(stack: Stack, ports: Mapping[str, int]) -> dict[str, str]:
    """Where a collector that writes to the backends (one box, gateway) finds them."""
    return {
        "JAEGER_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{ports['jaeger_otlp_grpc']}",
        # Without Tempo this port has no listener: the Tempo exporter retries on its own queue, which also
        # shows that one backend down does not hold the other one up.
        "TEMPO_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{ports['tempo_otlp_grpc']}",
        "PROMETHEUS_OTLP_ENDPOINT": f"{stack.prometheus}/api/v1/otlp",
    }


def _start_collector(
    stack: Stack, binary: Path, ports: dict[str, int], overrides: Mapping[str, str], sampling: bool
) -> None:
    env = {
        **collector_own_env(stack.log_dir / "otelcol-queue", ports["collector_health"], ports["collector_metrics"]),
        "OTELCOL_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{ports['collector_otlp_grpc']}",
        "OTELCOL_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{ports['collector_otlp_http']}",
        **collector_backend_env(stack, ports),
        **overrides,
    }
    stack.collector_otlp_http = f"http://127.0.0.1:{ports['collector_otlp_http']}"
    stack.collector_otlp_grpc = f"127.0.0.1:{ports['collector_otlp_grpc']}"
    stack.collector_health = f"http://127.0.0.1:{ports['collector_health']}/"
    start_process(stack, "otel-collector", collector_command(binary, "one-box", sampling), env, stack.collector_health)


#: The ports one Jaeger listens on.
JAEGER_PORT_NAMES = (
    "jaeger_query",
    "jaeger_query_grpc",
    "jaeger_otlp_grpc",
    "jaeger_otlp_http",
    "jaeger_health",
    "jaeger_metrics",
)
PORT_NAMES = (
    "prometheus",
    *JAEGER_PORT_NAMES,
    "tempo_http",
    "tempo_grpc",
    "tempo_otlp_grpc",
    "collector_otlp_grpc",
    "collector_otlp_http",
    "collector_health",
    "collector_metrics",
)


@contextlib.contextmanager
def running_stack(
    log_dir: Path, collector_env: Mapping[str, str] | None = None, sampling: bool = False
) -> Iterator[Stack]:
    """Build (or find) the backends, start them in dependency order, yield their addresses, stop them all.

    collector_env sets more of the variables that the collector configs read (or overrides the addresses),
    for a test that needs the pipeline tuned differently from the session's stack; ``sampling`` adds
    collector/tail-sampling.yaml, as docker-compose.sampling.yml does.
    """
    binaries = built_backends()
    tempo_binary = os.environ.get(TEMPO_BIN_ENV)
    ports = {name: free_port() for name in PORT_NAMES}
    stack = Stack(log_dir=log_dir)
    try:
        start_prometheus(stack, binaries["prometheus"], ports)
        stack.jaeger_query = start_jaeger(stack, binaries["jaeger"], ports)
        if tempo_binary:
            _start_tempo(stack, Path(tempo_binary), ports)
        _start_collector(stack, binaries["otelcol"], ports, collector_env or {}, sampling)
        yield stack
    except BaseException:
        print(f"\nbackend logs ({log_dir}):\n{stack.log_tails()}", file=sys.stderr)
        raise
    finally:
        stack.stop()
