"""What the pipeline accepted survives restarts: the collector's queues on disk, Jaeger's traces in Badger.

Jaeger is SIGKILLed, chats are sent (their spans wait in the collector's file_storage queue), the collector is
SIGKILLed too and started again, then Jaeger: every chat's trace arrives whole. Jaeger is SIGKILLed once more
and started again: every trace is still there.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial

import httpx
import pytest
from testsupport.backend_queries import assert_chat_tree, jaeger_trace
from testsupport.chat_load import send_chat
from testsupport.collector_control import CollectorController, ProcessController
from testsupport.processes import poll, running_agent
from testsupport.stack import AGENT_ENV, BackendUnavailable, Stack, running_stack

from tests.helpers import STAGES_IN_ORDER, missing_dependency

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CHATS = 8
STAGES = tuple(dict.fromkeys(STAGES_IN_ORDER))
# The service flushes spans every 500 ms and the collector batches for 200 ms: after this, the collector holds
# every span of the chats (in its queue, as Jaeger is down).
HANDED_OVER_S = 3.0


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of this module's own: its processes get killed."""
    try:
        with running_stack(tmp_path_factory.mktemp("persistence-stack")) as stack:
            yield stack
    except BackendUnavailable as error:
        missing_dependency(f"observability backends unavailable: {error}")


def whole(jaeger_url: str, trace_id: str) -> bool:
    spans = jaeger_trace(jaeger_url, trace_id)
    if not spans or not any(span.name == "POST /api/v1/chat" for span in spans):
        return False
    assert_chat_tree(spans, STAGES, "jaeger")
    return True


@pytest.fixture(scope="module")
def trace_ids(own_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Chats sent while Jaeger is down; then the collector is killed and restarted, then Jaeger."""
    jaeger = ProcessController(own_stack, "jaeger", own_stack.jaeger_health)
    jaeger.kill()
    env = {**AGENT_ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": own_stack.collector_otlp_http}
    with running_agent(tmp_path_factory.mktemp("agent"), env) as (url, _), httpx.Client() as client:
        results = [send_chat(client, url) for _ in range(CHATS)]
        time.sleep(HANDED_OVER_S)
    assert [r.status for r in results] == [200] * CHATS
    collector = CollectorController(own_stack)
    collector.kill()
    collector.restart()
    jaeger.restart()
    return [str(r.trace_id) for r in results]


def test_spans_queued_in_a_killed_collector_all_reach_jaeger(own_stack: Stack, trace_ids: list[str]) -> None:
    for trace_id in trace_ids:
        poll(partial(whole, own_stack.jaeger_query, trace_id), 60, interval_s=0.5, what=f"trace {trace_id} whole")


def test_jaeger_keeps_every_trace_across_a_sigkill(own_stack: Stack, trace_ids: list[str]) -> None:
    for trace_id in trace_ids:
        poll(partial(whole, own_stack.jaeger_query, trace_id), 60, interval_s=0.5, what=f"trace {trace_id} whole")
    jaeger = ProcessController(own_stack, "jaeger", own_stack.jaeger_health)
    jaeger.kill()
    jaeger.restart()
    missing = [trace_id for trace_id in trace_ids if not whole(own_stack.jaeger_query, trace_id)]
    assert not missing, f"{len(missing)} of {len(trace_ids)} traces gone after Jaeger's restart"
