"""Small helpers shared by the tests."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, NoReturn

import pytest
from ha_ai_agent.semconv import CHAT_SERVER_SPAN, OPENAI_API_CALL, STAGES
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from perftrace import RecentTracesProcessor, TraceRecord

#: The stage spans of a chat whose model calls one tool: the LLM runs twice, around the tool.
STAGES_IN_ORDER = [*STAGES[:6], OPENAI_API_CALL, *STAGES[6:]]


def wait_for_trace(
    recent: RecentTracesProcessor, trace_id: str, root_name: str = CHAT_SERVER_SPAN, timeout: float = 5.0
) -> TraceRecord:
    """The kept trace once its server span has ended (it ends just after the response is sent)."""
    deadline = time.monotonic() + timeout
    while True:
        record = recent.get_trace(int(trace_id, 16))
        if record is not None and any(s.name == root_name for s in record.spans):
            return record
        if time.monotonic() > deadline:
            raise AssertionError(f"trace {trace_id} with {root_name!r} not kept within {timeout}s")
        time.sleep(0.01)


def metric_points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    """Every data point the reader holds of the metric ``name``."""
    data = reader.get_metrics_data()
    assert data is not None
    return [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def stage_names(record: TraceRecord) -> list[str]:
    """Names of the server span's direct children, in start order."""
    server = next(s for s in record.spans if s.name == CHAT_SERVER_SPAN)
    return [s.name for s in record.children_of(server.span_id)]


def missing_dependency(reason: str) -> NoReturn:
    """Fail in CI, skip elsewhere: a missing dependency must never pass silently in CI."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def deselect_visibly(
    config: pytest.Config, items: list[pytest.Item], predicate: Callable[[pytest.Item], bool], key: pytest.StashKey[int]
) -> None:
    """Deselect the items ``predicate`` picks and remember how many, for ``report_deselected``."""
    chosen = [item for item in items if predicate(item)]
    if chosen:
        config.hook.pytest_deselected(items=chosen)
        items[:] = [item for item in items if item not in chosen]
        config.stash[key] = len(chosen)


def report_deselected(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config, key: pytest.StashKey[int], why: str
) -> None:
    """One summary line saying how many tests were deselected and why."""
    count = config.stash.get(key, 0)
    if count:
        terminalreporter.write_line(f"{count} {why}")
