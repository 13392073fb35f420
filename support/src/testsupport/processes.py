"""Processes for tests and benchmarks: free loopback ports, polling, managed subprocesses, the service itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")
STOP_TIMEOUT_SECONDS = 10.0
LOG_TAIL_LINES = 40
SERVICE_START_TIMEOUT_SECONDS = 60.0
#: Variables of the developer's shell that would change what a started service does.
ISOLATED_PREFIXES = ("OTEL_", "HA_AGENT_", "OPENAI_", "HA_")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def poll(check: Callable[[], T | None], timeout_s: float, interval_s: float = 0.25, what: str = "condition") -> T:
    """Call check until it returns something truthy (not None, False or empty); fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except (httpx.HTTPError, ValueError, KeyError) as error:
            last_error = error
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(f"{what} not reached within {timeout_s:.0f}s{detail}")
        time.sleep(interval_s)


@dataclass
class ManagedProcess:
    """One backend process, its log file and how to tell it is ready."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self) -> str:
        """The last lines the process wrote."""
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-LOG_TAIL_LINES:])

    def stop(self) -> None:
        """Terminate, then kill if it does not exit in time."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)


def agent_command(port: int) -> list[str]:
    """``ha-ai-agent serve`` from the same virtualenv as the tests."""
    return [str(Path(sys.executable).parent / "ha-ai-agent"), "serve", "--host", "127.0.0.1", "--port", str(port)]


@contextmanager
def running_service(
    name: str,
    command: Callable[[int], list[str]],
    work_dir: Path,
    env: dict[str, str],
    log_path: Path | None = None,
) -> Iterator[tuple[str, ManagedProcess]]:
    """Start a web service (``command`` gives its command line for a free port), wait for /health, stop it.

    The developer's own ``OTEL_*``, ``HA_AGENT_*``, ``OPENAI_*`` and ``HA_*`` variables are left out, so a
    test sees only ``env``.
    """
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(ISOLATED_PREFIXES)}
    log_path = log_path or work_dir / f"{name}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command(port), stdout=log_file, stderr=subprocess.STDOUT, env={**base, **env}, cwd=work_dir
        )
    managed = ManagedProcess(name, process, log_path)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert process.poll() is None, f"{name} exited:\n{managed.log_tail()}"
        return httpx.get(f"{url}/health", timeout=2.0).is_success

    try:
        poll(healthy, SERVICE_START_TIMEOUT_SECONDS, interval_s=0.1, what=f"{name} /health")
        yield url, managed
    finally:
        managed.stop()


def running_agent(
    work_dir: Path, env: dict[str, str] | None = None, log_path: Path | None = None
) -> AbstractContextManager[tuple[str, ManagedProcess]]:
    """Start the service with embedded defaults (plus ``env``), wait for /health, stop it at the end."""
    full_env = {
        "HA_AGENT_DATA_DIR": str(work_dir / "data"),
        "HA_AGENT_LLM_LATENCY_MS": "0",
        "HA_AGENT_LLM_STREAM_CHUNK_MS": "0",
        **(env or {}),
    }
    return running_service("ha-ai-agent", agent_command, work_dir, full_env, log_path)
