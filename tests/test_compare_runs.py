"""End to end: the service run twice with different model latencies, a snapshot of each, compared."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from ha_ai_agent.semconv import OPENAI_API_CALL
from perftrace.analysis.compare import REQUEST
from testsupport.processes import running_agent

from tests.test_cli import run_cli

BIN = Path(sys.executable).parent
KITCHEN = "What devices are in the kitchen?"
REQUESTS_PER_RUN = 100


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """Snapshots of two services that differ only in the embedded model's latency (20 vs 60 ms per call).

    Both run at once and take requests in turns, so whatever else the shared machine does falls on
    both sides alike: only the model latency differs between them. The turns go A B B A: in plain
    A B turns one service's SQLite commit always came right after the other's and was measurably
    slower; in A B B A each service follows itself and the other equally often.
    """
    work = tmp_path_factory.mktemp("compare-runs")
    files = (work / "before.json", work / "after.json")
    for name in ("before", "after"):
        (work / name).mkdir()
    with ExitStack() as stack:
        urls = [
            stack.enter_context(
                running_agent(
                    work / name,
                    env={
                        "HA_AGENT_LLM_LATENCY_MS": latency,
                        "HA_AGENT_RATE_LIMIT_PER_MINUTE": "10000",
                        "HA_AGENT_RECENT_TRACES": str(2 * REQUESTS_PER_RUN),
                    },
                )
            )[0]
            for name, latency in (("before", "20"), ("after", "60"))
        ]
        for turn in range(REQUESTS_PER_RUN):
            for url in urls if turn % 2 == 0 else urls[::-1]:
                response = httpx.post(f"{url}/api/v1/chat", json={"message": KITCHEN}, timeout=30)
                assert response.status_code == 200, response.text
        for url, path in zip(urls, files, strict=True):
            result = run_cli([str(BIN / "ha-ai-agent"), "snapshot", "--url", url, "-o", str(path)], timeout=60)
            assert result.returncode == 0, result.stderr
    yield files


def test_compare_flags_the_model_call_and_the_request_as_slower_and_nothing_else(snapshots: tuple[Path, Path]) -> None:
    command = [str(BIN / "ha-ai-agent"), "compare", *map(str, snapshots), "--confidence", "0.99"]
    result = run_cli([*command, "--format", "json"], timeout=120)
    table = run_cli(command, timeout=120).stdout  # what a failure below shows

    assert result.returncode == 0, result.stderr
    comparison = json.loads(result.stdout)
    assert comparison["requests_before"] == comparison["requests_after"] == REQUESTS_PER_RUN
    verdicts = {s["name"]: s["verdict"] for s in comparison["stages"]}
    slower = {name for name, verdict in verdicts.items() if verdict == "slower"}
    assert slower == {OPENAI_API_CALL, REQUEST}, table
    assert set(verdicts.values()) == {"slower", "no clear change"}, table
    llm = next(s for s in comparison["stages"] if s["name"] == OPENAI_API_CALL)
    assert llm["path_share_after"] > llm["path_share_before"]
    # The same question and model on both sides: the tokens and cost per request, compared alike, did not change.
    usage = {u["name"]: (u["calls_before"], u["calls_after"], u["verdict"]) for u in comparison["usage"]}
    assert usage == dict.fromkeys(
        ("input tokens", "output tokens", "cost USD"), (REQUESTS_PER_RUN, REQUESTS_PER_RUN, "no clear change")
    ), table


def test_fail_if_slower_exits_1_above_the_threshold_0_below_it_and_2_for_unreadable_input(
    snapshots: tuple[Path, Path], tmp_path: Path
) -> None:
    command = [str(BIN / "ha-ai-agent"), "compare", *map(str, snapshots), "--fail-if-slower"]
    truncated = tmp_path / "truncated.json"
    truncated.write_text(snapshots[1].read_text()[:1000], encoding="utf-8")

    gate = run_cli([*command, "20"], timeout=120)
    assert gate.returncode == 1 and OPENAI_API_CALL in gate.stderr
    assert run_cli([*command, "1000"], timeout=120).returncode == 0
    unreadable = run_cli([str(BIN / "ha-ai-agent"), "compare", str(snapshots[0]), str(truncated)], timeout=60)
    assert unreadable.returncode == 2 and "truncated.json: not JSON" in unreadable.stderr
