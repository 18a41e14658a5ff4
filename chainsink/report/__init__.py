"""The HTML report and the numbers behind it (what ``chainsink html`` and ``chainsink stats`` use).

Reading is not done here: feed records (from :func:`chainsink.read_events`) to a
:class:`LogSummary`, turn the records of the traces it picked into page data with
:func:`trace_view`, and write the fragments :func:`render_html` yields.

    >>> from chainsink import read_events
    >>> from chainsink.report import render_html, summarize, trace_view
    >>> summary = summarize(read_events("run.jsonl"), keep_records=True)  # doctest: +SKIP
    >>> traces = [trace_view(t, t.records) for t in summary.selected()]  # doctest: +SKIP
    >>> page = "".join(render_html(summary, traces))  # doctest: +SKIP
"""

from __future__ import annotations

from chainsink.report._html import format_ms, json_for_script, render_html
from chainsink.report._summary import (
    Latency,
    LogSummary,
    Tokens,
    TraceSummary,
    summarize,
)
from chainsink.report._text import ansi_css, ansi_to_html
from chainsink.report._trace import short_id, trace_view

__all__ = [
    "Latency",
    "LogSummary",
    "Tokens",
    "TraceSummary",
    "ansi_css",
    "ansi_to_html",
    "format_ms",
    "json_for_script",
    "render_html",
    "short_id",
    "summarize",
    "trace_view",
]
