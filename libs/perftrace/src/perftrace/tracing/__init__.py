"""Tracing: setup from ``OTEL_*``, ``@traced``, the recent-traces buffer and its span records, log correlation."""
