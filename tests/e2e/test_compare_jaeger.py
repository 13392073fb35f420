"""Compare read from the real Jaeger: two service versions (different model latencies) in one time window."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from ha_ai_agent.semconv import OPENAI_API_CALL, SERVICE_NAME
from perftrace.analysis.compare import REQUEST
from perftrace.cli import jaeger_traces
from perftrace.formats.snapshot import read_snapshot
from perftrace.tracker import report_from_trace
from testsupport.processes import poll, running_agent
from testsupport.stack import AGENT_ENV, Stack

from tests.test_cli import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
BIN = Path(sys.executable).parent
KITCHEN = "What devices are in the kitchen?"
REQUESTS_PER_VERSION = 40
VERSIONS = (("1.0", "20"), ("2.0", "60"))


@pytest.fixture(scope="module")
def exported(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[float]:
    """Two versions of the service took requests in A B B A turns; returns when they started (epoch s)."""
    started = time.time()
    with ExitStack() as running:
        urls = []
        for version, latency in VERSIONS:
            env = {
                **AGENT_ENV,
                "OTEL_EXPORTER_OTLP_ENDPOINT": stack.collector_otlp_http,
                "OTEL_RESOURCE_ATTRIBUTES": f"service.version={version}",
                "HA_AGENT_LLM_LATENCY_MS": latency,
                "HA_AGENT_RATE_LIMIT_PER_MINUTE": "10000",
            }
            work = tmp_path_factory.mktemp(f"agent-{version}")
            urls.append(running.enter_context(running_agent(work, env, stack.log_dir / f"agent-{version}.log"))[0])
        for turn in range(REQUESTS_PER_VERSION):
            for url in urls if turn % 2 == 0 else urls[::-1]:
                assert httpx.post(f"{url}/api/v1/chat", json={"message": KITCHEN}, timeout=30).status_code == 200
    yield started


def _chats(stack: Stack, started: float, version: str | None = None) -> int:
    traces = jaeger_traces(stack.jaeger_query, SERVICE_NAME, (started, time.time()), 1000, version)
    return sum(report_from_trace(t, SERVICE_NAME) is not None for t in traces)


def test_compare_of_two_versions_in_jaeger_flags_the_model_call(stack: Stack, exported: float) -> None:
    versions = [v for v, _ in VERSIONS]
    counts: dict[str | None, int] = {}

    def all_in() -> bool | None:
        counts.update({v: _chats(stack, exported, v) for v in [*versions, None]})
        return all(counts[v] == REQUESTS_PER_VERSION for v in versions) or None

    try:
        poll(all_in, 30, what="both versions' chats in Jaeger")
    except AssertionError as error:
        raise AssertionError(f"chats per service.version in Jaeger (None: all): {counts}") from error
    command = [str(BIN / "ha-ai-agent"), "compare", "--jaeger", stack.jaeger_query, "--versions", *versions]
    result = run_cli([*command, "--since", "1h", "--confidence", "0.99", "--format", "json"], timeout=120)

    assert result.returncode == 0, result.stderr
    comparison = json.loads(result.stdout)
    assert comparison["requests_before"] == comparison["requests_after"] == REQUESTS_PER_VERSION
    slower = {s["name"] for s in comparison["stages"] if s["verdict"] == "slower"}
    assert {OPENAI_API_CALL, REQUEST} <= slower, comparison["stages"]
    # Tokens and cost per request, read from Jaeger's tags: the same question both times, so the same usage.
    usage = {u["name"]: (u["calls_after"], u["verdict"]) for u in comparison["usage"]}
    assert usage == dict.fromkeys(
        ("input tokens", "output tokens", "cost USD"), (REQUESTS_PER_VERSION, "no clear change")
    )


def test_a_jaeger_window_snapshot_holds_every_chat(stack: Stack, exported: float, tmp_path: Path) -> None:
    poll(lambda: _chats(stack, exported) == 2 * REQUESTS_PER_VERSION or None, 30, what="every chat in Jaeger")
    path = tmp_path / "window.json"
    since = f"{int(time.time() - exported) + 1}s"  # this module's chats (and at most a second of others')

    result = run_cli(
        [str(BIN / "ha-ai-agent"), "snapshot", "--jaeger", stack.jaeger_query, "--since", since, "-o", str(path)],
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    snapshot = read_snapshot(path)
    assert sum(report_from_trace(t, SERVICE_NAME) is not None for t in snapshot.traces) >= 2 * REQUESTS_PER_VERSION
    assert all(s.parent_span_id for t in snapshot.traces for s in t.spans if s.name == OPENAI_API_CALL)


def test_the_report_reads_the_same_jaeger_window(stack: Stack, exported: float) -> None:
    poll(lambda: _chats(stack, exported) == 2 * REQUESTS_PER_VERSION or None, 30, what="every chat in Jaeger")
    lookback = f"{int(time.time() - exported) + 1}s"

    result = run_cli(
        [str(BIN / "ha-ai-agent"), "report", "--jaeger", stack.jaeger_query, "--lookback", lookback, "--limit", "1000"],
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    requests = int(result.stdout.split(" requests", 1)[0])
    assert requests >= 2 * REQUESTS_PER_VERSION
    assert OPENAI_API_CALL in result.stdout and "critical path:" in result.stdout
    # Every kitchen question takes two LLM rounds (the device list, then the answer): one row, all requests.
    rounds = result.stdout.split("LLM rounds", 1)[1].splitlines()[1].split()
    assert rounds[0] == "2" and int(rounds[1]) == requests and rounds[2] == "100%", result.stdout
