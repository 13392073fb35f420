"""Settings of the service, from the environment (and a ``.env`` file).

The service's own variables start with ``HA_AGENT_``; the LLM and Home Assistant ones keep the names
users already have (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``OPENAI_MODEL``, ``HA_URL``,
``HA_TOKEN``). Tracing is configured by the standard ``OTEL_*`` variables, read by the SDK.
"""

from __future__ import annotations

from pathlib import Path

from perftrace import TracingConfig
from perftrace.browser_export import ExportLimits
from perftrace.fastapi import BrowserEndpointConfig
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ha_ai_agent import __version__
from ha_ai_agent.semconv import BROWSER_SERVICE_NAME, SERVICE_NAME

# The library's defaults, read from its own config objects so that no number is written twice.
_TRACING = TracingConfig(service_name=SERVICE_NAME)
_BROWSER = BrowserEndpointConfig()
_EXPORT = _BROWSER.limits


class Settings(BaseSettings):
    """Everything the service can be told; invalid values fail at start-up with the field named."""

    model_config = SettingsConfigDict(env_prefix="HA_AGENT_", env_file=".env", extra="ignore")

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

    ha_url: str | None = Field(None, validation_alias=AliasChoices("HA_URL"))
    ha_token: SecretStr | None = Field(None, validation_alias=AliasChoices("HA_TOKEN"))
    ha_timeout_seconds: float = Field(10.0, gt=0)
    effect_timeout_seconds: float = Field(
        30.0,
        ge=0,
        description="how long a home_effect span waits for the state a service call asked for (then: timed out); "
        "0 watches nothing and opens no WebSocket to Home Assistant",
    )

    rate_limit_per_minute: int = Field(100, ge=1)
    max_message_chars: int = Field(4000, ge=1)
    max_input_tokens: int = Field(16000, ge=256)
    max_iterations: int = Field(10, ge=1, le=50)
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

    shim_forward_endpoint: str | None = Field(
        None,
        description="OTLP/HTTP traces URL the browser shim forwards to; default from OTEL_EXPORTER_OTLP_* (none with "
        "gRPC: then set it, e.g. http://otel-collector:4318/v1/traces)",
    )
    shim_max_body_bytes: int = Field(_EXPORT.max_body_bytes, ge=1024)
    shim_max_spans: int = Field(_EXPORT.max_spans, ge=1)
    shim_max_attributes: int = Field(_EXPORT.max_attributes_per_span, ge=1)
    shim_max_attribute_chars: int = Field(_EXPORT.max_attribute_chars, ge=16)
    shim_rate_limit_per_minute: int = Field(_BROWSER.rate_limit_per_minute, ge=1)
    shim_forward_timeout_seconds: float = Field(_BROWSER.forward_timeout_seconds, gt=0)
    shim_service_names: list[str] = Field([BROWSER_SERVICE_NAME], description="resource service.name a browser may use")

    @field_validator("jaeger_url", "ha_url", "openai_base_url", "shim_forward_endpoint")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

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

    def browser_endpoint(self) -> BrowserEndpointConfig:
        """How the browser shim treats exports (which service names it accepts is ``shim_service_names``)."""
        return BrowserEndpointConfig(
            limits=ExportLimits(
                max_body_bytes=self.shim_max_body_bytes,
                max_spans=self.shim_max_spans,
                max_attributes_per_span=self.shim_max_attributes,
                max_attribute_chars=self.shim_max_attribute_chars,
            ),
            forward_url=self.shim_forward_endpoint,
            forward_timeout_seconds=self.shim_forward_timeout_seconds,
            rate_limit_per_minute=self.shim_rate_limit_per_minute,
        )

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
