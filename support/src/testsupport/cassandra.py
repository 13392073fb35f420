"""A three-node Apache Cassandra cluster on loopback, from the cached jars, for the scale-out tests.

`make backends` (testsupport.backends) fetches ``cassandra-all`` and its runtime jars at the version that
docker-compose.scale.yml pins; this module writes each node a ``cassandra.yaml`` and runs
``org.apache.cassandra.service.CassandraDaemon`` on the machine's Java 17, one node per loopback address
(127.0.0.2-127.0.0.4, the same ports on each, as containers would have), 127.0.0.2 the seed. Nodes start one after
another: Cassandra refuses two nodes joining the ring at once.

Test-only shortcuts (never in compose): no wait for gossip to settle and a ring delay of 1 s bring a node up in
about 15 s instead of about 70 s, and a small heap keeps three nodes within about 2.5 GB.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from testsupport.processes import ManagedProcess, free_port, poll

NODE_ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
CLUSTER_NAME = "ha-ai-agent-tests"
START_TIMEOUT_SECONDS = 180.0
#: What a node logs when the seed's gossip did not answer its first join in time (it then exits).
SEEDS_UNREACHABLE = "Unable to contact any seeds"
FIRST_JOIN_ATTEMPTS = 3
FIRST_JOIN_RETRY_SECONDS = 5.0
HEAP = ("-Xms384m", "-Xmx384m")
#: Cassandra's own JDK 17 module flags (its conf/jvm17-server.options): it reaches into JDK internals.
JDK17_FLAGS = tuple(
    [f"--add-exports={target}=ALL-UNNAMED" for target in (
        "java.base/jdk.internal.misc", "java.base/java.lang.ref", "java.base/jdk.internal.ref",
        "java.management.rmi/com.sun.jmx.remote.internal.rmi", "java.rmi/sun.rmi.registry",
        "java.rmi/sun.rmi.server", "java.sql/java.sql", "jdk.unsupported/sun.misc",
        "jdk.compiler/com.sun.tools.javac.file", "jdk.attach/sun.tools.attach",
    )]
    + [f"--add-opens={target}=ALL-UNNAMED" for target in (
        "java.base/java.lang.module", "java.base/jdk.internal.loader", "java.base/jdk.internal.ref",
        "java.base/jdk.internal.reflect", "java.base/jdk.internal.math", "java.base/jdk.internal.module",
        "java.base/jdk.internal.util.jar", "jdk.management/com.sun.management.internal", "java.base/sun.nio.ch",
        "java.base/java.io", "java.base/java.lang.reflect", "jdk.compiler/com.sun.tools.javac",
        "java.base/java.lang", "java.base/java.util",
    )]
    + ["-Djdk.attach.allowAttachSelf=true", "-Dio.netty.tryReflectionSetAccessible=true"]
)  # fmt: skip
#: Test-only: skip the waits a production node makes for the ring to settle (about 55 s per node).
FAST_START_FLAGS = ("-Dcassandra.skip_wait_for_gossip_to_settle=0", "-Dcassandra.ring_delay_ms=1000")
LOGBACK = """<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level [%thread] %logger{20} %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="STDOUT"/></root>
</configuration>
"""


def _port_free_on_every_node() -> int:
    """A port nothing listens on at any of the node addresses (all nodes use the same ports)."""
    while True:
        port = free_port()
        taken = False
        for address in NODE_ADDRESSES:
            with socket.socket() as probe:
                try:
                    probe.bind((address, port))
                except OSError:
                    taken = True
        if not taken:
            return port


class NodeExited(Exception):
    """A node's process ended before it answered CQL; ``log`` is its whole log."""

    def __init__(self, message: str, log: str) -> None:
        super().__init__(message)
        self.log = log


@dataclass
class CassandraNode:
    """One node: its address, its directory (data, commit log, config) and its process."""

    address: str
    directory: Path
    process: ManagedProcess | None = None
    starts: int = 0
    #: Whether it ever answered CQL (a node that has not may be started again from scratch).
    served: bool = False

    @property
    def running(self) -> bool:
        """Whether the node's process is alive."""
        return self.process is not None and self.process.process.poll() is None


