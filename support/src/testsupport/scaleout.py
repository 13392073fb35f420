"""The scale-out layout of docker-compose.scale.yml as plain processes on loopback.

Prometheus and Jaeger as in testsupport.stack, a single-node Kafka, N gateway collectors (one consumer group,
tail sampling on) and the agent collector the service sends to. ``Stack.collector_otlp_http`` is the agent's.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from testsupport.kafka import Kafka
from testsupport.processes import ManagedProcess, free_port
from testsupport.stack import (
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


@dataclass
class ScaleOut:
    """The running scale-out layout; ``add_gateway`` starts one more gateway (it joins the consumer group)."""

    stack: Stack
    kafka: Kafka
    gateway_binary: Path
    ports: dict[str, int]
    gateway_env: dict[str, str]
    gateways: list[ManagedProcess] = field(default_factory=list)
    gateway_metrics: list[str] = field(default_factory=list)

    def add_gateway(self) -> ManagedProcess:
        """Start a gateway on its own ports and queue directory; wait until it is healthy."""
        number = len(self.gateways) + 1
        health, metrics = free_port(), free_port()
        env = {
            **collector_own_env(self.stack.log_dir / f"gateway-{number}-queue", health, metrics),
            **collector_backend_env(self.stack, self.ports),
            "KAFKA_BROKERS": self.kafka.brokers,
            "HOSTNAME": f"gateway-{number}",
            **self.gateway_env,
        }
        name = f"otel-gateway-{number}"
        start_process(
            self.stack, name, collector_command(self.gateway_binary, "gateway"), env, f"http://127.0.0.1:{health}/"
        )
        gateway = self.stack.processes[-1]
        self.gateways.append(gateway)
        self.gateway_metrics.append(f"http://127.0.0.1:{metrics}/metrics")
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
    log_dir: Path, gateways: int = 2, gateway_env: Mapping[str, str] | None = None
) -> Iterator[ScaleOut]:
    """Start Prometheus, Jaeger, Kafka, ``gateways`` gateways and the agent; yield them; stop everything."""
    binaries = built_backends()
    ports = {name: free_port() for name in PORT_NAMES}
    stack = Stack(log_dir=log_dir)
    kafka = Kafka(binaries["kafka"], log_dir)
    layout = ScaleOut(stack, kafka, binaries["otelcol-gateway"], ports, dict(gateway_env or {}))
    try:
        start_prometheus(stack, binaries["prometheus"], ports)
        stack.jaeger_query = start_jaeger(stack, binaries["jaeger"], ports)
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
