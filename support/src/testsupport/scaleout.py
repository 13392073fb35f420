"""The scale-out layout of docker-compose.scale.yml as plain processes on loopback.

Prometheus as in testsupport.stack, a single-node Kafka, N gateway collectors (one consumer group, tail sampling
on), the agent collector the service sends to (``Stack.collector_otlp_http`` is the agent's), and Jaeger: one on
Badger, or, given a Cassandra cluster (testsupport.cassandra), several stateless ones over it, as compose runs
them. Gateway n sends to Jaeger n (round robin), so with two of each every Jaeger writes part of the traces.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from testsupport.cassandra import CassandraCluster
from testsupport.chat_load import ChatLoad, ChatResult
from testsupport.kafka import Kafka
from testsupport.paths import REPO_ROOT
from testsupport.processes import ManagedProcess, free_port, running_agent
from testsupport.sampled_chats import DECISION_WAIT_S, look_up
from testsupport.stack import (
    AGENT_ENV,
    JAEGER_PORT_NAMES,
    PORT_NAMES,
    Stack,
    built_backends,
    collector_backend_env,
    collector_command,
    collector_own_env,
    start_jaeger,
    start_process,
    start_prometheus,
)

#: One counter of a collector's (or Jaeger's) own metrics, in Prometheus' text format, on the series with a label.
METRIC = r"^{name}(?:_total)?\{{[^}}]*{label}[^}}]*\}} (\S+)$"

#: The layer's alert rules, as compose mounts them into Prometheus.
SCALE_OUT_RULES = REPO_ROOT / "backends" / "prometheus-scale-out-rules.yml"
#: Compose finds the gateways by DNS (backends/prometheus-scale-out.yml); loopback has no DNS, so the tests keep
#: the same job, fed from a file that lists the gateways as they start.
GATEWAY_SCRAPE_JOB = """scrape_configs:
  - job_name: otel-gateway
    scrape_interval: 2s
    file_sd_configs:
      - files: [{targets}]
"""


def metric_sum(metrics_url: str, name: str, label: str) -> float:
    """The sum of one counter of a collector's (or Jaeger's) own metrics over the series with ``label``."""
    pattern = re.compile(METRIC.format(name=re.escape(name), label=label), re.MULTILINE)
    return sum(float(value) for value in pattern.findall(httpx.get(metrics_url, timeout=5).text))


def gateways_file(stack: Stack) -> Path:
    """The file Prometheus reads the gateways' metrics addresses from."""
    return stack.log_dir / "prometheus-scrape.d" / "gateways.json"


def prepare_prometheus_layer(stack: Stack) -> None:
    """Before Prometheus starts: the layer's alert rules and the gateways' scrape job in its directories."""
    rules_dir = stack.log_dir / "prometheus-rules.d"
    rules_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SCALE_OUT_RULES, rules_dir / "scale-out.yml")
    targets = gateways_file(stack)
    targets.parent.mkdir(parents=True, exist_ok=True)
    targets.write_text("[]", encoding="utf-8")
    (targets.parent / "gateways.yml").write_text(GATEWAY_SCRAPE_JOB.format(targets=targets), encoding="utf-8")


@dataclass
class ScaleOut:
    """The running scale-out layout; ``add_gateway`` starts one more gateway (it joins the consumer group)."""

    stack: Stack
    kafka: Kafka
    gateway_binary: Path
    ports: dict[str, int]
    gateway_env: dict[str, str]
    jaeger_binary: Path
    cassandra: CassandraCluster | None = None
    #: Config files every gateway reads after the shipped ones (later files override earlier ones).
    gateway_configs: tuple[Path, ...] = ()
    gateways: list[ManagedProcess] = field(default_factory=list)
    gateway_metrics: list[str] = field(default_factory=list)
    #: Each Jaeger's ports (``jaeger_*`` names), in start order; the first one's are ``ports``'.
    jaegers: list[dict[str, int]] = field(default_factory=list)

    @property
    def jaeger_queries(self) -> list[str]:
        """The query URL of every Jaeger."""
        return [f"http://127.0.0.1:{ports['jaeger_query']}" for ports in self.jaegers]

    def jaeger_health(self, number: int) -> str:
        """The health URL of Jaeger ``number`` (1-based; its process is named ``jaeger-<number>``)."""
        return f"http://127.0.0.1:{self.jaegers[number - 1]['jaeger_health']}/status"

    def add_jaeger(self) -> str:
        """Start one more Jaeger on ports of its own, storing where the first one does; its query URL."""
        self.jaegers.append(self.ports if not self.jaegers else {name: free_port() for name in JAEGER_PORT_NAMES})
        servers = self.cassandra.contact_points if self.cassandra else None
        number = len(self.jaegers)
        return start_jaeger(self.stack, self.jaeger_binary, self.jaegers[-1], f"jaeger-{number}", servers)

    def add_gateway(self) -> ManagedProcess:
        """Start a gateway on its own ports and queue directory; wait until it is healthy."""
        number = len(self.gateways) + 1
        health, metrics = free_port(), free_port()
        jaeger = self.jaegers[(number - 1) % len(self.jaegers)]
        env = {
            **collector_own_env(self.stack.log_dir / f"gateway-{number}-queue", health, metrics),
            **collector_backend_env(self.stack, self.ports),
            "JAEGER_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{jaeger['jaeger_otlp_grpc']}",
            "KAFKA_BROKERS": self.kafka.brokers,
            "HOSTNAME": f"gateway-{number}",
            **self.gateway_env,
        }
        name = f"otel-gateway-{number}"
        command = [*collector_command(self.gateway_binary, "gateway"), *(f"--config={c}" for c in self.gateway_configs)]
        start_process(self.stack, name, command, env, f"http://127.0.0.1:{health}/")
        gateway = self.stack.processes[-1]
        self.gateways.append(gateway)
        self.gateway_metrics.append(f"http://127.0.0.1:{metrics}/metrics")
        addresses = [url.removeprefix("http://").removesuffix("/metrics") for url in self.gateway_metrics]
        gateways_file(self.stack).write_text(json.dumps([{"targets": addresses}]), encoding="utf-8")
        return gateway


