"""Fault 4: with several worker processes (``uvicorn --workers 2``) every worker's spans are exported.

Each worker runs the app's lifespan, so each sets tracing up after its own start (no exporter thread inherited
across a fork). The process resource detector puts ``process.pid`` on every span, so Jaeger says which worker
answered; every chat's trace must be there, from both workers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import httpx
import pytest
from ha_ai_agent.semconv import SERVICE_NAME
from testsupport.backend_queries import has_server_span, raw_trace
from testsupport.chat_load import send_chat
from testsupport.processes import ISOLATED_PREFIXES, ManagedProcess, free_port, poll
from testsupport.reliability_results import Outcome, record
from testsupport.stack import Stack

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(300)]

WORKERS = 2
CHATS = 60
CONCURRENCY = 4
VISIBLE_TIMEOUT_SECONDS = 30.0


def worker_pids(jaeger_url: str, trace_id: str) -> set[str]:
    """The process.pid tags of the trace's ha-ai-agent processes in Jaeger."""
    data = json.loads(raw_trace(jaeger_url, trace_id) or "{}").get("data") or []
    pids = set()
    for process in data[0]["processes"].values() if data else []:
        if process["serviceName"] == SERVICE_NAME:
            pids |= {str(tag["value"]) for tag in process.get("tags", []) if tag["key"] == "process.pid"}
    return pids


def one_chat(url: str) -> str | None:
    with httpx.Client() as client:  # a new connection each time, so the kernel spreads them over the workers
        return send_chat(client, url).trace_id


def test_every_worker_exports_its_spans(reliability_stack: Stack, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(ISOLATED_PREFIXES)},
        "HA_AGENT_DATA_DIR": str(tmp_path / "data"),
        "HA_AGENT_LLM_LATENCY_MS": "0",
        "HA_AGENT_LLM_STREAM_CHUNK_MS": "0",
        "HA_AGENT_RATE_LIMIT_PER_MINUTE": "100000",
        "OTEL_SERVICE_NAME": SERVICE_NAME,
        "OTEL_BSP_SCHEDULE_DELAY": "500",
        "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "process",
        "OTEL_EXPORTER_OTLP_ENDPOINT": reliability_stack.collector_otlp_http,
    }
    uvicorn = str(Path(sys.executable).parent / "uvicorn")
    command = [uvicorn, "--factory", "ha_ai_agent.app:create_app", "--workers", str(WORKERS), "--port", str(port)]
    log_path = tmp_path / "uvicorn.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1"], stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=tmp_path
        )
    managed = ManagedProcess("uvicorn-workers", process, log_path)
    url = f"http://127.0.0.1:{port}"
    try:
        poll(lambda: httpx.get(f"{url}/health", timeout=2).is_success, 60, what="workers healthy")
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            trace_ids = [t for t in pool.map(lambda _: one_chat(url), range(CHATS)) if t]
        for trace_id in trace_ids:
            poll(partial(has_server_span, reliability_stack.jaeger_query, trace_id), VISIBLE_TIMEOUT_SECONDS)
        pids = set().union(*(worker_pids(reliability_stack.jaeger_query, t) for t in trace_ids))
    finally:
        managed.stop()
    passed = len(trace_ids) == CHATS and len(pids) == WORKERS
    record(
        Outcome(
            "4 several worker processes",
            f"uvicorn --workers {WORKERS}; {CHATS} chats, {CONCURRENCY} at a time, a new connection each",
            "every chat's trace in Jaeger; spans from every worker (process.pid)",
            f"{len(trace_ids)}/{CHATS} answered and all in Jaeger; {len(pids)} worker pids seen",
            passed,
        )
    )
    assert len(trace_ids) == CHATS, managed.log_tail()
    assert len(pids) == WORKERS, pids
