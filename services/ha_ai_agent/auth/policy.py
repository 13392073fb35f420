"""Which credential the service asks for (``HA_AGENT_AUTH``), and the refusal to run exposed without one."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum


class AuthMode(StrEnum):
    """The values of ``HA_AGENT_AUTH``."""

    HOME_ASSISTANT = "home-assistant"
    TOKENS = "tokens"
    OFF = "off"
    AUTO = "auto"


#: What the message of a refused start-up tells the user to set.
HOW_TO_CONFIGURE = (
    "set HA_AGENT_AUTH=home-assistant (with HA_URL: sign in with a Home Assistant long-lived access token), or "
    "HA_AGENT_AUTH=tokens with HA_AGENT_AUTH_TOKEN_HASHES (make one with `ha-ai-agent token`), or "
    "HA_AGENT_AUTH=off to let anyone who reaches the port control the home"
)


class AuthNotConfigured(ValueError):
    """The service would answer a network without asking for a credential, or was asked for one it cannot check."""


@dataclass(frozen=True)
class ResolvedAuth:
    """The mode the service runs in, and why (for the start-up line)."""

    mode: AuthMode
    reason: str
    #: Said on every start: access control turned off where others can reach the service.
    warning: str | None = None

    @property
    def required(self) -> bool:
        """Whether requests need a credential."""
        return self.mode is not AuthMode.OFF


def is_loopback(address: str) -> bool:
    """Whether only this machine can reach ``address`` (``localhost`` included)."""
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost: may resolve to anything


def resolve_auth(mode: AuthMode, address: str, *, has_home_assistant: bool, has_own_tokens: bool) -> ResolvedAuth:
    """The mode to run in, given the setting and what is configured; raises ``AuthNotConfigured`` when unsafe.

    Args:
        mode: ``HA_AGENT_AUTH``.
        address: where users reach the service (``HA_AGENT_EXPOSED_ADDRESS``, else the listening host).
        has_home_assistant: ``HA_URL`` is set (a real Home Assistant can check its users' tokens).
        has_own_tokens: ``HA_AGENT_AUTH_TOKEN_HASHES`` names at least one token.
    """
    if mode is AuthMode.HOME_ASSISTANT and not has_home_assistant:
        raise AuthNotConfigured("HA_AGENT_AUTH=home-assistant needs HA_URL (the demo home cannot check tokens)")
    if mode is AuthMode.TOKENS and not has_own_tokens:
        raise AuthNotConfigured(
            "HA_AGENT_AUTH=tokens needs HA_AGENT_AUTH_TOKEN_HASHES (make a token with `ha-ai-agent token`)"
        )
    if mode is AuthMode.OFF:
        if is_loopback(address):
            return ResolvedAuth(mode, "turned off (HA_AGENT_AUTH=off)")
        warning = f"access control is OFF on {address} (HA_AGENT_AUTH=off): anyone who reaches it controls the home"
        return ResolvedAuth(mode, "turned off (HA_AGENT_AUTH=off)", warning)
    if mode is not AuthMode.AUTO:
        return ResolvedAuth(mode, f"HA_AGENT_AUTH={mode.value}")
    if has_own_tokens:
        return ResolvedAuth(AuthMode.TOKENS, "own tokens (HA_AGENT_AUTH_TOKEN_HASHES is set)")
    if is_loopback(address):
        return ResolvedAuth(AuthMode.OFF, f"off: {address} is loopback, reachable from this machine only")
    if has_home_assistant:
        return ResolvedAuth(AuthMode.HOME_ASSISTANT, f"Home Assistant tokens ({address} is not loopback)")
    raise AuthNotConfigured(f"refusing to serve {address} without access control: {HOW_TO_CONFIGURE}")
