"""Killing a process of the test stack (the collector, Jaeger) and starting it again with the same command and env."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx

from testsupport.processes import ManagedProcess, free_port, poll
from testsupport.stack import Stack

COLLECTOR_NAME = "otel-collector"
READY_TIMEOUT_SECONDS = 60.0


def _running(stack: Stack, name: str = COLLECTOR_NAME) -> ManagedProcess:
    running = [p for p in stack.processes if p.name == name and p.process.poll() is None]
    assert running, f"the stack has no running {name}"
    return running[-1]


def _environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (entry.split(b"=", 1) for entry in raw.split(b"\0") if b"=" in entry)
    return {key.decode(errors="replace"): value.decode(errors="replace") for key, value in pairs}


class ProcessController:
    """SIGKILL one process of the stack, later restart it; the new process joins the stack (stopped at the end)."""

    def __init__(self, stack: Stack, name: str, ready_url: str) -> None:
        self._stack = stack
        self._name = name
        self._ready_url = ready_url
        victim = _running(stack, name)
        # /proc keeps what the stack started it with; read it while the process is alive.
        self._command = [str(arg) for arg in victim.process.args]  # type: ignore[union-attr]
        self._env = _environment(victim.process.pid)
        self._cwd = os.readlink(f"/proc/{victim.process.pid}/cwd")
        self._victim = victim
        self._restarts = 0

    def kill(self) -> None:
        """SIGKILL: no flush, no goodbye, as when the container is OOM-killed."""
        self._victim.process.send_signal(signal.SIGKILL)
        self._victim.process.wait(timeout=10)

    def restart(self) -> None:
        """Start the process again on the same ports and wait until its health check answers."""
        self._restarts += 1
        log_path = self._stack.log_dir / f"{self._name}-restart{self._restarts}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                self._command, stdout=log_file, stderr=subprocess.STDOUT, env=self._env, cwd=self._cwd
            )
        self._victim = ManagedProcess(self._name, process, log_path)
        self._stack.processes.append(self._victim)
        poll(
            lambda: httpx.get(self._ready_url, timeout=2.0).is_success,
            READY_TIMEOUT_SECONDS,
            interval_s=0.1,
            what=f"restarted {self._name} healthy",
        )


class CollectorController(ProcessController):
    """SIGKILL the stack's collector (the agent, in the scale-out layout), later restart it."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(stack, COLLECTOR_NAME, stack.collector_health)


@contextlib.contextmanager
def start_collector_like(
    stack: Stack, work_dir: Path, overrides: dict[str, str]
) -> Iterator[tuple[ManagedProcess, str, str]]:
    """A second collector with the stack's command and environment, its own ports, plus ``overrides``.

    It exports to the same backends unless ``overrides`` say otherwise. Yields the process, its OTLP/HTTP
    endpoint and the URL of its own Prometheus metrics; stops it at the end.
    """
    model = _running(stack)
    env = _environment(model.process.pid)
    ports = {name: free_port() for name in ("http", "grpc", "health", "metrics")}
    env.update(
        {
            "OTELCOL_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{ports['http']}",
            "OTELCOL_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{ports['grpc']}",
            "OTELCOL_HEALTH_ENDPOINT": f"127.0.0.1:{ports['health']}",
            "OTELCOL_METRICS_PORT": str(ports["metrics"]),
            # Its own queue files: two collectors cannot share one file_storage directory.
            "OTELCOL_STORAGE_DIR": str(work_dir / "otelcol-second-queue"),
            **overrides,
        }
    )
    log_path = work_dir / "otel-collector-second.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [str(arg) for arg in model.process.args],  # type: ignore[union-attr]
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=work_dir,
        )
    managed = ManagedProcess("otel-collector-second", process, log_path)
    try:
        poll(
            lambda: httpx.get(f"http://127.0.0.1:{ports['health']}/", timeout=2.0).is_success,
            READY_TIMEOUT_SECONDS,
            interval_s=0.1,
            what="second collector healthy",
        )
        yield managed, f"http://127.0.0.1:{ports['http']}", f"http://127.0.0.1:{ports['metrics']}/metrics"
    finally:
        managed.stop()
