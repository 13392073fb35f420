"""Throughput and added latency of the browser endpoint (``POST /otlp/v1/traces``), today's code beside older commits.

1. Spans per second on one core through the work the route does besides I/O (read and check the export, cap,
   re-serialize, copy into the local buffer), for OTLP JSON and protobuf exports of 50 browser-like spans.
   Each checkout (this tree and ``git worktree``s of older commits: by default the last one before the JSON
   schema check, and the start of issue 20) runs in a worker process of its own
   (``benchmarks.harness.browser_endpoint_worker``); rounds are interleaved, the order rotating, and each ratio to
   an older commit is taken within a round, then the median and range over the rounds.
2. Added p99 latency over HTTP: the real service (embedded mode, a subprocess on loopback) receives a
   typical export of 8 spans, one request at a time; the baseline is a request of the same size to an
   unknown OTLP path, which goes through the same server and middleware but is refused unread.

Usage: python -m benchmarks --only browser_endpoint_throughput [--quick]
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from ha_ai_agent.semconv import BROWSER_SERVICE_NAME, SERVICE_NAME
from perftrace.analysis.report import percentile
from testsupport.processes import running_agent
from testsupport.report import Target, median, section_preamble, table, targets_table

from benchmarks.harness import browser_endpoint_worker as worker
from benchmarks.harness.rounds import Ratio

REPO = Path(__file__).resolve().parents[1]
LIBRARY_SOURCES = Path("libs/perftrace/src")
THIS_TREE = "this tree"
#: The commits this tree is measured against by default: the parent of b4b5e4e, which added the JSON schema
#: check (the 22k spans/s of the figures before it), and the commit issue 20 started from.
DEFAULT_AGAINST = {"before the schema check": "b4b5e4e~1", "issue 20 start": "9953782"}
TARGET_SPANS_PER_SECOND = 10_000
TARGET_ADDED_P99_MS = 5.0
SPANS_PER_EXPORT = 50


def otlp_json_export(spans: int, trace_number: int = 1) -> dict[str, object]:
    """An OTLP/JSON export shaped like the page's: a send_message trace of ui_update/api_call spans."""
    trace_id = f"{trace_number:032x}"
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": BROWSER_SERVICE_NAME}},
                        {"key": "telemetry.sdk.language", "value": {"stringValue": "webjs"}},
                        {"key": "telemetry.sdk.version", "value": {"stringValue": "2.12.0"}},
                    ]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": BROWSER_SERVICE_NAME, "version": "0.1.0"},
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": f"{i + 1:016x}",
                                "parentSpanId": "" if i == 0 else f"{1:016x}",
                                "name": "send_message" if i == 0 else "ui_update",
                                "kind": 1,
                                "startTimeUnixNano": str(1_700_000_000_000_000_000 + i * 1000),
                                "endTimeUnixNano": str(1_700_000_000_000_500_000 + i * 1000),
                                "attributes": [
                                    {"key": "ui.action", "value": {"stringValue": "add_user_message"}},
                                    {
                                        "key": "performance.operation",
                                        "value": {"stringValue": "send_message_1700000000000"},
                                    },
                                    {"key": "http.request.method", "value": {"stringValue": "POST"}},
                                    {"key": "url.full", "value": {"stringValue": "http://127.0.0.1:8030/api/v1/chat"}},
                                    {"key": "http.response.status_code", "value": {"intValue": "200"}},
                                    {"key": "success", "value": {"boolValue": True}},
                                ],
                                "status": {"code": 0},
                            }
                            for i in range(spans)
                        ],
                    }
                ],
            }
        ]
    }


@dataclass
class CheckoutRates:
    """One checkout's spans/s per encoding, one value per round."""

    commit: str
    rounds: dict[str, list[float]] = field(default_factory=lambda: {worker.JSON: [], worker.PROTOBUF: []})


def _commit(ref: str) -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()


@contextmanager
def library_sources(against: Mapping[str, str], work: Path) -> Iterator[dict[str, tuple[str, Path]]]:
    """Name -> (commit, ``libs/perftrace/src``) for this tree and a detached worktree of each ref."""
    sources = {THIS_TREE: ("working tree", REPO / LIBRARY_SOURCES)}
    added: list[Path] = []
    try:
        for index, (name, ref) in enumerate(against.items()):
            path = work / f"checkout-{index}"
            subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(path), ref], cwd=REPO, check=True)
            added.append(path)
            sources[name] = (_commit(ref), path / LIBRARY_SOURCES)
        yield sources
    finally:
        for path in added:
            subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=REPO, check=False)


