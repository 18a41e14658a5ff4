"""The report page: one self-contained HTML document, written as a stream of fragments.

Every fragment that came from a log passes through ``html.escape``; the detailed traces travel as
JSON inside ``<script type="application/json">`` with ``<``, ``>`` and ``&`` escaped, and the
page's script builds the DOM from it with ``textContent`` only. A Content-Security-Policy allows
no network access at all and no script but the page's own (pinned by its hash), so even a
mistake here could not make a log run code or phone home.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

import orjson

from chainsink._schema import short_id
from chainsink.report._summary import LogSummary, Tokens, span_ms
from chainsink.report._template import CSS, SCRIPT
from chainsink.report._text import ansi_css, ansi_to_html
from chainsink.report._trace import FIND_LIMIT
from chainsink.report._values import format_usd, utc_time


def _script_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def content_security_policy(extra_script: str | None = None) -> str:
    """The page's Content-Security-Policy: no network, no script but the page's own (pinned by
    hash). With ``extra_script`` (the live viewer's), that script too, and requests to the
    page's own origin (``connect-src 'self'``) for the data it fetches."""
    scripts = _script_hash(SCRIPT)
    connect = ""
    if extra_script is not None:
        scripts += " " + _script_hash(extra_script)
        connect = "connect-src 'self'; "
    return ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
            f"{connect}script-src {scripts}; base-uri 'none'; form-action 'none'")


_CSP = content_security_policy()
#: Rows of the latency table (the names that took the most time in total come first).
LATENCY_ROWS = 500


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def json_for_script(value: Any) -> str:
    """``value`` as JSON that is safe inside a ``<script>`` element (no ``<``, ``>``, ``&``)."""
    text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def format_ms(ms: float | None) -> str:
    """A duration for people: ``0.42 ms``, ``12.3 ms``, ``1.25 s``, ``2.1 min``."""
    if ms is None:
        return "\u2013"
    if ms < 10:
        return f"{ms:.2f} ms"
    if ms < 1000:
        return f"{ms:.1f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    return f"{ms / 60_000:.1f} min"


def _when(ts: str | None) -> str:
    if not ts:
        return "\u2013"
    text = ts.replace("T", " ")
    if text.endswith("Z") and "." in text:
        head, _, frac = text[:-1].partition(".")
        return f"{head}.{frac[:3]}Z"
    return text


def time_range(first: str | None, last: str | None) -> str:
    """The span of a log's times for a title, to the minute: ``2026-12-02 09:14\u201309:52 UTC``
    (the end's date only when it differs); empty without usable times."""
    a, b = _minute(first), _minute(last)
    if not a:
        return ""
    if not b or a == b:
        return f"{a} UTC"
    return f"{a}\u2013{b[11:] if a[:10] == b[:10] else b} UTC"


def _minute(ts: str | None) -> str:
    when = utc_time(ts)
    return when.strftime("%Y-%m-%d %H:%M") if when is not None else ""


def page_title(title: str | None, sources: Sequence[str], summary: LogSummary | None) -> str:
    """The document's ``<title>``: the report's name (``title``, else the logs' names) and,
    when the log has times, the time range it covers."""
    name = title or (", ".join(PurePath(s).name or s for s in sources) if sources
                     else "chainsink report")
    if len(name) > 120:
        name = name[:119] + "\u2026"
    span = time_range(summary.first_ts, summary.last_ts) if summary is not None else ""
    return f"{name} \u00b7 {span}" if span else name


