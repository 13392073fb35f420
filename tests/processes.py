"""The service as a real process (``ha-ai-agent serve``) on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.e2e.stack import ManagedProcess, free_port, poll

AGENT_START_TIMEOUT_SECONDS = 60.0


def agent_command(port: int) -> list[str]:
    """``ha-ai-agent serve`` from the same virtualenv as the tests."""
    return [
        str(Path(sys.executable).parent / "ha-ai-agent"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


@contextmanager
def running_agent(work_dir: Path, env: dict[str, str] | None = None) -> Iterator[tuple[str, ManagedProcess]]:
    """Start the service with embedded defaults (plus ``env``), wait for /health, stop it at the end.

    The developer's own ``OTEL_*`` and ``HA_AGENT_*`` variables are left out so a test sees only its own.
    """
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "HA_AGENT_", "OPENAI_", "HA_"))}
    full_env = {
        **base,
        "HA_AGENT_DATA_DIR": str(work_dir / "data"),
        "HA_AGENT_LLM_LATENCY_MS": "0",
        **(env or {}),
    }
    log_path = work_dir / "ha-ai-agent.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            agent_command(port), stdout=log_file, stderr=subprocess.STDOUT, env=full_env, cwd=work_dir
        )
    managed = ManagedProcess("ha-ai-agent", process, log_path)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert process.poll() is None, f"ha-ai-agent exited:\n{managed.log_tail()}"
        return httpx.get(f"{url}/health", timeout=2.0).is_success

    try:
        poll(healthy, AGENT_START_TIMEOUT_SECONDS, interval_s=0.1, what="ha-ai-agent /health")
        yield url, managed
    finally:
        managed.stop()
