from __future__ import annotations

import json
from pathlib import Path

import pytest
from perftrace.cli import main
from perftrace.formats.snapshot import snapshot_to_json, write_snapshot
from perftrace.testing.synthetic import SERVICE, synthetic_traces


@pytest.fixture
def snapshots(tmp_path: Path) -> tuple[str, str]:
    """A before and an after snapshot: message assembly 30 % slower, nothing else changed."""
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    write_snapshot(snapshot_to_json(synthetic_traces(100, seed=1), service_name=SERVICE), before)
    slower = synthetic_traces(100, seed=2, slower={"message_assembly": 1.3})
    write_snapshot(snapshot_to_json(slower, service_name=SERVICE), after)
    return str(before), str(after)


def test_the_gate_fails_with_exit_1_only_when_a_stage_is_surely_slower_than_the_threshold(
    snapshots: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", *snapshots, "--fail-if-slower", "10"]) == 1
    assert "Slower by more than 10%: message_assembly" in capsys.readouterr().err
    assert main(["compare", *snapshots, "--fail-if-slower", "80"]) == 0
    assert main(["compare", snapshots[0], snapshots[0], "--fail-if-slower", "0"]) == 0


def test_unreadable_input_exits_2_and_says_which_file(
    snapshots: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("[]", encoding="utf-8")

    assert main(["compare", snapshots[0], str(broken), "--fail-if-slower", "10"]) == 2
    assert "broken.json: document: expected an object" in capsys.readouterr().err
    assert main(["compare", snapshots[0], str(tmp_path / "missing.json")]) == 2


def test_json_and_markdown_name_the_slower_stage(
    snapshots: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    main(["compare", *snapshots, "--format", "json"])
    verdicts = {s["name"]: s["verdict"] for s in json.loads(capsys.readouterr().out)["stages"]}
    main(["compare", *snapshots, "--format", "markdown", "--fail-if-slower", "10"])
    markdown = capsys.readouterr().out

    assert verdicts["message_assembly"] == "slower"
    assert "| `message_assembly` |" in markdown and "🔴 slower" in markdown
    assert "Gate (`--fail-if-slower 10`): slower by more than 10%: **message_assembly**" in markdown


def test_snapshots_whose_model_pace_differs_flag_the_first_token_and_not_the_stages_that_did_not_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A slower model pace: the first words come later and the model call takes longer; nothing else changed."""
    paths = [tmp_path / "before.json", tmp_path / "after.json"]
    usage = {"first token": 150.0, "input tokens": 1200, "output tokens": 60, "cost USD": 0.0002}
    sides = [
        synthetic_traces(100, seed=21, figures=usage),
        synthetic_traces(100, seed=22, slower={"first token": 1.5, "openai_api_call": 1.5}, figures=usage),
    ]
    for path, traces in zip(paths, sides, strict=True):
        write_snapshot(snapshot_to_json(traces, service_name=SERVICE), path)

    assert main(["compare", *map(str, paths), "--format", "json"]) == 0
    comparison = json.loads(capsys.readouterr().out)

    verdicts = {s["name"]: s["verdict"] for s in comparison["stages"]}
    assert {name for name, verdict in verdicts.items() if verdict == "slower"} == {
        "first token",
        "openai_api_call",
        "request",
    }
    assert set(verdicts.values()) == {"slower", "no clear change"}
    assert {u["name"]: u["verdict"] for u in comparison["usage"]} == dict.fromkeys(
        ("input tokens", "output tokens", "cost USD"), "no clear change"
    )
    first_token = next(s for s in comparison["stages"] if s["name"] == "first token")
    assert first_token["changes"]["p50"]["low"] < 0.5 < first_token["changes"]["p50"]["high"]
    assert main(["compare", *map(str, paths), "--format", "markdown"]) == 0
    table = capsys.readouterr().out
    assert "| `first token` | 100 → 100 |" in table and "| input tokens | 100 → 100 |" in table
    assert main(["compare", *map(str, paths), "--fail-if-slower", "10"]) == 1  # the first token is gated too
    assert "Slower by more than 10%: request, first token, openai_api_call" in capsys.readouterr().err