def render_html(summary: LogSummary | None, traces: Sequence[dict[str, Any]], *,
                title: str | None = None, sources: Sequence[str] = (),
                text_logs: Sequence[tuple[str, str | None, Iterable[str]]] = (),
                generated: datetime | None = None,
                extra_script: str | None = None) -> Iterator[str]:
    """Yield the report page, fragment by fragment (join them, or write each as it comes).

    Args:
        summary: The finished summary of every JSONL record (None when there were none).
        traces: The detailed traces, as :func:`~chainsink.report.trace_view` makes them, in the
            order to list them.
        title: The report's name, shown in its heading (the names of ``sources`` when None);
            the document's ``<title>`` adds the time range of the log (:func:`page_title`).
        sources: The names of the inputs, shown in the header.
        text_logs: ``(name, note, chunks)`` for each text or ANSI log: the chunks (ending at
            line ends) are converted with ansi2html as the page is written; ``note`` (or None)
            is shown above the log.
        generated: When the report was made (now by default).
        extra_script: A script run after the page's own (the live viewer's); it reaches the
            trace list through ``window.chainsinkReport`` (``add``, ``update``, ``loader``)
            and is allowed by the page's Content-Security-Policy, with ``connect-src 'self'``.
    """
    csp = _CSP if extra_script is None else content_security_policy(extra_script)
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
    yield ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           f"<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\n"
           "<meta name=\"referrer\" content=\"no-referrer\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
           f"<title>{_e(page_title(title, sources, summary))}</title>\n"
           f"<style>{CSS}</style>\n")
    if text_logs:
        yield ansi_css()
    yield "</head>\n<body>\n<header>\n"
    names = ", ".join(sources) if sources else "stdin"
    yield f"<h1><span>chainsink</span> <bdi>{_e(title or names)}</bdi></h1>\n"
    yield f"<p class=\"meta\">{_e(names)} \u00b7 generated {_e(when)}</p>\n</header>\n<main>\n"
    if summary is not None:
        yield from _summary(summary, traces)
        yield from _trace_list(summary, traces)
    for name, note, chunks in text_logs:
        yield f"<section class=\"textlog\">\n<h2>Text log: {_e(name)}</h2>\n"
        if note:
            yield f"<p class=\"note\">{_e(note)}</p>\n"
        yield ("<div class=\"body_foreground body_background\"><pre class=\"ansi2html-content\">")
        yield from ansi_to_html(chunks)
        yield "</pre></div>\n</section>\n"
    yield "</main>\n"
    if summary is not None:
        yield "<script type=\"application/json\" id=\"chainsink-data\">"
        yield json_for_script({"traces": list(traces)})
        yield f"</script>\n<script>{SCRIPT}</script>\n"
        if extra_script is not None:
            yield f"<script>{extra_script}</script>\n"
    yield "</body>\n</html>\n"


def _card(value: str, label: str, note: str = "", bad: bool = False) -> str:
    cls = "card bad" if bad else "card"
    small = f"<small>{_e(note)}</small>" if note else ""
    return f"<div class=\"{cls}\"><b>{_e(value)}</b><span>{_e(label)}</span>{small}</div>\n"


