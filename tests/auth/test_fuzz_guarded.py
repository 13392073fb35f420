"""Schemathesis against a real guarded ``ha-ai-agent serve``, without and with a credential: 0 failures both ways.

Without one, every guarded operation must answer 401, which schemathesis's ``ignored_auth`` check also holds
it to (the limit on wrong credentials is lifted, as the other rate limits are; test_sessions tests it); with
one, the run reaches the logic behind the guard as the unguarded contract test does (tests/api/test_contract.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ha_ai_agent.auth.credentials import new_token
from testsupport.api_fuzz import FUZZED_SERVICE_ENV, run_schemathesis
from testsupport.processes import running_agent

from tests.api.test_contract import OPERATIONS as UNGUARDED_OPERATIONS
from tests.api.test_contract import SEED, require_fuzz_dependencies

EXAMPLES_PER_OPERATION = 20
#: The unguarded service's, and signing in and out.
OPERATIONS = UNGUARDED_OPERATIONS + 2


@pytest.mark.parametrize("signed_in", [False, True], ids=["without-credential", "with-credential"])
def test_schemathesis_finds_no_failure_in_the_guarded_api(tmp_path: Path, signed_in: bool) -> None:
    require_fuzz_dependencies()
    token, digest = new_token()
    env = {**FUZZED_SERVICE_ENV, "HA_AGENT_AUTH": "tokens", "HA_AGENT_AUTH_TOKEN_HASHES": f'["{digest}"]'}
    headers = {"Authorization": f"Bearer {token}"} if signed_in else {}
    with running_agent(tmp_path, env=env) as (url, _):
        run = run_schemathesis(url, tmp_path, seed=SEED, max_examples=EXAMPLES_PER_OPERATION, headers=headers)
    assert run.operations_tested == run.operations_selected == OPERATIONS, run.summary()
    assert run.failure_count == 0 and not run.errors, f"{run.summary()}\n{run.output[-8000:]}"
