"""Settings of the service, from the environment (and a ``.env`` file).

The service's own variables start with ``HA_AGENT_``; the LLM and Home Assistant ones keep the names
users already have (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``OPENAI_MODEL``, ``HA_URL``,
``HA_TOKEN``). Tracing is configured by the standard ``OTEL_*`` variables, read by the SDK.
"""

from __future__ import annotations

import os
from pathlib import Path

from perftrace import TracingConfig
from perftrace.fastapi import BrowserEndpointConfig
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ha_ai_agent import __version__
from ha_ai_agent.auth.credentials import is_token_digest
from ha_ai_agent.auth.policy import AuthMode, ResolvedAuth, resolve_auth
from ha_ai_agent.llm.pricing import ModelPrice, PriceTable, read_price_file
from ha_ai_agent.semconv import BROWSER_SERVICE_NAME, SERVICE_NAME

# The library's defaults, read from its own config objects so that no number is written twice.
_TRACING = TracingConfig(service_name=SERVICE_NAME)
ENV_PREFIX = "HA_AGENT_"
#: Variables of earlier versions that are no longer read: set (environment or ``.env``), they stop the start-up
#: rather than be ignored.
RENAMED_PREFIXES = {f"{ENV_PREFIX}SHIM_": f"{ENV_PREFIX}BROWSER_ENDPOINT__"}


