"""Fault 5: one trace backend down, the other keeps receiving every trace (the collector's fan-out isolation).

Tempo cannot run here (our Go module proxy refuses github.com/grafana/tempo), so a second Jaeger stands in
Tempo's slot: the collector's ``otlp_grpc/tempo`` exporter sends to it exactly what it would send to Tempo
(OTLP over gRPC), and it can be asked for a trace by id. What is under test is the collector's part: each
exporter has its own queue and retry, so a dead backend must not hold the other one up.

A second collector with the repository's config exports to Jaeger A (Jaeger's slot) and Jaeger B (Tempo's
slot). Chats run back to back; one backend is SIGKILLed part way through; the chats go on. Pass: no chat
fails, and every chat's trace, from before and during the outage, is in the backend that stayed up.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from ha_ai_agent.semconv import SERVICE_NAME
from testsupport.backend_queries import has_server_span
from testsupport.chat_load import ChatLoad
from testsupport.collector_control import start_collector_like
from testsupport.processes import free_port, poll, running_agent
from testsupport.reliability_results import Outcome, record
from testsupport.stack import PORT_NAMES, Stack, built_backends, start_jaeger

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(600)]

WORKERS = 2
BEFORE_SECONDS = 5.0
OUTAGE_SECONDS = 15.0
VISIBLE_WITHIN_SECONDS = 20.0
#: The ports one Jaeger listens on, as the stack names them.
JAEGER_PORTS = tuple(name for name in PORT_NAMES if name.startswith("jaeger_"))
ENV = {
    "OTEL_SERVICE_NAME": SERVICE_NAME,
    "OTEL_BSP_SCHEDULE_DELAY": "200",
    "HA_AGENT_LLM_LATENCY_MS": "100",
    "HA_AGENT_RATE_LIMIT_PER_MINUTE": "100000",
}
SLOTS = {"jaeger": "JAEGER_OTLP_GRPC_ENDPOINT", "tempo": "TEMPO_OTLP_GRPC_ENDPOINT"}


@pytest.mark.parametrize("down", ["jaeger", "tempo"])
def test_one_backend_down_the_other_gets_every_trace(reliability_stack: Stack, tmp_path: Path, down: str) -> None:
    backends = Stack(log_dir=tmp_path, prometheus=reliability_stack.prometheus)
    binary = built_backends()["jaeger"]
    try:
        slots: dict[str, tuple[str, str]] = {}
        for slot in SLOTS:
            ports = {name: free_port() for name in JAEGER_PORTS}
            query = start_jaeger(backends, binary, ports, name=f"jaeger-in-{slot}-slot")
            slots[slot] = (query, f"127.0.0.1:{ports['jaeger_otlp_grpc']}")
        overrides = {variable: slots[slot][1] for slot, variable in SLOTS.items()}
        up = next(slot for slot in SLOTS if slot != down)
        up_query = slots[up][0]
        victim = next(p for p in backends.processes if p.name == f"jaeger-in-{down}-slot")
        with start_collector_like(reliability_stack, tmp_path, overrides) as (_, endpoint, _metrics):
            env = {**ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
            with running_agent(tmp_path, env, tmp_path / "agent.log") as (url, _managed):
                load = ChatLoad(url, WORKERS).start()
                time.sleep(BEFORE_SECONDS)
                victim.process.kill()
                victim.process.wait(timeout=10)
                time.sleep(OUTAGE_SECONDS)
                results = load.stop()
                trace_ids = [r.trace_id for r in results if r.trace_id]

                def all_visible() -> bool:
                    return all(has_server_span(up_query, trace_id) for trace_id in trace_ids)

                try:
                    poll(all_visible, VISIBLE_WITHIN_SECONDS, interval_s=1.0, what=f"every trace in the {up} slot")
                except AssertionError:
                    pass
                missing = sum(not has_server_span(up_query, trace_id) for trace_id in trace_ids)
    finally:
        backends.stop()
    failed = sum(r.status != 200 for r in results)
    passed = failed == 0 and missing == 0 and bool(trace_ids)
    names = {"jaeger": "Jaeger", "tempo": "the Tempo slot"}
    victims = {"jaeger": "Jaeger", "tempo": "the Jaeger in the Tempo slot"}
    record(
        Outcome(
            f"5 {names[down]} down, {names[up]} up",
            f"{WORKERS} chat workers for {BEFORE_SECONDS:.0f} s, then {OUTAGE_SECONDS:.0f} s with {victims[down]} "
            "SIGKILLed; a second Jaeger stands in the Tempo slot (Tempo cannot run here)",
            f"0 failed chats; every chat's trace in {names[up]} within {VISIBLE_WITHIN_SECONDS:.0f} s",
            f"{failed} failed; {len(trace_ids) - missing} of {len(trace_ids)} traces in {names[up]}",
            passed,
        )
    )
    assert trace_ids, "no chat answered"
    assert failed == 0
    assert missing == 0, f"{missing} of {len(trace_ids)} traces never reached {names[up]}"
