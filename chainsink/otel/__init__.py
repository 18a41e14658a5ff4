"""OpenTelemetry export: LangChain runs as spans, live or replayed from JSONL logs.

Needs the ``otel`` extra (``pip install "chainsink[otel]"``). Importing this package costs
nothing; OpenTelemetry is imported with the first handler or sink.

    >>> from chainsink.otel import OtelCallbackHandler  # doctest: +SKIP

The attribute names chainsink sets are constants in :mod:`chainsink.otel.attributes`.
Replaying JSONL logs (what ``chainsink export --otlp`` does) is :class:`Replay` with an
:func:`otlp_exporter`; the endpoint helpers read OpenTelemetry's environment variables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chainsink._lazy import lazy_names as _lazy_names
from chainsink.otel._endpoint import env_traces_endpoint, traces_endpoint, url_problem

if TYPE_CHECKING:
    from chainsink.otel._export import ExportFailed, Replay, export_process, otlp_exporter
    from chainsink.otel._handler import OtelCallbackHandler
    from chainsink.otel._records import SpanRecords, content_from_env
    from chainsink.otel._sink import RunIds, SpanSink

_LAZY = {
    "ExportFailed": "chainsink.otel._export",
    "OtelCallbackHandler": "chainsink.otel._handler",
    "Replay": "chainsink.otel._export",
    "RunIds": "chainsink.otel._sink",
    "SpanRecords": "chainsink.otel._records",
    "SpanSink": "chainsink.otel._sink",
    "content_from_env": "chainsink.otel._records",
    "export_process": "chainsink.otel._export",
    "otlp_exporter": "chainsink.otel._export",
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


def _require_sdk() -> None:
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"{_MISSING} ({exc})") from exc


__getattr__, __dir__ = _lazy_names(__name__, _LAZY, check=_require_sdk)


__all__ = [
    "ExportFailed",
    "OtelCallbackHandler",
    "Replay",
    "RunIds",
    "SpanRecords",
    "SpanSink",
    "content_from_env",
    "env_traces_endpoint",
    "export_process",
    "otlp_exporter",
    "require_otel",
    "traces_endpoint",
    "url_problem",
]