class Settings(BaseSettings):
    """Everything the service can be told; invalid values fail at start-up with the field named."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        extra="ignore",
        env_nested_delimiter="__",
        nested_model_default_partial_update=True,
    )

    host: str = "127.0.0.1"
    port: int = Field(8030, ge=1, le=65535)
    data_dir: Path = Field(Path("data"), description="SQLite database folder; relative to the working directory")
    log_level: str = "INFO"

    openai_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(None, validation_alias=AliasChoices("OPENAI_BASE_URL"))
    openai_model: str = Field("gpt-4o-mini", validation_alias=AliasChoices("OPENAI_MODEL", "HA_AGENT_OPENAI_MODEL"))
    llm_timeout_seconds: float = Field(60.0, gt=0)
    llm_max_retries: int = Field(2, ge=0, le=10)
    llm_latency_ms: int = Field(400, ge=0, description="simulated latency of the embedded LLM per call")
    llm_stream_chunk_ms: int = Field(
        25,
        ge=0,
        description="pace of the embedded LLM's answers: milliseconds between chunks (words), streamed or not",
    )

    ha_url: str | None = Field(None, validation_alias=AliasChoices("HA_URL"))
    ha_token: SecretStr | None = Field(None, validation_alias=AliasChoices("HA_TOKEN"))
    ha_timeout_seconds: float = Field(10.0, gt=0)
    effect_timeout_seconds: float = Field(
        30.0,
        ge=0,
        description="how long a home_effect span waits for the state a service call asked for (then: timed out); "
        "0 watches nothing and opens no WebSocket to Home Assistant",
    )

    auth: AuthMode = Field(
        AuthMode.AUTO,
        description="home-assistant, tokens, off, or auto: own tokens when configured, else off on loopback, "
        "else Home Assistant's tokens when HA_URL is set, else refuse to start",
    )
    auth_token_hashes: list[str] = Field([], description="the agent's own tokens, as `ha-ai-agent token` prints them")
    auth_cache_seconds: float = Field(60.0, ge=0, description="how long Home Assistant's verdict on a token is kept")
    auth_session_hours: float = Field(12.0, gt=0, description="how long a sign-in on the chat page lasts")
    auth_failures_per_minute: int = Field(10, ge=1, description="checks of unknown credentials per client per minute")
    exposed_address: str | None = Field(
        None, description="the address users reach the service on, when not the one it listens on (compose)"
    )

    confirm_seconds: float = Field(
        60.0, gt=0, description="how long a yes may carry out an action that opens the home (unlock, open, disarm)"
    )

    rate_limit_per_minute: int = Field(100, ge=1)
    max_message_chars: int = Field(4000, ge=1)
    max_input_tokens: int = Field(16000, ge=256)
    max_iterations: int = Field(10, ge=1, le=50)
    prices_file: Path | None = Field(
        None, description="JSON price table (USD per million tokens per model) over the shipped defaults"
    )
    prices: dict[str, ModelPrice] = Field(
        default_factory=dict, description="prices as JSON in the environment, over the defaults and the file"
    )
    context_ttl_seconds: int = Field(900, ge=0, description="cache lifetime of the devices/helpers sections")
    context_static_ttl_seconds: int = Field(1800, ge=0, description="cache lifetime of the services section")
    context_areas_ttl_seconds: int = Field(60, ge=0, description="cache lifetime of the areas (area changes seen)")

    recent_traces: int = Field(
        _TRACING.recent_traces_max,
        ge=0,
        description="traces kept in memory for /performance and the [Performance] line; 0 keeps none",
    )
    recent_spans_per_trace: int = Field(_TRACING.recent_spans_per_trace_max, ge=1)
    shutdown_timeout_seconds: float = Field(_TRACING.shutdown_timeout_millis / 1000, gt=0)
    builtin_tracing: bool = Field(
        _TRACING.enabled,
        description="false: no tracing of the service's own, left to an agent such as opentelemetry-instrument",
    )
    jaeger_url: str | None = Field(None, description="public Jaeger UI address, for links from the pages")

    browser_endpoint: BrowserEndpointConfig = Field(
        BrowserEndpointConfig(service_names=frozenset({BROWSER_SERVICE_NAME})),
        description="POST /otlp/v1/traces: one variable per field, e.g. HA_AGENT_BROWSER_ENDPOINT__MAX_SPANS",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_renamed_variables(cls, data: object) -> object:
        # A variable that is silently no longer read would leave a user's limit unapplied without a word.
        # The .env file's unknown entries arrive here (without the prefix); the environment's do not.
        from_file = [f"{ENV_PREFIX}{key}".upper() for key in data] if isinstance(data, dict) else []
        for old, new in RENAMED_PREFIXES.items():
            stale = sorted({name.upper() for name in [*os.environ, *from_file] if name.upper().startswith(old)})
            if stale:
                raise ValueError(f"{', '.join(stale)}: renamed, now {new}<FIELD> (e.g. {new}MAX_SPANS)")
        return data

    @field_validator("jaeger_url", "ha_url", "openai_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @field_validator("auth_token_hashes")
    @classmethod
    def _token_digests(cls, digests: list[str]) -> list[str]:
        bad = [d for d in digests if not is_token_digest(d)]
        if bad:
            raise ValueError("each must be sha256:<64 hex digits>, as `ha-ai-agent token` prints it (not the token)")
        return digests

    def resolved_auth(self) -> ResolvedAuth:
        """The access control to run with; raises ``AuthNotConfigured`` (saying what to set) when unsafe."""
        return resolve_auth(
            self.auth,
            self.exposed_address or self.host,
            has_home_assistant=bool(self.ha_url),
            has_own_tokens=bool(self.auth_token_hashes),
        )

    @field_validator("prices_file")
    @classmethod
    def _readable_price_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                read_price_file(value)  # a missing or malformed file fails at start-up, the setting named
            except OSError as error:
                raise ValueError(f"cannot read the price file: {error}") from error
        return value

    def price_table(self) -> PriceTable:
        """The shipped prices, then ``prices_file``, then ``prices``."""
        return PriceTable.load(self.prices_file, self.prices)

    @property
    def database_path(self) -> Path:
        """Where the conversations database lives."""
        return self.data_dir.expanduser().resolve() / "conversations.sqlite3"

    @property
    def uses_embedded_llm(self) -> bool:
        """No API key and no OpenAI-compatible server configured: answer with the embedded responder."""
        return self.openai_api_key is None and self.openai_base_url is None

    @property
    def installs_tracing(self) -> bool:
        """Whether the service sets up tracing itself: provider, processors, instrumentations, its own spans.

        Not with ``OTEL_SDK_DISABLED=true`` (off means off: nothing is installed, not even no-op wrappers) nor
        with ``HA_AGENT_BUILTIN_TRACING=false`` (an agent that instruments the process does it instead).
        """
        return self.tracing().installs

    def tracing(self) -> TracingConfig:
        """The part of the settings the telemetry library needs."""
        return TracingConfig(
            service_name=SERVICE_NAME,
            service_version=__version__,
            recent_traces_max=self.recent_traces,
            recent_spans_per_trace_max=self.recent_spans_per_trace,
            shutdown_timeout_millis=int(self.shutdown_timeout_seconds * 1000),
            enabled=self.builtin_tracing,
        )
