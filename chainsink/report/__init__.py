"""The HTML report and the numbers behind it: what ``chainsink html`` and ``chainsink stats`` use.

Reading is not done here: feed records (from :func:`chainsink.read.read_events`, each passed
through :func:`clean_record` when the log may come from elsewhere) to a :class:`LogSummary`,
turn the records of the traces it picked into page data with :func:`trace_view`, and write the
fragments :func:`render_html` yields.

    >>> from chainsink.read import read_events
    >>> from chainsink.report import render_html, summarize, trace_view
    >>> summary = summarize(read_events("run.jsonl"), keep_records=True)  # doctest: +SKIP
    >>> traces = [trace_view(t, t.records) for t in summary.selected()]  # doctest: +SKIP
    >>> page = "".join(render_html(summary, traces))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chainsink._lazy import lazy_names as _lazy_names

#: How :class:`LogSummary` can pick the traces shown in full (here, not in the summary
#: module: the CLI's parser offers them without loading the report).
ORDERS = ("errors", "recent", "slowest")

if TYPE_CHECKING:
    from chainsink._schema import short_id
    from chainsink.report._html import content_security_policy, format_ms, render_html
    from chainsink.report._summary import (
        OTHER_MODELS,
        UNKNOWN_MODEL,
        Latency,
        LogSummary,
        Tokens,
        TraceSummary,
        error_text,
        span_ms,
        summarize,
        trace_key,
    )
    from chainsink.report._trace import trace_view
    from chainsink.report._values import clean_record, format_usd, utc_time

# Loaded on first use (PEP 562): `chainsink tail` needs a record cleaner, not the HTML page.
_LAZY = {
    "Latency": "._summary",
    "LogSummary": "._summary",
    "OTHER_MODELS": "._summary",
    "UNKNOWN_MODEL": "._summary",
    "Tokens": "._summary",
    "TraceSummary": "._summary",
    "clean_record": "._values",
    "content_security_policy": "._html",
    "error_text": "._summary",
    "format_ms": "._html",
    "format_usd": "._values",
    "render_html": "._html",
    "short_id": "chainsink._schema",
    "span_ms": "._summary",
    "summarize": "._summary",
    "trace_key": "._summary",
    "trace_view": "._trace",
    "utc_time": "._values",
}


__getattr__, __dir__ = _lazy_names(__name__, _LAZY)


__all__ = [
    "Latency",
    "LogSummary",
    "ORDERS",
    "OTHER_MODELS",
    "Tokens",
    "TraceSummary",
    "UNKNOWN_MODEL",
    "clean_record",
    "content_security_policy",
    "error_text",
    "format_ms",
    "format_usd",
    "render_html",
    "short_id",
    "span_ms",
    "summarize",
    "trace_key",
    "trace_view",
    "utc_time",
]
