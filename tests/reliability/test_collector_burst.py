"""Fault 6: a chat burst 5x the steady load against a collector with a tight memory_limiter.

A second collector runs with the repository's config, a low memory limit (OTELCOL_MEMORY_LIMIT_MIB /
OTELCOL_MEMORY_SPIKE_LIMIT_MIB, variables the config reads) and backends that accept connections and never
answer, as a stalled Jaeger or Tempo would: whatever the burst brings must wait in the collector's memory.
(With healthy backends the collector passes spans on faster than this 2-core machine can make them, and its
heap never gets near any limit.) Its resident memory is sampled from /proc during the burst. Pass: it stays
within the limit plus a margin, the collector is alive afterwards, it refused spans (its own
otelcol_receiver_refused_spans counter) with 503, the service's SDK retried them (its log names the 503), and
no chat failed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from ha_ai_agent.semconv import SERVICE_NAME
from testsupport.chat_load import ChatLoad
from testsupport.collector_control import start_collector_like
from testsupport.processes import running_agent
from testsupport.reliability_results import Outcome, record
from testsupport.servers import silent_port
from testsupport.stack import Stack

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(600)]

STEADY_WORKERS = 2
BURST_WORKERS = 5 * STEADY_WORKERS
STEADY_SECONDS = 10.0
BURST_MAX_SECONDS = 90.0
AFTER_REFUSAL_SECONDS = 5.0
LIMIT_MIB = 32
SPIKE_MIB = 8
MARGIN_MIB = 64  # RSS is more than the Go heap the limiter watches: runtime, stacks, binary pages
ENV = {
    "OTEL_SERVICE_NAME": SERVICE_NAME,
    "OTEL_BSP_SCHEDULE_DELAY": "200",
    "HA_AGENT_LLM_LATENCY_MS": "100",
    "HA_AGENT_RATE_LIMIT_PER_MINUTE": "100000",
}
RETRY_LINE = re.compile(r"Transient error Service Unavailable encountered while exporting spans? batch, retrying")
REFUSED = re.compile(r"^otelcol_receiver_refused_spans(?:_total)?\{[^}]*\} (\S+)$", re.MULTILINE)


@pytest.fixture
def stalled_backend() -> Iterator[str]:
    """host:port of a backend that accepts connections and never answers."""
    with silent_port() as port:
        yield f"127.0.0.1:{port}"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def refused_spans(metrics_url: str) -> float:
    """The collector's own count of spans its receivers refused (e.g. by the memory_limiter)."""
    return sum(float(value) for value in REFUSED.findall(httpx.get(metrics_url, timeout=5).text))


def test_burst_keeps_the_collector_within_its_memory_limit(
    reliability_stack: Stack, tmp_path: Path, stalled_backend: str
) -> None:
    overrides = {
        "OTELCOL_MEMORY_LIMIT_MIB": str(LIMIT_MIB),
        "OTELCOL_MEMORY_SPIKE_LIMIT_MIB": str(SPIKE_MIB),
        "JAEGER_OTLP_GRPC_ENDPOINT": stalled_backend,
        "TEMPO_OTLP_GRPC_ENDPOINT": stalled_backend,
    }
    with start_collector_like(reliability_stack, tmp_path, overrides) as (collector, endpoint, metrics_url):
        env = {**ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
        with running_agent(tmp_path, env, tmp_path / "agent.log") as (url, managed):
            steady = ChatLoad(url, STEADY_WORKERS).start()
            time.sleep(STEADY_SECONDS)
            steady_results = steady.stop()
            burst = ChatLoad(url, BURST_WORKERS).start()
            samples: list[float] = []
            started = time.monotonic()
            until = started + BURST_MAX_SECONDS
            while time.monotonic() < until and collector.process.poll() is None:
                samples.append(rss_mib(collector.process.pid))
                if len(samples) % 10 == 0 and refused_spans(metrics_url) > 0:
                    # The limit is reached: go on a little so the SDK's retries meet refusals too.
                    until = min(until, time.monotonic() + AFTER_REFUSAL_SECONDS)
                time.sleep(0.2)
            burst_results = burst.stop()
            burst_seconds = time.monotonic() - started
            alive = collector.process.poll() is None
            time.sleep(3)
            retries = len(RETRY_LINE.findall(managed.log_path.read_text(encoding="utf-8", errors="replace")))
            refused = refused_spans(metrics_url) if alive else 0.0
    collector_log = collector.log_path.read_text(encoding="utf-8", errors="replace")
    steady_rate = len(steady_results) / STEADY_SECONDS
    burst_rate = len(burst_results) / burst_seconds
    failed = sum(r.status != 200 for r in steady_results + burst_results)
    peak = max(samples, default=0.0)
    passed = alive and peak <= LIMIT_MIB + MARGIN_MIB and failed == 0 and refused > 0 and retries > 0
    record(
        Outcome(
            "6 collector burst",
            f"chats at {steady_rate:.1f}/s for {STEADY_SECONDS:.0f} s, then {burst_rate:.1f}/s "
            f"({burst_rate / steady_rate:.1f}x) for {burst_seconds:.0f} s; collector memory_limiter "
            f"{LIMIT_MIB} MiB (spike {SPIKE_MIB}), its backends stalled",
            f"collector RSS ≤ limit + {MARGIN_MIB} MiB; alive; refuses with 503; the SDK retries; 0 failed chats",
            f"peak RSS {peak:.0f} MiB; alive: {alive}; {refused:.0f} spans refused; {retries} SDK retries "
            f"after a 503; {failed} failed chats",
            passed,
        )
    )
    assert alive, collector_log[-4000:]
    assert peak <= LIMIT_MIB + MARGIN_MIB, peak
    assert refused > 0, "the burst never reached the memory_limiter: nothing was refused"
    assert retries > 0, "the SDK never retried a 503"
    assert failed == 0
