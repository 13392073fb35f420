"""``perftrace report --conversation ID``: one conversation's turns, read from a running service over HTTP.

The same command against a real Jaeger (searched by ``gen_ai.conversation.id``) is in the service's e2e tests
(tests/e2e/test_conversation_usage.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI
from perftrace.cli import main
from perftrace.fastapi import PerformanceTracing
from perftrace.testing.conversations import conversation_traces
from perftrace.testing.synthetic import SERVICE, synthetic_traces
from testsupport.servers import serve_in_thread


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    tracing = PerformanceTracing(service_name=SERVICE)
    app = FastAPI()
    tracing.mount(app)
    # The test server runs no lifespan: the tracing runs in a portal's loop for as long as the server.
    kept = [*conversation_traces("kitchen", 3, seed=1, feedback={1: "thumbs_down"}), *synthetic_traces(2, seed=2)]
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(tracing.running()) as handle:
        handle.recent.add_records(span for trace in kept for span in trace.spans)
        with serve_in_thread(app) as url:
            yield url


def test_report_with_a_conversation_prints_its_totals_and_turns_in_order(
    service: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["report", "--url", service, "--service", SERVICE, "--conversation", "kitchen"])

    out = capsys.readouterr().out
    assert status == 0
    assert "conversation kitchen: 3 turns" in out and "cost $0.003000" in out and "1 disliked" in out
    turns = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [t[0] for t in turns] == ["1", "2", "3"]
    assert [t[5] for t in turns] == ["1000", "1300", "1600"]  # input tokens, the history growing
    assert "thumbs_down" in turns[1]


def test_report_of_an_unknown_conversation_exits_1_and_says_so(
    service: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["report", "--url", service, "--service", SERVICE, "--conversation", "nobody's"])

    assert status == 1
    assert 'No trace read names conversation "nobody\'s"' in capsys.readouterr().err
