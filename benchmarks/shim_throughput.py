"""Throughput and added latency of the browser endpoint (``POST /otlp/v1/traces``, the shim).

1. Spans per second on one core through the work the route does besides I/O: ``prepare_export``
   (decode, check against the published OTLP/JSON schema, cap, re-serialize) and ``span_records`` (the copy
   into the local buffer), for OTLP JSON and protobuf exports of 50 browser-like spans. Variants interleaved,
   median of rounds.
2. Added p99 latency over HTTP: the real service (embedded mode, a subprocess on loopback) receives a
   typical export of 8 spans, one request at a time; the baseline is a request of the same size to an
   unknown OTLP path, which goes through the same server and middleware but is refused unread.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import httpx
from ha_ai_agent.semconv import BROWSER_SERVICE_NAME, SERVICE_NAME
from perftrace.analysis import percentile
from perftrace.browser_export import ExportLimits, prepare_export, span_records
from perftrace.fastapi.otlp_schema import check_export_document
from testsupport.processes import running_agent
from testsupport.report import Target, median, section_preamble, table, targets_table

TARGET_SPANS_PER_SECOND = 10_000
TARGET_ADDED_P99_MS = 5.0


def browser_export(spans: int, trace_number: int = 1) -> dict[str, object]:
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


def spans_per_second(rounds: int, exports_per_round: int, spans: int) -> dict[str, float]:
    """Median spans/s of the route's CPU work, per encoding."""
    limits = ExportLimits(allowed_services=frozenset({BROWSER_SERVICE_NAME}), forwarded_by=SERVICE_NAME)
    as_json = json.dumps(browser_export(spans)).encode()
    checked = prepare_export("/v1/traces", "application/json", None, as_json, limits)
    assert not hasattr(checked, "status_code"), checked
    as_protobuf = checked.body
    bodies = {"application/json": as_json, "application/x-protobuf": as_protobuf}
    results: dict[str, list[float]] = {kind: [] for kind in bodies}
    for _ in range(rounds):
        for kind, body in bodies.items():
            started = time.perf_counter()
            for _ in range(exports_per_round):
                # As the route does: a JSON export is also checked against the schema it publishes.
                export = prepare_export("/v1/traces", kind, None, body, limits, check_json=check_export_document)
                span_records(export.request)  # type: ignore[union-attr]
            results[kind].append(spans * exports_per_round / (time.perf_counter() - started))
    return {kind: median(values) for kind, values in results.items()}


def http_latencies_ms(requests: int, spans: int) -> tuple[list[float], list[float]]:
    """Per-request wall time of the shim and of the baseline, interleaved, against the real service."""
    body = json.dumps(browser_export(spans)).encode()
    headers = {"content-type": "application/json"}
    shim: list[float] = []
    baseline: list[float] = []
    with (
        tempfile.TemporaryDirectory() as work,
        running_agent(Path(work), {"HA_AGENT_SHIM_RATE_LIMIT_PER_MINUTE": str(requests * 10)}) as (url, _),
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        for i in range(requests + 20):
            for path, sink in (("/otlp/v1/traces", shim), ("/otlp/v1/unknown", baseline)):
                started = time.perf_counter()
                response = client.post(path, content=body, headers=headers)
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == (200 if sink is shim else 404), response.text
                if i >= 20:  # warm-up
                    sink.append(elapsed)
    return shim, baseline


def run(quick: bool = False) -> str:
    """Measure and render the section."""
    started = dt.datetime.now(dt.UTC)
    rounds, per_round, requests = (3, 100, 100) if quick else (7, 400, 600)
    rates = spans_per_second(rounds, per_round, spans=50)
    shim, baseline = http_latencies_ms(requests, spans=8)
    # The difference of two p99s is noise-dominated (it even came out negative); the whole round trip's p99
    # is an upper bound of what the shim adds, and never flatters it.
    round_trip_p99 = percentile(shim, 99)
    targets = [
        Target("JSON spans/s on one core", rates["application/json"], TARGET_SPANS_PER_SECOND, "", at_most=False),
        Target(
            "protobuf spans/s on one core", rates["application/x-protobuf"], TARGET_SPANS_PER_SECOND, "", at_most=False
        ),
        Target(
            "p99 of an 8-span export, whole round trip (bounds the added latency)",
            round_trip_p99,
            TARGET_ADDED_P99_MS,
            "ms",
        ),
    ]
    lines = section_preamble("Browser endpoint (shim) throughput", started)
    lines += [
        f"CPU work of the route (check, cap, re-serialize, copy to the buffer), 50-span exports, median of "
        f"{rounds} interleaved rounds of {per_round} exports:",
        "",
        *table(["encoding", "spans/s (one core)"], [[kind, f"{rate:,.0f}"] for kind, rate in rates.items()]),
        "",
        f"Over HTTP to the real service, {requests} sequential 8-span JSON exports, each followed by a "
        "same-size request to an unknown OTLP path (same server and middleware, refused unread):",
        "",
        *table(
            ["request", "p50 ms", "p99 ms"],
            [
                ["POST /otlp/v1/traces", f"{percentile(shim, 50):.2f}", f"{percentile(shim, 99):.2f}"],
                ["baseline (404)", f"{percentile(baseline, 50):.2f}", f"{percentile(baseline, 99):.2f}"],
            ],
        ),
        "",
        *targets_table(targets),
    ]
    return "\n".join(lines)