def _summary(s: LogSummary, traces: Sequence[dict[str, Any]]) -> Iterator[str]:
    tokens = s.tokens
    trace_note = f"{s.failed_traces:,} failed" + (
        f", {s.interrupted_traces:,} interrupted" if s.interrupted_traces else "") + (
        f", {s.incomplete_traces:,} incomplete" if s.incomplete_traces else "")
    yield "<section id=\"summary\">\n<h2>Summary</h2>\n<div class=\"cards\">\n"
    yield _card(f"{s.traces:,}", "traces", trace_note)
    yield _card(f"{s.runs:,}", "runs", f"{s.records:,} records")
    yield _card(f"{s.errors:,}", "errors", "runs that failed" + (
        f"; {s.interrupted:,} stopped without failing" if s.interrupted else ""),
        bad=s.errors > 0)
    yield _card(f"{tokens.total_tokens:,}", "tokens",
                f"{tokens.input_tokens:,} in \u00b7 {tokens.output_tokens:,} out")
    yield _card(f"{tokens.calls:,}", "model calls", f"{len(s.tokens_by_model)} models")
    if s.cost_shown:
        yield _cost_card(s)
    first, last = _when(s.first_ts), _when(s.last_ts)
    if first[:11] == last[:11]:  # the same day: say it once
        last = last[11:]
    yield _card(format_ms(span_ms(s.first_ts, s.last_ts)), "time span", f"{first} \u2192 {last}")
    yield "</div>\n<div class=\"cols\">\n<section>\n<h2>Tokens by model</h2>\n"
    yield from _tokens_table(s)
    yield "</section>\n<section>\n<h2>Slowest traces</h2>\n"
    yield from _slowest_table(s, traces)
    yield "</section>\n</div>\n<h2>Latency by run name</h2>\n"
    rows = s.latency_rows()
    heads = "".join(f"<th class=\"num\">{h}</th>"
                    for h in ("runs", "errors", "p50", "p95", "max", "total"))
    yield ("<div class=\"scroll\"><table id=\"latency\">\n<tr><th>run name</th>"
           f"{heads}</tr>\n")
    for name, lat in rows[:LATENCY_ROWS]:
        yield (f"<tr><td class=\"name\">{_e(name)}</td><td class=\"num\">{lat.count:,}</td>"
               f"<td class=\"num\">{lat.errors:,}</td>"
               f"<td class=\"num\">{_e(format_ms(lat.percentile(50)))}</td>"
               f"<td class=\"num\">{_e(format_ms(lat.percentile(95)))}</td>"
               f"<td class=\"num\">{_e(format_ms(lat.max if lat.count else None))}</td>"
               f"<td class=\"num\">{_e(format_ms(lat.total))}</td></tr>\n")
    yield "</table></div>\n"
    if len(rows) > LATENCY_ROWS:
        yield f"<p class=\"note\">{len(rows) - LATENCY_ROWS:,} more run names not shown.</p>\n"
    yield ("<p class=\"note\">Percentiles are exact up to 1,024 runs of a name and estimated "
           "from a uniform sample of 1,024 beyond.</p>\n</section>\n")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _cost_card(s: LogSummary) -> str:
    total = s.cost_total
    if total is not None:
        return _card(format_usd(total), "cost", "USD, all model calls")
    unpriced = len(s.unpriced_models)
    return _card("unknown", "cost", f"{format_usd(s.cost_priced)} priced \u00b7 "
                 f"{_plural(unpriced, 'unpriced model')}", bad=True)


def _tokens_table(s: LogSummary) -> Iterator[str]:
    if not s.tokens_by_model:
        yield "<p class=\"note\">No model calls.</p>\n"
        return
    priced = s.cost_shown
    yield ("<div class=\"wide\"><table id=\"tokens\">\n<tr><th>model</th>"
           "<th class=\"num\">calls</th>"
           "<th class=\"num\">input</th><th class=\"num\">output</th><th class=\"num\">total</th>"
           + ("<th class=\"num\">cost</th>" if priced else "") + "</tr>\n")
    rows: list[tuple[str, Tokens, str]] = [
        (m, t, "") for m, t in sorted(s.tokens_by_model.items(), key=lambda kv: -kv[1].total_tokens)
    ]
    rows.append(("all models", s.tokens, " class=\"total\""))
    for model, t, cls in rows:
        cost = ""
        if priced:
            if cls:
                shown = format_usd(s.cost_total)
            else:
                found = s.cost_by_model.get(model)
                shown = "unpriced" if found is None else format_usd(found)
            cost = f"<td class=\"num cost\">{_e(shown)}</td>"
        yield (f"<tr{cls}><td class=\"name\">{_e(model)}</td><td class=\"num\">{t.calls:,}</td>"
               f"<td class=\"num\">{t.input_tokens:,}</td><td class=\"num\">{t.output_tokens:,}"
               f"</td><td class=\"num\">{t.total_tokens:,}</td>{cost}</tr>\n")
    yield "</table></div>\n"
    yield from _cost_notes(s)


