"""Fault 6: a chat burst 5x the steady load against a collector with a tight memory_limiter.

A second collector runs with the repository's config and a memory limit low enough for the burst to reach
it (OTELCOL_MEMORY_LIMIT_MIB / OTELCOL_MEMORY_SPIKE_LIMIT_MIB, variables the config reads). Its resident memory
is sampled from /proc during the burst. Pass: it stays within the limit plus a margin, the collector is alive
afterwards, no chat fails, and every refusal it answered was retried by the service's SDK (its log says so).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.e2e.stack import Stack
from tests.processes import running_agent
from tests.reliability.collector_control import start_collector_like
from tests.reliability.load import ChatLoad
from tests.reliability.results import Outcome, record

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(600)]

STEADY_WORKERS = 2
BURST_WORKERS = 5 * STEADY_WORKERS
STEADY_SECONDS = 10.0
BURST_SECONDS = 20.0
LIMIT_MIB = 40
SPIKE_MIB = 12
MARGIN_MIB = 64  # RSS is more than the Go heap the limiter watches: runtime, stacks, binary pages
ENV = {
    "OTEL_SERVICE_NAME": "ha-ai-agent",
    "OTEL_BSP_SCHEDULE_DELAY": "200",
    "HA_AGENT_LLM_LATENCY_MS": "100",
    "HA_AGENT_RATE_LIMIT_PER_MINUTE": "100000",
}
RETRY_LINE = re.compile(r"Transient error .* retrying")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_burst_keeps_the_collector_within_its_memory_limit(reliability_stack: Stack, tmp_path: Path) -> None:
    overrides = {"OTELCOL_MEMORY_LIMIT_MIB": str(LIMIT_MIB), "OTELCOL_MEMORY_SPIKE_LIMIT_MIB": str(SPIKE_MIB)}
    with start_collector_like(reliability_stack, tmp_path, overrides) as (collector, endpoint):
        env = {**ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
        with running_agent(tmp_path, env, tmp_path / "agent.log") as (url, managed):
            steady = ChatLoad(url, STEADY_WORKERS).start()
            time.sleep(STEADY_SECONDS)
            steady_results = steady.stop()
            burst = ChatLoad(url, BURST_WORKERS).start()
            samples: list[float] = []
            until = time.monotonic() + BURST_SECONDS
            while time.monotonic() < until and collector.process.poll() is None:
                samples.append(rss_mib(collector.process.pid))
                time.sleep(0.2)
            burst_results = burst.stop()
            alive = collector.process.poll() is None
            time.sleep(3)
            retries = len(RETRY_LINE.findall(managed.log_path.read_text(encoding="utf-8", errors="replace")))
    collector_log = collector.log_path.read_text(encoding="utf-8", errors="replace").lower()
    refused = sum("memory" in line and "refus" in line for line in collector_log.splitlines())
    steady_rate = len(steady_results) / STEADY_SECONDS
    burst_rate = len(burst_results) / BURST_SECONDS
    failed = sum(r.status != 200 for r in steady_results + burst_results)
    peak = max(samples, default=0.0)
    passed = alive and peak <= LIMIT_MIB + MARGIN_MIB and failed == 0
    record(
        Outcome(
            "6 collector burst",
            f"chats at {steady_rate:.1f}/s for {STEADY_SECONDS:.0f} s, then {burst_rate:.1f}/s "
            f"({burst_rate / steady_rate:.1f}x) for {BURST_SECONDS:.0f} s; collector memory_limiter "
            f"{LIMIT_MIB} MiB (spike {SPIKE_MIB})",
            f"collector RSS ≤ limit + {MARGIN_MIB} MiB; alive; 0 failed chats; refusals retried by the SDK",
            f"peak RSS {peak:.0f} MiB; alive: {alive}; {failed} failed chats; collector refusal log lines "
            f"{refused}, SDK retry log lines {retries}",
            passed,
        )
    )
    assert alive, collector_log[-4000:]
    assert peak <= LIMIT_MIB + MARGIN_MIB, peak
    assert failed == 0
