from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
from fastapi import FastAPI
from ha_ai_agent.semconv import MESSAGE_ASSEMBLY, OPENAI_API_CALL, RATE_LIMIT_CHECK
from testsupport.processes import running_agent
from testsupport.servers import closed_port, serve_in_thread

BIN = Path(sys.executable).parent


def run_cli(
    command: list[str], timeout: float, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command line to its end; its output as text, its exit status unchecked."""
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env, check=False)


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "HA_AGENT_", "OPENAI_", "HA_"))}
    return {**env, "HA_AGENT_LLM_LATENCY_MS": "0", "HA_AGENT_LLM_STREAM_CHUNK_MS": "0"}


def test_ask_prints_answer_and_stage_table_with_relative_data_dir(tmp_path: Path) -> None:
    result = run_cli(
        [str(BIN / "ha-ai-agent"), "ask", "What devices are in the kitchen?"],
        timeout=60,
        cwd=tmp_path,
        env=clean_env(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert "Kitchen Ceiling Light" in result.stdout
    assert 'tool get_entities({"area": "kitchen"})' in result.stdout
    for stage in (RATE_LIMIT_CHECK, MESSAGE_ASSEMBLY, OPENAI_API_CALL, "total (wall clock)"):
        assert stage in result.stdout
    # The default data directory is relative to the working directory.
    assert (tmp_path / "data" / "conversations.sqlite3").is_file()


def test_serve_starts_and_stops_and_module_entry_point_answers(tmp_path: Path) -> None:
    with running_agent(tmp_path) as (url, process):
        assert url.startswith("http://127.0.0.1:")
    assert process.process.returncode is not None
    result = run_cli([sys.executable, "-m", "ha_ai_agent", "--help"], timeout=30)
    assert result.returncode == 0 and "serve" in result.stdout and "ask" in result.stdout


def test_bad_setting_fails_at_start_with_the_field_named(tmp_path: Path) -> None:
    env = {**clean_env(tmp_path), "HA_AGENT_RATE_LIMIT_PER_MINUTE": "many"}
    result = run_cli([str(BIN / "ha-ai-agent"), "ask", "hi"], timeout=30, cwd=tmp_path, env=env)
    assert result.returncode != 0
    assert "rate_limit_per_minute" in result.stderr


def test_report_reads_a_running_service(tmp_path: Path) -> None:
    with running_agent(tmp_path) as (url, _):
        for question in ("What devices are in the kitchen?", "What devices are in the kitchen and the office?"):
            assert httpx.post(f"{url}/api/v1/chat", json={"message": question}, timeout=30).status_code == 200
        result = run_cli([str(BIN / "ha-ai-agent"), "report", "--url", url, "--slowest", "1"], timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("2 requests")
    assert OPENAI_API_CALL in result.stdout and "p95 ms" in result.stdout
    assert "critical path:" in result.stdout
    assert result.stdout.count("critical path:") == 1


def test_report_with_no_service_running_says_what_to_do() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = run_cli([str(BIN / "ha-ai-agent"), "report", "--url", url], timeout=60)
    assert result.returncode == 1
    assert f"Nothing answers at {url}" in result.stderr
    assert "make run" in result.stderr and "--url" in result.stderr and "--jaeger" in result.stderr


def test_report_says_when_the_answer_is_not_traces() -> None:
    with serve_in_thread(FastAPI()) as url:  # answers, but 404 for the traces route
        result = run_cli([str(BIN / "ha-ai-agent"), "report", "--url", url], timeout=60)
    assert result.returncode == 1 and f"Could not read traces from {url}" in result.stderr


def test_failed_start_up_names_the_problem_and_cleans_up(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the data directory should be")
    env = {**clean_env(tmp_path), "HA_AGENT_DATA_DIR": str(blocker)}
    result = run_cli([str(BIN / "ha-ai-agent"), "ask", "hi"], timeout=60, cwd=tmp_path, env=env)
    assert result.returncode != 0
    assert "not-a-directory" in result.stderr
