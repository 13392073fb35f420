"""Which access control runs where, and the refusal to serve a network without one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ha_ai_agent.auth.credentials import OwnTokens, new_token, token_digest
from ha_ai_agent.auth.policy import AuthMode, AuthNotConfigured, resolve_auth
from ha_ai_agent.config import Settings
from pydantic import ValidationError


def resolve(mode: AuthMode, address: str, ha: bool = False, tokens: bool = False) -> AuthMode:
    return resolve_auth(mode, address, has_home_assistant=ha, has_own_tokens=tokens).mode


def test_auto_is_off_on_loopback_and_asks_for_a_credential_anywhere_else() -> None:
    assert resolve(AuthMode.AUTO, "127.0.0.1") is AuthMode.OFF
    assert resolve(AuthMode.AUTO, "::1") is AuthMode.OFF
    assert resolve(AuthMode.AUTO, "localhost", ha=True) is AuthMode.OFF
    assert resolve(AuthMode.AUTO, "0.0.0.0", ha=True) is AuthMode.HOME_ASSISTANT
    assert resolve(AuthMode.AUTO, "192.168.1.20", tokens=True) is AuthMode.TOKENS
    assert resolve(AuthMode.AUTO, "127.0.0.1", tokens=True) is AuthMode.TOKENS  # configured tokens are used
    with pytest.raises(AuthNotConfigured, match="HA_AGENT_AUTH=home-assistant"):
        resolve(AuthMode.AUTO, "0.0.0.0")
    with pytest.raises(AuthNotConfigured, match="HA_AGENT_AUTH=home-assistant"):
        resolve(AuthMode.AUTO, "agent.home.lan")  # a name may resolve to anything


def test_explicit_modes_need_what_they_check_with() -> None:
    with pytest.raises(AuthNotConfigured, match="needs HA_URL"):
        resolve(AuthMode.HOME_ASSISTANT, "127.0.0.1")
    with pytest.raises(AuthNotConfigured, match="ha-ai-agent token"):
        resolve(AuthMode.TOKENS, "0.0.0.0")
    off = resolve_auth(AuthMode.OFF, "0.0.0.0", has_home_assistant=True, has_own_tokens=False)
    assert off.mode is AuthMode.OFF and off.warning is not None and "OFF" in off.warning
    assert resolve_auth(AuthMode.OFF, "127.0.0.1", has_home_assistant=False, has_own_tokens=False).warning is None


def test_compose_judges_by_the_published_address_not_the_container_s(settings: Settings) -> None:
    inside = settings.model_copy(update={"host": "0.0.0.0", "exposed_address": "127.0.0.1"})
    assert inside.resolved_auth().mode is AuthMode.OFF
    exposed = inside.model_copy(update={"exposed_address": "0.0.0.0"})
    with pytest.raises(AuthNotConfigured):
        exposed.resolved_auth()


def test_own_tokens_are_configured_as_hashes_and_checked_against_every_one() -> None:
    token, digest = new_token()
    assert digest == token_digest(token) and token not in digest and len(token) >= 43
    tokens = OwnTokens([token_digest("other"), digest])
    assert tokens.check(token_digest(token)) and not tokens.check(token_digest(token + "x"))
    with pytest.raises(ValidationError, match="sha256:<64 hex digits>"):
        Settings(auth_token_hashes=[token], _env_file=None)  # the token itself, by mistake


def test_serving_a_network_without_access_control_exits_non_zero_saying_what_to_set(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HA_AGENT_", "HA_URL", "HA_TOKEN"))}
    env |= {"HA_AGENT_HOST": "0.0.0.0", "HA_AGENT_DATA_DIR": str(tmp_path)}
    started = subprocess.run(
        [sys.executable, "-m", "ha_ai_agent", "serve"], env=env, capture_output=True, text=True, timeout=60
    )

    assert started.returncode == 2
    assert "HA_AGENT_AUTH" in started.stderr and "ha-ai-agent token" in started.stderr
    assert "Traceback" not in started.stderr


def test_the_token_command_prints_a_token_once_and_the_setting_with_its_hash() -> None:
    made = subprocess.run(
        [sys.executable, "-m", "ha_ai_agent", "token"], capture_output=True, text=True, timeout=60, check=True
    )
    lines = [line.strip() for line in made.stdout.splitlines() if line.strip()]
    token = lines[1]
    assert f"HA_AGENT_AUTH_TOKEN_HASHES='[\"{token_digest(token)}\"]'" in lines
    assert Settings(auth_token_hashes=[token_digest(token)], _env_file=None).resolved_auth().mode is AuthMode.TOKENS
