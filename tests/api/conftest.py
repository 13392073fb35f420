"""Fixtures of the API tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.test.globals_test import reset_metrics_globals


@pytest.fixture
def metric_reader() -> Iterator[InMemoryMetricReader]:
    """The global meter provider (embedded mode has no exporter of its own), read in memory."""
    reset_metrics_globals()
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    yield reader
    reset_metrics_globals()