def _start_agent(stack: Stack, binary: Path, ports: dict[str, int], kafka: Kafka) -> None:
    env = {
        **collector_own_env(stack.log_dir / "agent-queue", ports["collector_health"], ports["collector_metrics"]),
        "OTELCOL_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{ports['collector_otlp_grpc']}",
        "OTELCOL_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{ports['collector_otlp_http']}",
        "KAFKA_BROKERS": kafka.brokers,
    }
    stack.collector_otlp_http = f"http://127.0.0.1:{ports['collector_otlp_http']}"
    stack.collector_otlp_grpc = f"127.0.0.1:{ports['collector_otlp_grpc']}"
    stack.collector_health = f"http://127.0.0.1:{ports['collector_health']}/"
    # Named like the one-box collector, so testsupport.collector_control can kill and restart it.
    start_process(stack, "otel-collector", collector_command(binary, "agent"), env, stack.collector_health)


@contextlib.contextmanager
def running_scaleout(
    log_dir: Path,
    gateways: int = 2,
    gateway_env: Mapping[str, str] | None = None,
    cassandra: CassandraCluster | None = None,
    jaegers: int = 1,
    gateway_configs: Sequence[Path] = (),
) -> Iterator[ScaleOut]:
    """Start Prometheus, Jaeger(s), Kafka, ``gateways`` gateways and the agent; yield them; stop everything.

    With ``cassandra`` (started by the caller, shared between layouts), ``jaegers`` Jaegers store in it, the
    first alone until it has created the schema; without, one Jaeger stores in Badger. ``gateway_configs`` go on
    top of the gateways' shipped config files.
    """
    binaries = built_backends()
    ports = {name: free_port() for name in PORT_NAMES}
    stack = Stack(log_dir=log_dir)
    kafka = Kafka(binaries["kafka"], log_dir)
    layout = ScaleOut(
        stack,
        kafka,
        binaries["otelcol-gateway"],
        ports,
        dict(gateway_env or {}),
        binaries["jaeger"],
        cassandra,
        tuple(gateway_configs),
    )
    try:
        prepare_prometheus_layer(stack)
        start_prometheus(stack, binaries["prometheus"], ports)
        stack.jaeger_query = layout.add_jaeger()
        stack.jaeger_health = layout.jaeger_health(1)
        for _ in range(1, jaegers if cassandra else 1):
            layout.add_jaeger()
        kafka.format()
        kafka.start()
        for _ in range(gateways):
            layout.add_gateway()
        _start_agent(stack, binaries["otelcol-agent"], ports, kafka)
        yield layout
    except BaseException:
        kafka_log = kafka.process.log_tail() if kafka.process else "(not started)"
        print(f"\nbackend logs ({log_dir}):\n{stack.log_tails()}\n----- kafka -----\n{kafka_log}", file=sys.stderr)
        raise
    finally:
        stack.stop()
        kafka.stop()


#: After the load: past every sampling decision (the sampling tests' decision wait) and the exports behind it.
SETTLE_S = DECISION_WAIT_S + 10
#: Enough of the service's own trace buffer to hold every chat of a fault run.
RECENT_TRACES = 5000


def under_load(
    layout: ScaleOut,
    work: Path,
    seconds: float,
    fault: Callable[[], None],
    at_s: float,
    workers: int,
    before_stop: Callable[[str], None] | None = None,
) -> list[ChatResult]:
    """Chats back to back for ``seconds`` through the agent; ``fault`` runs ``at_s`` into the load.

    ``before_stop`` gets the service's URL once the load is over and before the service stops (its buffer).
    """
    env = {**AGENT_ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": layout.stack.collector_otlp_http}
    env |= {"HA_AGENT_RATE_LIMIT_PER_MINUTE": "100000", "HA_AGENT_RECENT_TRACES": str(RECENT_TRACES)}
    with running_agent(work, env) as (url, _):
        load = ChatLoad(url, workers).start()
        time.sleep(at_s)
        fault()
        time.sleep(max(0.0, seconds - at_s))
        results = load.stop()
        time.sleep(2.0)  # the service's last batch
        if before_stop is not None:
            before_stop(url)
    return [r for r in results if r.status == 200]


def missing_traces(jaeger_url: str, results: list[ChatResult]) -> list[ChatResult]:
    """The answered chats whose trace is not whole in that Jaeger, once every decision is made."""
    time.sleep(SETTLE_S)
    answered = [r for r in results if r.trace_id]
    found = look_up(jaeger_url, [r.trace_id or "" for r in answered])
    return [r for r, whole in zip(answered, found, strict=True) if not whole]