def _cost_notes(s: LogSummary) -> Iterator[str]:
    """Where the prices came from and what is unpriced; or, without the price table, how to
    get it (said once, here)."""
    if s.cost_shown:
        table = s.price_table()
        user = s.pricer is not None and s.pricer.prices is not None
        where = " and ".join(w for w in (table, "your prices" if user else None) if w)
        yield f"<p class=\"note\" id=\"prices\">Prices: {_e(where)} (USD)"
        if table is None:
            yield (f"; the price table is not installed (<code>{_e(s.cost_hint or '')}"
                   "</code>)")
        yield ".</p>\n"
        unpriced = s.unpriced_models
        if unpriced:
            yield ("<p class=\"note\" id=\"unpriced\">Unpriced models (no known price, or "
                   "calls that reported no usage): "
                   + ", ".join(f"<bdi>{_e(m)}</bdi>" for m in unpriced)
                   + f". The others cost {_e(format_usd(s.cost_priced))}.</p>\n")
    elif s.cost_hint:
        yield (f"<p class=\"note\" id=\"cost-hint\">To see what model calls cost: "
               f"<code>{_e(s.cost_hint)}</code></p>\n")


def _slowest_table(s: LogSummary, traces: Sequence[dict[str, Any]]) -> Iterator[str]:
    slowest = s.slowest()
    if not slowest:
        yield "<p class=\"note\">No traces.</p>\n"
        return
    index = {t["id"]: i for i, t in enumerate(traces)}
    yield ("<div class=\"wide\"><table id=\"slowest\">\n<tr><th class=\"num\">duration</th>"
           "<th>trace</th><th>started"
           "</th><th class=\"num\">runs</th><th>status</th></tr>\n")
    for t in slowest:
        name = f"<bdi>{_e(t.name)}</bdi>"  # isolated: an override in it stops at its end
        if t.trace_id in index:
            name = f"<a href=\"#trace-{index[t.trace_id]}\">{name}</a>"
        yield (f"<tr><td class=\"num\">{_e(format_ms(t.duration_ms))}</td><td class=\"name\">"
               f"{name} <span class=\"tid\">{_e(short_id(t.trace_id))}</span></td>"
               f"<td>{_e(_when(t.start))}</td><td class=\"num\">{t.runs:,}</td>"
               f"<td>{_e(t.status)}</td></tr>\n")
    yield "</table></div>\n"


def _trace_list(s: LogSummary, traces: Sequence[dict[str, Any]]) -> Iterator[str]:
    yield "<section id=\"traces\">\n<h2>Traces</h2>\n"
    order = {"errors": "failed traces first, then the most recent",
             "recent": "the most recent", "slowest": "the slowest"}[s.order]
    if len(traces) < s.traces:
        yield (f"<p class=\"note\">Full detail for {len(traces):,} of {s.traces:,} traces "
               f"({_e(order)}; see <code>--max-traces</code>). The summary above covers all "
               "of them.</p>\n")
    yield ("<div class=\"filters\">"
           "<input type=\"search\" id=\"q\" placeholder=\"Search names, inputs, outputs, "
           "messages, errors, metadata, trace ids\u2026  (press /)\" autocomplete=\"off\" "
           "aria-label=\"Search the traces\">"
           "<select id=\"type\" aria-label=\"Run type\">"
           "<option value=\"\">all run types</option></select>"
           "<label><input type=\"checkbox\" id=\"errors-only\"> errors only</label>"
           "<button type=\"button\" id=\"expand-all\">expand all</button>"
           "<button type=\"button\" id=\"collapse-all\">collapse all</button>"
           "<span class=\"count\" id=\"count\"></span>"
           f"<p class=\"note\" id=\"find-note\" hidden>Search covers the first "
           f"{FIND_LIMIT:,} characters of each trace's text; some traces hold more.</p>"
           "</div>\n")
    yield "<div id=\"trace-list\"></div>\n"
    yield "<p class=\"empty\" id=\"no-match\" hidden>No trace matches.</p>\n"
    if not traces:
        yield "<p class=\"empty\">No traces to show.</p>\n"
    yield ("<noscript><p class=\"empty\">The trace list needs JavaScript; the summary above "
           "does not.</p></noscript>\n</section>\n")