@contextmanager
def started_worker(source: Path, document: Path) -> Iterator[subprocess.Popen[str]]:
    """A worker timing the library at ``source``, ready for requests."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    command = [sys.executable, "-m", "benchmarks.harness.browser_endpoint_worker", str(document)]
    command += [BROWSER_SERVICE_NAME, SERVICE_NAME]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        # The worker must have imported the checkout's library, not the installed one.
        assert Path(ready["perftrace"]).is_relative_to(source), (ready, source)
        yield process
    finally:
        if process.stdin:
            process.stdin.close()
        process.wait(timeout=30)


def _measure(process: subprocess.Popen[str], exports: int) -> dict[str, float]:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(f"{exports}\n")
    process.stdin.flush()
    rates: dict[str, float] = json.loads(process.stdout.readline())
    return rates


def spans_per_second(against: Mapping[str, str], rounds: int, exports_per_round: int) -> dict[str, CheckoutRates]:
    """Each checkout's spans/s per encoding and round, the checkouts' turns interleaved and rotating."""
    with tempfile.TemporaryDirectory() as work_dir, ExitStack() as stack:
        work = Path(work_dir)
        document = work / "export.json"
        document.write_text(json.dumps(otlp_json_export(SPANS_PER_EXPORT)))
        sources = stack.enter_context(library_sources(against, work))
        workers = {name: stack.enter_context(started_worker(src, document)) for name, (_, src) in sources.items()}
        results = {name: CheckoutRates(commit) for name, (commit, _) in sources.items()}
        names = list(workers)
        for round_number in range(rounds):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                for encoding, rate in _measure(workers[name], exports_per_round).items():
                    results[name].rounds[encoding].append(rate)
    return results


def ratios(results: Mapping[str, CheckoutRates], other: str, encoding: str) -> list[float]:
    """This tree's spans/s over ``other``'s, round by round."""
    mine, theirs = results[THIS_TREE].rounds[encoding], results[other].rounds[encoding]
    return [a / b for a, b in zip(mine, theirs, strict=True)]


def http_latencies_ms(requests: int, spans: int) -> tuple[list[float], list[float]]:
    """Per-request wall time of the browser endpoint and of the baseline, interleaved, against the real service."""
    body = json.dumps(otlp_json_export(spans)).encode()
    headers = {"content-type": "application/json"}
    endpoint: list[float] = []
    baseline: list[float] = []
    env = {"HA_AGENT_BROWSER_ENDPOINT__RATE_LIMIT_PER_MINUTE": str(requests * 10)}
    with (
        tempfile.TemporaryDirectory() as work,
        running_agent(Path(work), env) as (url, _),
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        for i in range(requests + 20):
            for path, sink in (("/otlp/v1/traces", endpoint), ("/otlp/v1/unknown", baseline)):
                started = time.perf_counter()
                response = client.post(path, content=body, headers=headers)
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == (200 if sink is endpoint else 404), response.text
                if i >= 20:  # warm-up
                    sink.append(elapsed)
    return endpoint, baseline


def _rate_rows(results: Mapping[str, CheckoutRates]) -> list[list[str]]:
    return [
        [f"{name} (`{rates.commit}`)"]
        + [f"{median(rates.rounds[encoding]):,.0f}" for encoding in (worker.JSON, worker.PROTOBUF)]
        for name, rates in results.items()
    ]


def _ratio_rows(results: Mapping[str, CheckoutRates]) -> list[list[str]]:
    rows = []
    for name in results:
        if name == THIS_TREE:
            continue
        cells = [Ratio(ratios(results, name, encoding)).text(2) for encoding in (worker.JSON, worker.PROTOBUF)]
        rows.append([f"this tree / {name}", *cells])
    return rows


def run(quick: bool = False, against: Mapping[str, str] = DEFAULT_AGAINST) -> str:
    """Measure and render the section."""
    started = dt.datetime.now(dt.UTC)
    rounds, per_round, requests = (3, 100, 100) if quick else (15, 200, 600)
    results = spans_per_second(against, rounds, per_round)
    endpoint, baseline = http_latencies_ms(requests, spans=8)
    # The difference of two p99s is noise-dominated (it even came out negative); the whole round trip's p99
    # is an upper bound of what the endpoint adds, and never flatters it.
    round_trip_p99 = percentile(endpoint, 99)
    mine = results[THIS_TREE].rounds
    targets = [
        Target("JSON spans/s on one core", median(mine[worker.JSON]), TARGET_SPANS_PER_SECOND, "", at_most=False),
        Target(
            "protobuf spans/s on one core", median(mine[worker.PROTOBUF]), TARGET_SPANS_PER_SECOND, "", at_most=False
        ),
        *(
            Target(
                f"JSON spans/s, this tree / {name} (median of rounds)",
                median(ratios(results, name, worker.JSON)),
                1.0,
                "",
                at_most=False,
            )
            for name in against
        ),
        Target(
            "p99 of an 8-span export, whole round trip (bounds the added latency)",
            round_trip_p99,
            TARGET_ADDED_P99_MS,
            "ms",
        ),
    ]
    lines = section_preamble("Browser endpoint throughput", started)
    lines += [
        f"CPU work of the route (read and check, cap, re-serialize, copy to the buffer), {SPANS_PER_EXPORT}-span "
        f"exports; each checkout in a worker process of its own, {rounds} interleaved rounds of {per_round} "
        "exports per encoding (the order rotating); spans/s is the median over the rounds:",
        "",
        *table(["checkout", "JSON spans/s (one core)", "protobuf spans/s (one core)"], _rate_rows(results)),
        "",
        "Ratios taken within each round (the checkouts of a round ran back to back), median (range) over the rounds:",
        "",
        *table(["ratio", "JSON", "protobuf"], _ratio_rows(results)),
        "",
        f"Over HTTP to the real service (this tree), {requests} sequential 8-span JSON exports, each followed by a "
        "same-size request to an unknown OTLP path (same server and middleware, refused unread):",
        "",
        *table(
            ["request", "p50 ms", "p99 ms"],
            [
                ["POST /otlp/v1/traces", f"{percentile(endpoint, 50):.2f}", f"{percentile(endpoint, 99):.2f}"],
                ["baseline (404)", f"{percentile(baseline, 50):.2f}", f"{percentile(baseline, 99):.2f}"],
            ],
        ),
        "",
        *targets_table(targets),
    ]
    return "\n".join(lines)
