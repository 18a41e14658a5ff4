"""OpenTelemetry export: LangChain runs as spans, live or replayed from JSONL logs.

Needs the ``otel`` extra (``pip install "chainsink[otel]"``). Importing this package costs
nothing; OpenTelemetry is imported with the first handler or sink.

    >>> from chainsink.otel import OtelCallbackHandler  # doctest: +SKIP

The attribute names chainsink sets are constants in :mod:`chainsink.otel.attributes`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chainsink.otel._handler import OtelCallbackHandler, SpanRecords
    from chainsink.otel._sink import RunIds, SpanSink

_LAZY = {
    "OtelCallbackHandler": "chainsink.otel._handler",
    "RunIds": "chainsink.otel._sink",
    "SpanRecords": "chainsink.otel._handler",
    "SpanSink": "chainsink.otel._sink",
}

#: What a missing extra says.
_MISSING = "chainsink.otel needs OpenTelemetry: pip install 'chainsink[otel]'"


def require_otel() -> None:
    """Raise an ImportError naming ``chainsink[otel]`` unless the OpenTelemetry SDK and the
    OTLP/HTTP exporter are installed."""
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"{_MISSING} ({exc})") from exc


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'chainsink.otel' has no attribute {name!r}")
    import importlib

    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"{_MISSING} ({exc})") from exc
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "OtelCallbackHandler",
    "RunIds",
    "SpanRecords",
    "SpanSink",
    "require_otel",
]
