"""A Home Assistant AI chat agent, traced end to end with OpenTelemetry."""

__version__ = "0.1.0"