@dataclass
class CassandraCluster:
    """Three nodes over ``work_dir``; ``start`` after ``kill`` keeps a node's data (it rejoins the ring)."""

    jars: Path
    work_dir: Path
    storage_port: int = field(default_factory=_port_free_on_every_node)
    native_port: int = field(default_factory=_port_free_on_every_node)
    nodes: list[CassandraNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.nodes = [CassandraNode(address, self.work_dir / f"cassandra-{address}") for address in NODE_ADDRESSES]

    @property
    def contact_points(self) -> str:
        """host:port of every node, comma-separated (Jaeger's CASSANDRA_SERVERS)."""
        return ",".join(f"{node.address}:{self.native_port}" for node in self.nodes)

    def _write_config(self, node: CassandraNode) -> Path:
        node.directory.mkdir(parents=True, exist_ok=True)
        config = {
            "cluster_name": CLUSTER_NAME,
            "num_tokens": 16,
            "allocate_tokens_for_local_replication_factor": 2,
            "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
            "endpoint_snitch": "SimpleSnitch",
            "seed_provider": [
                {
                    "class_name": "org.apache.cassandra.locator.SimpleSeedProvider",
                    "parameters": [{"seeds": f"{NODE_ADDRESSES[0]}:{self.storage_port}"}],
                }
            ],
            "listen_address": node.address,
            "rpc_address": node.address,
            "storage_port": self.storage_port,
            "native_transport_port": self.native_port,
            "start_native_transport": True,
            "commitlog_sync": "periodic",
            "commitlog_sync_period": "10000ms",
            "data_file_directories": [str(node.directory / "data")],
            "commitlog_directory": str(node.directory / "commitlog"),
            "saved_caches_directory": str(node.directory / "saved_caches"),
            "hints_directory": str(node.directory / "hints"),
            "cdc_raw_directory": str(node.directory / "cdc_raw"),
            # Small caches and memtables for a heap of 384 MB.
            "key_cache_size": "8MiB",
            "memtable_heap_space": "64MiB",
            "memtable_offheap_space": "64MiB",
            "concurrent_compactors": 1,
        }
        path = node.directory / "cassandra.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        (node.directory / "logback.xml").write_text(LOGBACK, encoding="utf-8")
        return path

    def _command(self, node: CassandraNode, config: Path) -> list[str]:
        return [
            "java", *HEAP, *JDK17_FLAGS, *FAST_START_FLAGS,
            f"-Dcassandra.config=file://{config}",
            f"-Dcassandra.storagedir={node.directory}",
            f"-Dlogback.configurationFile={node.directory / 'logback.xml'}",
            "-Dcassandra-foreground=yes",
            "-cp", f"{self.jars}/*",
            "org.apache.cassandra.service.CassandraDaemon",
        ]  # fmt: skip

    def start_node(self, node: CassandraNode) -> None:
        """Start one node and wait until it answers CQL on its address.

        A node joining for the first time can give up at once when the seed's gossip does not answer it in time
        ("Unable to contact any seeds": seen on a loaded 2-core machine with the test-only short ring delay); it has
        joined nothing then, so it is started again from empty directories, a few times at most.
        """
        for attempt in range(1, FIRST_JOIN_ATTEMPTS + 1):
            try:
                self._start_once(node)
                node.served = True
                return
            except NodeExited as exited:
                if node.served or SEEDS_UNREACHABLE not in exited.log or attempt == FIRST_JOIN_ATTEMPTS:
                    raise AssertionError(str(exited)) from None
                for name in ("data", "commitlog", "saved_caches", "hints"):
                    shutil.rmtree(node.directory / name, ignore_errors=True)
                time.sleep(FIRST_JOIN_RETRY_SECONDS)

    def _start_once(self, node: CassandraNode) -> None:
        config = self._write_config(node)
        node.starts += 1
        log_path = node.directory / f"cassandra-{node.starts}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                self._command(node, config), stdout=log_file, stderr=subprocess.STDOUT, cwd=node.directory
            )
        managed = node.process = ManagedProcess(f"cassandra-{node.address}", process, log_path)

        def serving() -> bool:
            if process.poll() is not None:
                raise NodeExited(
                    f"cassandra {node.address} exited:\n{managed.log_tail()}", log_path.read_text(errors="replace")
                )
            with socket.socket() as probe:
                return probe.connect_ex((node.address, self.native_port)) == 0

        poll(serving, START_TIMEOUT_SECONDS, interval_s=0.5, what=f"cassandra {node.address} serving CQL")

    def start(self) -> None:
        """Start every node not running, one after another (the seed first)."""
        for node in self.nodes:
            if not node.running:
                self.start_node(node)

    def kill(self, node: CassandraNode) -> None:
        """SIGKILL one node (its data stays)."""
        if node.process is not None:
            node.process.process.kill()
            node.process.process.wait(timeout=30)

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL), the last started first."""
        for node in reversed(self.nodes):
            if node.process is not None:
                node.process.stop()

    def log_tails(self) -> str:
        """The end of every node's log, for a failure report."""
        return "\n".join(f"----- {n.address} -----\n{n.process.log_tail()}" for n in self.nodes if n.process)


@contextmanager
def running_cassandra(jars: Path, work_dir: Path) -> Iterator[CassandraCluster]:
    """A started three-node cluster; stopped at the end."""
    cluster = CassandraCluster(jars, work_dir)
    try:
        cluster.start()
        yield cluster
    except BaseException:
        print(f"\ncassandra logs ({work_dir}):\n{cluster.log_tails()}")
        raise
    finally:
        cluster.stop()
