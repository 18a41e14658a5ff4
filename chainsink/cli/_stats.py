"""``chainsink stats``: traces, runs, errors, latency by name, tokens and cost by model, slowest
traces.

Cost is :class:`chainsink.report.LogSummary`'s, worked out as the records are read
(:class:`chainsink.cost.Pricer`): each model call is priced from its own model, usage, provider
and time, and summed per model, per trace and in total.

Two engines give the same numbers: the Python reader below (streaming, bounded memory), and,
for inputs of 64 MiB or more when DuckDB is installed, :mod:`chainsink.cli._stats_duck` (many
times faster; its percentiles are exact past 1,024 runs of a name, where the Python reader's
are estimated). ``CHAINSINK_STATS_ENGINE=duckdb|python`` forces one.
"""

from __future__ import annotations

import argparse
import re
import sys
from decimal import Decimal
from typing import TYPE_CHECKING

from chainsink.cli._common import (
    EXIT_NO_INPUT,
    EXIT_OK,
    Subparsers,
    add_files,
    add_prices,
    check_files,
    check_prices,
    say,
)

if TYPE_CHECKING:
    from chainsink.report import LogSummary

_NAME_WIDTH = 40
_C1 = re.compile("[\x7f-\x9f]")


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``stats`` to the CLI's subcommands."""
    p = subparsers.add_parser(
        "stats", help="summarise JSONL logs: traces, errors, latency, tokens",
        description="Summarise JSONL logs: traces, runs and errors; latency p50/p95/max by run "
                    "name; tokens by model and in total; the slowest traces. Percentiles are "
                    "exact up to 1,024 runs of a name, estimated from a uniform sample beyond. "
                    "Inputs of 64 MiB or more are read with DuckDB when it is installed "
                    "(pip install 'chainsink[sql]'): the same numbers, faster, with exact "
                    "percentiles at any size; CHAINSINK_STATS_ENGINE=duckdb|python forces "
                    "one reader.")
    add_files(p)
    p.add_argument("--top", type=int, default=10, metavar="N",
                   help="how many slowest traces to list (default 10)")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    add_prices(p)
    return p


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors the parser cannot see (exit 2)."""
    if args.top < 0:
        parser.error("--top must not be negative")
    check_files(parser, args)
    check_prices(parser, args)


def run(args: argparse.Namespace) -> int:
    """Run ``chainsink stats``; return the exit code."""
    # the reading stack is imported here, not at the top: `chainsink --help` does not pay for it
    from chainsink.cli._inputs import KIND_PROBLEMS, LineReport, Progress, open_inputs, records
    from chainsink.report import LogSummary

    found = _with_duckdb(args)
    if found is not None:
        if not found[1]:
            return EXIT_NO_INPUT
        _print(args, *found)
        return EXIT_OK
    inputs = open_inputs(args.files)
    summary = LogSummary(max_traces=0, slowest=args.top,
                         prices=getattr(args, "user_prices", None))
    sizes = [i.size for i in inputs]
    progress = Progress("chainsink stats", None if None in sizes else sum(s or 0 for s in sizes))
    usable, done = [], 0
    try:
        for inp in inputs:
            if inp.kind != "jsonl":
                say(f"{inp.name}: {KIND_PROBLEMS[inp.kind]}")
                continue
            report = LineReport(inp.name)
            for rec in records(inp, report, progress, done):
                summary.add(rec)
            done += inp.size or 0
            if report.done():
                usable.append(inp.name)
    finally:
        progress.close()
        for inp in inputs:
            inp.close()
    if not usable:
        return EXIT_NO_INPUT
    summary.finish()
    _print(args, summary, usable)
    return EXIT_OK


def _with_duckdb(args: argparse.Namespace) -> tuple[LogSummary, list[str]] | None:
    """The summary made with DuckDB (:mod:`chainsink.cli._stats_duck`), or None when the
    Python reader is to make it (a small input, no DuckDB, stdin, or what DuckDB cannot
    read as the Python reader does)."""
    from chainsink.cli._stats_duck import Fallback, engine_for

    try:
        engine = engine_for(args.files)
    except ValueError as exc:
        say(str(exc))
        engine = "python"
    if engine != "duckdb":
        return None
    from chainsink.cli._duck import NoDuckDB, require_duckdb

    try:
        require_duckdb()
    except NoDuckDB as exc:
        say(f"{exc}; reading with Python")
        return None
    import contextlib
    import io

    from chainsink.cli._inputs import KIND_PROBLEMS, open_inputs
    from chainsink.cli._stats_duck import summarise

    said = io.StringIO()  # what opening the inputs says, held in case of a fallback
    with contextlib.redirect_stderr(said):
        inputs = open_inputs(args.files)  # the Python reader's order and its problems
    for inp in inputs:
        inp.close()
    files = [inp.name for inp in inputs if inp.kind == "jsonl"]
    if not files:
        return None
    try:
        found = summarise(files, top=args.top, prices=getattr(args, "user_prices", None),
                          before=said.getvalue(),
                          others=[(i, f"{inp.name}: {KIND_PROBLEMS[inp.kind]}")
                                  for i, inp in enumerate(inputs) if inp.kind != "jsonl"])
    except Fallback:
        return None
    return found


def _print(args: argparse.Namespace, summary: LogSummary, usable: list[str]) -> None:
    """Print the summary (``--json``, or text for a terminal) and the cost note."""
    import orjson

    from chainsink.formatters import inert

    note = summary.cost_dict()["note"]
    if note:
        say(f"cost: {note}")
    if args.json:
        data = summary.to_dict()
        data["files"] = usable
        text = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
        # orjson escapes C0 controls; DEL and C1 (a lone CSI, OSC, ST) are escaped here, so
        # JSON on a terminal cannot control it either
        sys.stdout.write(_C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")
    else:
        # names, models and files are log content: shown as text, never terminal control
        sys.stdout.write(inert(render(summary, usable)))
    sys.stdout.flush()


def _cut(name: str, width: int = _NAME_WIDTH) -> str:
    name = name.replace("\n", " ")
    return name if len(name) <= width else name[: width - 1] + "\u2026"


def usd(cost: Decimal | float | None) -> str:
    """A cost as text: ``$1,234.50``, ``$0.000420`` (six places below a dollar), or
    ``unknown``."""
    if cost is None:
        return "unknown"
    return f"${cost:,.2f}" if cost >= 1 else f"${cost:.6f}"


def render(s: LogSummary, files: list[str]) -> str:
    """The stats as text for a terminal (with a cost column when the summary prices calls
    and anything can price them)."""
    from chainsink.report import format_ms, short_id

    out = [f"{', '.join(files)}: {s.records:,} records"]
    if s.first_ts:
        out.append(f"from {s.first_ts} to {s.last_ts}")
    extra = [f"{s.failed_traces:,} failed"]
    if s.interrupted_traces:
        extra.append(f"{s.interrupted_traces:,} interrupted")
    if s.incomplete_traces:
        extra.append(f"{s.incomplete_traces:,} incomplete")
    out += ["",
            f"traces  {s.traces:>10,}   ({', '.join(extra)})",
            f"runs    {s.runs:>10,}",
            f"errors  {s.errors:>10,}   (runs that failed)",
            *([f"stopped {s.interrupted:>10,}   (runs interrupted, cancelled or handed off:"
               " not failures)"] if s.interrupted else []),
            ""]
    rows = s.latency_rows()
    width = max([len("latency by run name")] + [len(_cut(n)) for n, _ in rows])
    out.append(f"{'latency by run name':<{width}}  {'runs':>8}  {'errors':>6}  {'p50':>10}"
               f"  {'p95':>10}  {'max':>10}")
    for name, lat in rows:
        out.append(f"{_cut(name):<{width}}  {lat.count:>8,}  {lat.errors:>6,}"
                   f"  {format_ms(lat.percentile(50)):>10}  {format_ms(lat.percentile(95)):>10}"
                   f"  {format_ms(lat.max if lat.count else None):>10}")
    out.append("")
    models = sorted(s.tokens_by_model.items(), key=lambda kv: (-kv[1].total_tokens, kv[0]))
    width = max([len("tokens by model")] + [len(_cut(m)) for m, _ in models])
    pricer = s.pricer if s.pricer is not None and s.pricer.shown else None
    priced = pricer is not None
    out.append(f"{'tokens by model':<{width}}  {'calls':>8}  {'input':>12}  {'output':>12}"
               f"  {'total':>12}" + (f"  {'cost':>12}" if priced else ""))
    for model, tok in [*models, ("total", s.tokens)]:
        line = (f"{_cut(model):<{width}}  {tok.calls:>8,}  {tok.input_tokens:>12,}"
                f"  {tok.output_tokens:>12,}  {tok.total_tokens:>12,}")
        if priced:
            cost = s.cost_total if model == "total" else s.cost_by_model.get(model)
            shown = usd(cost) if cost is not None or model == "total" else "unpriced"
            line += f"  {shown:>12}"
        out.append(line)
    if pricer is not None:
        where = [s.price_table() or "", "your prices" if pricer.prices else ""]
        out.append(f"prices: {' and '.join(w for w in where if w)} (USD)")
        unpriced = s.unpriced_models
        if unpriced:
            out.append(f"unpriced models: {', '.join(_cut(m) for m in unpriced)} (no known "
                       f"price, or calls that reported no usage; the others cost "
                       f"{usd(s.cost_priced)})")
    slowest = s.slowest()
    if slowest:
        out += ["", "slowest traces"]
        for t in slowest:
            spent = ""
            if priced and t.tokens.calls:
                spent = usd(t.cost)
                spent = ", cost unknown" if spent == "unknown" else f", {spent}"
            out.append(f"  {format_ms(t.duration_ms):>10}  {short_id(t.trace_id)}  "
                       f"{_cut(t.name)}  ({t.runs:,} runs, {t.status}{spent}, started {t.start})")
    return "\n".join(out) + "\n"
