"""A single-node Kafka (KRaft: broker and controller in one process) on loopback, from the cached jars.

`make backends` (testsupport.backends) fetches the jars of the apache/kafka version that docker-compose.scale.yml
pins; this module formats a log directory and runs ``kafka.Kafka`` on the machine's Java, with the settings that compose
gives the image (one node, replication factor 1, topics created on first use with NUM_PARTITIONS partitions).
"""

from __future__ import annotations

import base64
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from testsupport.processes import ManagedProcess, free_port, poll
from testsupport.servers import closed_port

NUM_PARTITIONS = 12  # as KAFKA_NUM_PARTITIONS in docker-compose.scale.yml
START_TIMEOUT_SECONDS = 60.0
HEAP = "-Xmx512m"


@dataclass
class Kafka:
    """A formatted log directory and the broker running on it (``start`` again after ``kill`` keeps the data)."""

    jars: Path
    work_dir: Path
    port: int = 0
    controller_port: int = 0
    process: ManagedProcess | None = None
    starts: int = 0

    @property
    def bootstrap(self) -> str:
        """host:port of the broker."""
        return f"127.0.0.1:{self.port}"

    @property
    def brokers(self) -> str:
        """KAFKA_BROKERS for the collectors: a port nothing listens on, then the broker.

        A list of two, as a cluster would give, so every scale-out test shows that the collectors read
        KAFKA_BROKERS as a list (one string "a,b" would be one unresolvable address) and skip a dead broker.
        """
        return f"127.0.0.1:{closed_port()},{self.bootstrap}"

    def _java(self, *arguments: str) -> list[str]:
        return ["java", HEAP, "-cp", f"{self.jars}/*", *arguments]

    def format(self) -> None:
        """Pick ports, write server.properties and format the log directory with a new cluster id."""
        self.port, self.controller_port = free_port(), free_port()
        properties = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.work_dir / "kafka-data"),
            "num.partitions": str(NUM_PARTITIONS),
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            # The tests start consumers right away; the default 3 s delay only slows the first rebalance.
            "group.initial.rebalance.delay.ms": "0",
        }
        config = self.work_dir / "server.properties"
        config.write_text("".join(f"{key}={value}\n" for key, value in properties.items()), encoding="utf-8")
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        # One id in 64 starts with "-": as a separate argument the tool would take it for an option.
        subprocess.run(
            self._java("kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(config)),
            capture_output=True,
            timeout=120,
            check=True,
        )

    def start(self) -> None:
        """Start the broker and wait until it accepts connections."""
        self.starts += 1
        log_path = self.work_dir / f"kafka-{self.starts}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                self._java("kafka.Kafka", str(self.work_dir / "server.properties")),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.work_dir,
            )
        self.process = ManagedProcess("kafka", process, log_path)

        def listening() -> bool:
            assert process.poll() is None, f"kafka exited:\n{self.process.log_tail() if self.process else ''}"
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", self.port)) == 0

        poll(listening, START_TIMEOUT_SECONDS, interval_s=0.2, what="kafka listening")

    def kill(self) -> None:
        """SIGKILL the broker (its data stays)."""
        if self.process is not None:
            self.process.process.kill()
            self.process.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL)."""
        if self.process is not None:
            self.process.stop()
