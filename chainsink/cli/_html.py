"""``chainsink html``: logs turned into one self-contained HTML page."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from chainsink.cli._inputs import (
    KIND_PROBLEMS,
    STDIN,
    Input,
    LineReport,
    Progress,
    open_inputs,
    records,
    rewind,
    say,
    text_chunks,
)
from chainsink.cli._output import OutputError as OutputError  # noqa: PLC0414 - for _demo
from chainsink.cli._output import refuse_input, write_output
from chainsink.report import LogSummary, render_html, trace_view
from chainsink.report._summary import ORDERS


def add_parser(commands: Any) -> None:
    """Register ``html`` on the CLI's subcommand parsers."""
    p = commands.add_parser(
        "html", help="write one self-contained HTML report of JSONL (or ANSI/text) logs",
        description="Write one self-contained HTML page (no network, opens from disk): a "
                    "summary of every trace, and the run tree of each trace picked for detail "
                    "(failed ones first, then the most recent; --max-traces). An ANSI or plain "
                    "text log is shown as it would look in a terminal.")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="JSONL, ANSI or text log(s); - for stdin")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="where to write the page; - for stdout (default: the first input's "
                        "name with .html, in the current directory; stdout for stdin)")
    p.add_argument("--max-traces", type=int, default=200, metavar="N",
                   help="traces shown in full detail (default 200); the summary covers all")
    p.add_argument("--pick", choices=ORDERS, default="errors",
                   help="which traces get full detail: errors (failed first, then the most "
                        "recent; default), recent, or slowest")
    p.add_argument("--title", default="report", help="the page title")
    p.set_defaults(run=run, check=check, parser=p)


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors the parser cannot see (exit 2)."""
    if args.max_traces < 0:
        parser.error("--max-traces must not be negative")
    if args.files.count(STDIN) > 1:
        parser.error("stdin (-) can be read only once")
    if args.output is None:
        first = args.files[0]
        args.output = STDIN if first == STDIN else Path(first).with_suffix(".html").name
        if first != STDIN and os.path.abspath(args.output) == os.path.abspath(first):
            parser.error(f"{first} ends in .html: name the report with -o")


def run(args: argparse.Namespace) -> int:
    """Run ``chainsink html``; return the exit code."""
    return make_report(args.files, args.output, max_traces=args.max_traces, pick=args.pick,
                       title=args.title)


def make_report(files: Sequence[str], output: str, *, max_traces: int = 200,
                pick: str = "errors", title: str = "report", announce: bool = True) -> int:
    """Write the report of ``files`` to ``output`` (``-``: stdout); return the exit code.

    Raises:
        OutputError: The output is one of the inputs, or the page could not be written.
    """
    inputs = open_inputs(files)
    try:
        refuse_input(output, (inp.ident for inp in inputs))
        return _report(inputs, output, max_traces, pick, title, announce)
    finally:
        for inp in inputs:
            inp.close()


def _report(inputs: list[Input], output: str, max_traces: int, pick: str, title: str,
            announce: bool) -> int:
    logs: list[Input] = []
    texts: list[Input] = []
    for inp in inputs:
        if inp.kind == "jsonl":
            logs.append(inp)
        elif inp.kind == "text":
            texts.append(inp)
        else:
            say(f"{inp.name}: {KIND_PROBLEMS[inp.kind]}")
    twice = all(inp.rereadable for inp in logs)
    total = sum(inp.size or 0 for inp in logs)
    progress = Progress("chainsink html", total * 2 if twice else None)
    summary = LogSummary(max_traces=max_traces, order=pick, keep_records=not twice)
    usable: list[Input] = []
    try:
        done = 0
        for inp in logs:
            report = LineReport(inp.name)
            for rec in records(inp, report, progress, done):
                summary.add(rec)
            done += inp.size or 0
            if report.done():
                usable.append(inp)
        summary.finish()
        if twice and summary.selected():
            summary.collect(_second_pass(usable, progress, done))
    finally:
        progress.close()
    if not usable and not texts:
        return 1
    traces = [trace_view(t, t.records or []) for t in summary.selected()]
    for t in summary.selected():
        t.records = None  # the page data has what it needs
    text_logs = []
    for inp in texts:
        note, chunks = text_chunks(inp)
        text_logs.append((inp.name, note, chunks))
    page = render_html(summary if usable else None, traces, title=title,
                       sources=[inp.name for inp in usable + texts], text_logs=text_logs)
    write_output(output, page)
    if announce and output != STDIN:
        shown = f"{len(traces):,} in detail" if len(traces) < summary.traces else "all in detail"
        what = (f"{summary.traces:,} traces ({shown}), {summary.runs:,} runs, "
                f"{summary.errors:,} errors" if usable else "")
        what += (", " if what and texts else "") + (f"{len(texts)} text logs" if texts else "")
        say(f"wrote {output}: {what}")
    return 0


def _second_pass(inputs: Sequence[Input], progress: Progress,
                 offset: int) -> Iterator[dict[str, Any]]:
    """The records of every input again, as the first pass read them, quietly (the first pass
    reported the problems)."""
    for inp in inputs:
        if rewind(inp):
            yield from records(inp, LineReport(inp.name, quiet=True), progress, offset,
                               limit=inp.consumed)
        offset += inp.size or 0
