"""The HTML report of logs: what ``chainsink html`` writes and ``chainsink demo`` ends with."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from chainsink.cli._common import EXIT_NO_INPUT, EXIT_OK, STDIN, InputError, say
from chainsink.cli._inputs import (
    KIND_PROBLEMS,
    Input,
    LineReport,
    Progress,
    open_inputs,
    records,
    rewind,
    text_chunks,
)
from chainsink.cli._output import refuse_input, write_output
from chainsink.report import LogSummary, render_html, trace_view

if TYPE_CHECKING:
    from chainsink.cost import Prices


def write_report(files: Sequence[str], output: str, *, max_traces: int = 200,
                 pick: str = "errors", title: str | None = None, announce: bool = True,
                 prices: Prices | None = None) -> int:
    """Write the report of ``files`` to ``output`` (``-``: stdout); return the exit code.

    ``title`` names the report (the inputs' names when None); the page's ``<title>`` adds the
    time range of the logs. ``prices`` are the user's prices, tried before the genai-prices
    table (None: those of ``$CHAINSINK_PRICES``, if set).

    Raises:
        OutputError: The output is one of the inputs, or the page could not be written.
    """
    inputs = open_inputs(files)
    try:
        refuse_input(output, (inp.ident for inp in inputs))
        return _report(inputs, output, max_traces, pick, title, announce, prices)
    finally:
        for inp in inputs:
            inp.close()


def _report(inputs: list[Input], output: str, max_traces: int, pick: str, title: str | None,
            announce: bool, prices: Prices | None) -> int:
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
    try:
        summary = LogSummary(max_traces=max_traces, order=pick, keep_records=not twice,
                             prices=prices)
    except ValueError as exc:  # $CHAINSINK_PRICES names bad prices
        raise InputError(f"prices: {exc}") from None
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
        return EXIT_NO_INPUT
    traces = [trace_view(t, t.records or [], pricer=summary.pricer) for t in summary.selected()]
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
    return EXIT_OK


def _second_pass(inputs: Sequence[Input], progress: Progress,
                 offset: int) -> Iterator[dict[str, Any]]:
    """The records of every input again, as the first pass read them, quietly (the first pass
    reported the problems)."""
    for inp in inputs:
        if rewind(inp):
            yield from records(inp, LineReport(inp.name, quiet=True), progress, offset,
                               limit=inp.consumed)
        offset += inp.size or 0
