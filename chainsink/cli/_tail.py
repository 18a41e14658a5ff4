"""``chainsink tail``: a JSONL log shown as the console would have shown it, optionally followed."""

from __future__ import annotations

import argparse
import sys
import time
from typing import IO, TYPE_CHECKING, Any

from chainsink._schema import EVENT_KINDS
from chainsink.cli._common import (
    EXIT_NO_INPUT,
    EXIT_OK,
    Subparsers,
    add_files,
    check_files,
    say,
)

if TYPE_CHECKING:  # the reading stack is imported when tail runs: --help does not need it
    from chainsink.formatters import ConsoleFormatter
    from chainsink.read import Follower

#: Records held back at start while deciding whether lines need trace tags.
HOLD_LIMIT = 2000


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``tail`` to the CLI's subcommands."""
    p = subparsers.add_parser(
        "tail", help="show a JSONL log as the console would have shown it",
        description="Show a JSONL log as the console would have shown it. When records of "
                    "several traces appear, each line starts with a [tag]: the last 8 hex "
                    "digits of its trace id.")
    add_files(p)
    p.add_argument("-f", "--follow", action="store_true",
                   help="keep reading lines as they are appended, across rotation and "
                        "truncation (Ctrl-C to stop)")
    p.add_argument("--trace", metavar="ID",
                   help="only this trace: the start or the end (the [tag]) of its id")
    p.add_argument("--event", action="append", default=[], metavar="KIND",
                   help="only these events (repeat, or comma-separate): "
                        + ", ".join(EVENT_KINDS))
    p.add_argument("--style", choices=("classic", "detailed", "line"), default="detailed",
                   help="classic: LangChain's own lines; detailed (default): every event; "
                        "line: one line per event")
    p.add_argument("--no-color", action="store_true",
                   help="no ANSI colours (also when NO_COLOR is set or stdout is not a terminal)")
    return p


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors the parser cannot see (exit 2)."""
    kinds = {k.strip() for value in args.event for k in value.split(",") if k.strip()}
    unknown = sorted(kinds - set(EVENT_KINDS))
    if unknown:
        parser.error(f"unknown --event {', '.join(unknown)} (choose from {', '.join(EVENT_KINDS)})")
    args.kinds = kinds
    if args.trace is not None and not _norm(args.trace):
        parser.error("--trace needs part of a trace id")
    check_files(parser, args)


def _norm(trace_id: str) -> str:
    return trace_id.replace("-", "").strip().lower()


class Printer:
    """Renders records with a console formatter, tagging lines with their trace when needed.

    While the log has shown one trace only, lines are printed bare. Once a second trace appears,
    every line starts with a ``[tag]`` of its trace, coloured by trace (the formatter's
    :attr:`~chainsink.formatters.ConsoleFormatter.tags` write them, as for the live console).
    At the start, output is held back (up to :data:`HOLD_LIMIT` records, until the reader
    catches up) so that a log of many traces is tagged from its first line.
    """

    def __init__(self, out: IO[str], formatter: ConsoleFormatter, *, kinds: set[str],
                 trace: str | None) -> None:
        from chainsink.read import event_from_record

        self._event = event_from_record
        self.out = out
        self.formatter = formatter
        self._one_line = formatter.style == "line"  # the line style leaves line ends to us
        self.tags = formatter.tags  # turned on here, by this log's rule
        self.kinds = kinds
        self.trace = _norm(trace) if trace else None
        self.shown = 0
        self.unrendered = 0
        self._first: str | None = None
        self._held: list[tuple[str, str]] | None = []

    def add(self, rec: dict[str, Any]) -> None:
        """Render one record (if it passes the filters)."""
        if self.kinds and rec.get("event") not in self.kinds:
            return
        trace = str(rec.get("trace_id") or rec.get("run_id") or "")
        if self.trace is not None:
            key = _norm(trace)
            if not (key.startswith(self.trace) or key.endswith(self.trace)):
                return
        try:
            text = self.formatter(self._event(rec))
        except Exception:  # noqa: BLE001 - a malformed record must not stop the tail
            self.unrendered += 1
            return
        if not text:
            return
        if self._one_line:
            text += "\n"
        self.shown += 1
        if self._first is None:
            self._first = trace
        elif not self.tags.on and trace != self._first:
            self.tags.on = True
            self.release()
        if self._held is not None:
            self._held.append((text, trace))
            if len(self._held) >= HOLD_LIMIT:
                self.release()
            return
        self.out.write(self.tags.apply(text, trace))

    def release(self) -> None:
        """Print what was held back (the reader has caught up, or a second trace appeared)."""
        held, self._held = self._held, None
        for text, trace in held or ():
            self.out.write(self.tags.apply(text, trace))

    def finish(self) -> None:
        """Print anything held back and end the last line."""
        self.release()
        self.out.write(self.tags.end())
        if self.unrendered:
            say(f"{self.unrendered} records could not be rendered and were skipped")


def run(args: argparse.Namespace) -> int:
    """Run ``chainsink tail``; return the exit code."""
    from chainsink.cli._inputs import KIND_PROBLEMS, LineReport, open_inputs, records
    from chainsink.formatters import ConsoleFormatter, color_enabled

    ansi = not args.no_color and color_enabled(sys.stdout)
    formatter = ConsoleFormatter(args.style, ansi=ansi, like="stdout")
    printer = Printer(sys.stdout, formatter, kinds=args.kinds, trace=args.trace)
    inputs = open_inputs(args.files)
    usable = 0
    followers: list[Follower] = []
    try:
        for inp in inputs:
            follow = args.follow and inp.rereadable  # stdin and .gz files are read once
            if inp.kind not in (("jsonl", "empty") if follow else ("jsonl",)):
                say(f"{inp.name}: {KIND_PROBLEMS[inp.kind]}")
                inp.close()
                continue
            if follow:
                followers.append(_follower(inp.arg, inp.stream, inp.name))
                continue
            report = LineReport(inp.name)
            for rec in records(inp, report):
                printer.add(rec)
            usable += report.done()
            inp.close()
        if not followers:
            printer.finish()
            sys.stdout.flush()
            if usable and not printer.shown and (args.trace or args.kinds):
                say("no records matched the filters")
            return EXIT_OK if usable else EXIT_NO_INPUT
        _follow(followers, printer)
    finally:
        for follower in followers:
            follower.close()
    return EXIT_OK  # not reached: following ends with Ctrl-C


def _follower(path: str, stream: IO[bytes], name: str) -> Follower:
    """A follower of one input that warns at once of each bad line, and of a truncation."""
    from chainsink.cli._inputs import LineReport
    from chainsink.read import Follower

    return Follower(path, stream, name=name, on_error=LineReport(name, hold=False),
                    on_truncate=lambda: say(f"{name}: truncated; reading it again from the start"))


def _follow(followers: list[Follower], printer: Printer) -> None:
    from chainsink.read import POLL_INTERVAL

    while True:
        got = False
        for follower in followers:
            for rec in follower.records():
                got = True
                printer.add(rec)
        printer.release()  # caught up: whatever was held back is shown now
        sys.stdout.flush()
        if not got:
            time.sleep(POLL_INTERVAL)
