"""``BrowserEndpointConfig``: every setting of the browser endpoint, each limit with its default and bounds, once.

A service that exposes them as settings uses this model as the type of one settings field (the chat service:
``HA_AGENT_BROWSER_ENDPOINT__MAX_SPANS`` and so on), so a default or a bound is never written twice.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class BrowserEndpointConfig(BaseModel):
    """What the browser endpoint (``POST /otlp/v1/traces``) accepts, and where it sends what it accepted.

    Limits follow the OTel attribute-limit model: spans over the per-export cap refuse the export (413; the
    exporter can split it), attributes over the per-span cap are dropped and counted, long values truncated.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    service_names: frozenset[str] = Field(
        min_length=1, description="the resource service.name values a browser may export spans under (else 403)"
    )
    max_body_bytes: int = Field(1_000_000, ge=1024, description="largest export, counted after gzip (else 413)")
    max_spans: int = Field(512, ge=1, description="most spans in one export (else 413)")
    max_attributes_per_span: int = Field(64, ge=1, description="attributes past this are dropped, and counted")
    max_attribute_chars: int = Field(1024, ge=16, description="longer string values are truncated, and counted")
    rate_limit_per_minute: int = Field(600, ge=1, description="exports one client may send per minute (else 429)")
    forward_url: str | None = Field(
        None,
        description="OTLP/HTTP traces URL the spans are forwarded to; default from OTEL_EXPORTER_OTLP_* (none with "
        "gRPC: then set it, e.g. http://otel-collector:4318/v1/traces); with neither, spans are only kept in memory",
    )
    forward_timeout_seconds: float = Field(2.0, gt=0, description="the most a forward may take before a 503")

    @field_validator("forward_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value
