"""End to end: the service run twice with different model latencies (or paces), a snapshot of each, compared."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from ha_ai_agent.semconv import CHAT_PATH, CHAT_STREAM_PATH, OPENAI_API_CALL
from perftrace.analysis.compare import FIRST_TOKEN, REQUEST
from testsupport.processes import running_agent

from tests.test_cli import run_cli

BIN = Path(sys.executable).parent
KITCHEN = "What devices are in the kitchen?"
REQUESTS_PER_RUN = 100


def snapshot_pair(
    work: Path, envs: tuple[dict[str, str], dict[str, str]], requests: int, path: str = CHAT_PATH
) -> tuple[Path, Path]:
    """Snapshots of two services run at once with ``envs``, after ``requests`` chats each sent to ``path``.

    The turns go A B B A (see ``snapshots``); every answer is read to its end, as a client reads it.
    """
    files = (work / "before.json", work / "after.json")
    with ExitStack() as stack:
        urls = []
        for name, env in zip(("before", "after"), envs, strict=True):
            (work / name).mkdir()
            env = {"HA_AGENT_RATE_LIMIT_PER_MINUTE": "10000", "HA_AGENT_RECENT_TRACES": str(2 * requests), **env}
            urls.append(stack.enter_context(running_agent(work / name, env=env))[0])
        for turn in range(requests):
            for url in urls if turn % 2 == 0 else urls[::-1]:
                with httpx.stream("POST", f"{url}{path}", json={"message": KITCHEN}, timeout=30) as response:
                    response.read()
                    assert response.status_code == 200, response.text
        for url, file in zip(urls, files, strict=True):
            result = run_cli([str(BIN / "ha-ai-agent"), "snapshot", "--url", url, "-o", str(file)], timeout=60)
            assert result.returncode == 0, result.stderr
    return files


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """Snapshots of two services that differ only in the embedded model's latency (20 vs 60 ms per call).

    Both run at once and take requests in turns, so whatever else the shared machine does falls on
    both sides alike: only the model latency differs between them. The turns go A B B A: in plain
    A B turns one service's SQLite commit always came right after the other's and was measurably
    slower; in A B B A each service follows itself and the other equally often.
    """
    envs = ({"HA_AGENT_LLM_LATENCY_MS": "20"}, {"HA_AGENT_LLM_LATENCY_MS": "60"})
    yield snapshot_pair(tmp_path_factory.mktemp("compare-runs"), envs, REQUESTS_PER_RUN)


def test_compare_flags_the_model_call_and_the_request_as_slower_and_nothing_else(snapshots: tuple[Path, Path]) -> None:
    command = [str(BIN / "ha-ai-agent"), "compare", *map(str, snapshots), "--confidence", "0.99"]
    result = run_cli([*command, "--format", "json"], timeout=120)
    table = run_cli(command, timeout=120).stdout  # what a failure below shows

    assert result.returncode == 0, result.stderr
    comparison = json.loads(result.stdout)
    assert comparison["requests_before"] == comparison["requests_after"] == REQUESTS_PER_RUN
    verdicts = {s["name"]: s["verdict"] for s in comparison["stages"]}
    slower = {name for name, verdict in verdicts.items() if verdict == "slower"}
    assert slower == {OPENAI_API_CALL, REQUEST, FIRST_TOKEN}, table  # the plain route's first words come at its end
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


def test_a_slower_streaming_pace_flags_the_first_token_and_not_the_stages_that_did_not_change(
    tmp_path: Path,
) -> None:
    """Streamed answers, the embedded model writing a word every 5 vs 20 ms: the tool round's chunks come
    before the first words, so the first token is later; the model calls take longer, and nothing else."""
    paced = {"HA_AGENT_LLM_LATENCY_MS": "20", "HA_AGENT_LLM_STREAM_CHUNK_MS": "5"}
    snapshots = snapshot_pair(tmp_path, (paced, {**paced, "HA_AGENT_LLM_STREAM_CHUNK_MS": "20"}), 60, CHAT_STREAM_PATH)
    command = [str(BIN / "ha-ai-agent"), "compare", *map(str, snapshots), "--confidence", "0.99"]

    result = run_cli([*command, "--format", "json"], timeout=120)

    assert result.returncode == 0, result.stderr
    comparison = json.loads(result.stdout)
    table = run_cli(command, timeout=120).stdout
    verdicts = {s["name"]: s["verdict"] for s in comparison["stages"]}
    assert verdicts.pop(FIRST_TOKEN) == verdicts.pop(REQUEST) == "slower", table
    # Two model calls a request, a short tool round and the paced answer: their p50 sits between the two
    # kinds, so its interval is wide and the call's row may or may not say "slower"; it is never faster.
    assert verdicts.pop(OPENAI_API_CALL) in {"slower", "no clear change"}, table
    assert set(verdicts.values()) == {"no clear change"}, table
