"""Fixtures for the OpenTelemetry tests: a real SDK provider with an in-memory exporter.

Without the ``otel`` extra these tests are skipped, unless ``CHAINSINK_STRICT`` is set (CI),
where that is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

try:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
except ImportError:  # pragma: no cover - depends on the install
    if os.environ.get("CHAINSINK_STRICT"):
        raise
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture
def memory() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A TracerProvider whose ended spans land, synchronously, in an InMemorySpanExporter."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()
