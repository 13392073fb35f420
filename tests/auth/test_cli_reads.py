"""``ha-ai-agent snapshot`` reads a guarded service with ``PERFTRACE_TOKEN`` (never a token on the command line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ha_ai_agent.auth.credentials import new_token
from perftrace.cli import TOKEN_ENV
from testsupport.processes import running_agent


def test_snapshot_of_a_guarded_service_needs_the_token_in_the_environment(tmp_path: Path) -> None:
    token, digest = new_token()
    env = {"HA_AGENT_AUTH": "tokens", "HA_AGENT_AUTH_TOKEN_HASHES": json.dumps([digest])}
    with running_agent(tmp_path, env=env) as (url, _):
        command = [sys.executable, "-m", "ha_ai_agent", "snapshot", "--url", url, "-o", str(tmp_path / "s.json")]
        clean = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
        refused = subprocess.run(command, env=clean, capture_output=True, text=True, timeout=60)
        read = subprocess.run(command, env={**clean, TOKEN_ENV: token}, capture_output=True, text=True, timeout=60)

    assert refused.returncode != 0 and "401" in refused.stderr
    assert read.returncode == 0, read.stderr
    assert json.loads((tmp_path / "s.json").read_text())["format"] == "perftrace.snapshot"
