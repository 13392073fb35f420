"""Fault 3: SIGTERM while chats are in flight.

With the collector up, every chat in flight when the signal arrives is answered and its trace reaches Jaeger.
With the collector down (an address that accepts connections and never answers: the worst case for an
exporter), the process still exits within 35 s.
"""

from __future__ import annotations

import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import httpx
import pytest
from ha_ai_agent.semconv import SERVICE_NAME
from testsupport.backend_queries import has_server_span
from testsupport.chat_load import ChatLoad, ChatResult, send_chat
from testsupport.processes import poll, running_agent
from testsupport.reliability_results import Outcome, record
from testsupport.servers import silent_port
from testsupport.stack import Stack

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(600)]

IN_FLIGHT_CHATS = 16
LLM_LATENCY_MS = "1500"  # per model call: a chat (two calls) is in flight for about 3 s
SETTLE_SECONDS = 0.8  # long enough for every request to be accepted, far shorter than one chat
EXIT_LIMIT_SECONDS = 35.0
VISIBLE_TIMEOUT_SECONDS = 30.0
BASE_ENV = {
    "OTEL_SERVICE_NAME": SERVICE_NAME,
    "OTEL_BSP_SCHEDULE_DELAY": "500",
    "HA_AGENT_LLM_LATENCY_MS": LLM_LATENCY_MS,
    "HA_AGENT_RATE_LIMIT_PER_MINUTE": "100000",
}


def terminate_and_time(process: subprocess.Popen[bytes]) -> float:
    """Send SIGTERM; seconds until the process exited (EXIT_LIMIT_SECONDS * 2 if it did not)."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=EXIT_LIMIT_SECONDS * 2)
    except subprocess.TimeoutExpired:
        return EXIT_LIMIT_SECONDS * 2
    return time.monotonic() - started


def chats_across_sigterm(url: str, process: subprocess.Popen[bytes]) -> tuple[list[ChatResult], float]:
    """Start IN_FLIGHT_CHATS concurrent chats, SIGTERM the service while they run; their results, exit seconds."""
    with ThreadPoolExecutor(IN_FLIGHT_CHATS) as pool:
        clients = [httpx.Client() for _ in range(IN_FLIGHT_CHATS)]
        futures = [pool.submit(send_chat, client, url) for client in clients]
        time.sleep(SETTLE_SECONDS)
        exit_seconds = terminate_and_time(process)
        results = [future.result() for future in futures]
    for client in clients:
        client.close()
    return results, exit_seconds


def test_sigterm_lets_in_flight_chats_finish_and_export(reliability_stack: Stack, tmp_path: Path) -> None:
    env = {**BASE_ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": reliability_stack.collector_otlp_http}
    with running_agent(tmp_path, env, tmp_path / "agent.log") as (url, managed):
        results, exit_seconds = chats_across_sigterm(url, managed.process)
    answered = [r for r in results if r.status == 200 and r.trace_id]
    visible = 0
    deadline = time.monotonic() + VISIBLE_TIMEOUT_SECONDS
    for result in answered:
        assert result.trace_id is not None
        trace_id = result.trace_id
        try:
            poll(
                partial(has_server_span, reliability_stack.jaeger_query, trace_id),
                max(0.5, deadline - time.monotonic()),
                what=f"trace {trace_id} in Jaeger",
            )
            visible += 1
        except AssertionError:
            pass
    passed = len(answered) == IN_FLIGHT_CHATS and visible == IN_FLIGHT_CHATS
    record(
        Outcome(
            "3a SIGTERM during load, collector up",
            f"{IN_FLIGHT_CHATS} concurrent chats (~3 s each) in flight at SIGTERM",
            "chats answered; their traces in Jaeger (server span included)",
            f"{len(answered)}/{IN_FLIGHT_CHATS} answered, {visible}/{IN_FLIGHT_CHATS} in Jaeger; "
            f"exit after {exit_seconds:.1f} s",
            passed,
        )
    )
    assert [r.status for r in results] == [200] * IN_FLIGHT_CHATS, managed.log_tail()
    assert visible == IN_FLIGHT_CHATS


def test_sigterm_with_the_collector_silent_still_exits_in_time(tmp_path: Path) -> None:
    with silent_port() as port:
        endpoint = f"http://127.0.0.1:{port}"
        env = {**BASE_ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
        with running_agent(tmp_path, env, tmp_path / "agent.log") as (url, managed):
            # Some spans already stuck in an export to the silent collector, more queued behind them.
            warm = ChatLoad(url, workers=4).start()
            time.sleep(5)
            warm.stop()
            results, exit_seconds = chats_across_sigterm(url, managed.process)
            log_tail = managed.log_tail()
    answered = sum(r.status == 200 for r in results)
    passed = exit_seconds <= EXIT_LIMIT_SECONDS and answered == IN_FLIGHT_CHATS
    record(
        Outcome(
            "3b SIGTERM during load, collector silent",
            f"4 chat workers for 5 s, then {IN_FLIGHT_CHATS} chats in flight at SIGTERM; "
            "collector accepts connections and never answers",
            f"seconds from SIGTERM to exit (≤ {EXIT_LIMIT_SECONDS:.0f} s); chats answered",
            f"exit after {exit_seconds:.1f} s; {answered}/{IN_FLIGHT_CHATS} answered",
            passed,
        )
    )
    assert exit_seconds <= EXIT_LIMIT_SECONDS, log_tail
    assert answered == IN_FLIGHT_CHATS, log_tail
