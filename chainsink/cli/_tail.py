"""``chainsink tail``: a JSONL log shown as the console would have shown it, optionally followed."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from typing import IO, Any

from chainsink._schema import EVENT_KINDS
from chainsink.cli._inputs import (
    KIND_PROBLEMS,
    STDIN,
    Input,
    LineReport,
    open_inputs,
    records,
    say,
)
from chainsink.formatters import (
    ANSI,
    PLAIN,
    ConsoleFormatter,
    Styles,
    color_enabled,
    inert,
)
from chainsink.read import MAX_LINE_BYTES, BadLine, event_from_record, iter_lines, parse_record
from chainsink.report._trace import short_id

#: How often a followed file is checked for new lines, rotation and truncation, in seconds.
POLL_INTERVAL = 0.2
#: Records held back at start while deciding whether lines need trace tags.
HOLD_LIMIT = 2000
#: Bytes of a followed file's start, and of what was read last, checked on every poll: when
#: they changed, the file was rewritten in place (even to the same size or longer).
_HEAD_BYTES = 4096
_BEHIND_BYTES = 256
#: Colours of the trace tags (never red: red means an error).
_TAG_COLORS = ("\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m", "\033[96m",
               "\033[93m", "\033[95m")


def add_parser(commands: Any) -> None:
    """Register ``tail`` on the CLI's subcommand parsers."""
    p = commands.add_parser(
        "tail", help="show a JSONL log as the console would have shown it",
        description="Show a JSONL log as the console would have shown it. When records of "
                    "several traces appear, each line starts with a [tag]: the last 8 hex "
                    "digits of its trace id.")
    p.add_argument("files", nargs="+", metavar="FILE", help="JSONL log(s); - for stdin")
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
    p.set_defaults(run=run, check=check, parser=p)


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors the parser cannot see (exit 2)."""
    kinds = {k.strip() for value in args.event for k in value.split(",") if k.strip()}
    unknown = sorted(kinds - set(EVENT_KINDS))
    if unknown:
        parser.error(f"unknown --event {', '.join(unknown)} (choose from {', '.join(EVENT_KINDS)})")
    args.kinds = kinds
    if args.trace is not None and not _norm(args.trace):
        parser.error("--trace needs part of a trace id")
    if args.files.count(STDIN) > 1:
        parser.error("stdin (-) can be read only once")


def _norm(trace_id: str) -> str:
    return trace_id.replace("-", "").strip().lower()


class Printer:
    """Renders records with a console formatter, tagging lines with their trace when needed.

    While the log has shown one trace only, lines are printed bare. Once a second trace appears,
    every line starts with a ``[tag]`` of its trace (coloured by trace). At the start, output is
    held back (up to :data:`HOLD_LIMIT` records, until the reader catches up) so that a log of
    many traces is tagged from its first line.
    """

    def __init__(self, out: IO[str], formatter: ConsoleFormatter, styles: Styles, *,
                 kinds: set[str], trace: str | None) -> None:
        self.out = out
        self.formatter = formatter
        self._one_line = formatter.style == "line"  # the line style leaves line ends to us
        self.styles = styles
        self.kinds = kinds
        self.trace = _norm(trace) if trace else None
        self.shown = 0
        self.unrendered = 0
        self._first: str | None = None
        self._multi = False
        self._held: list[tuple[str, str]] | None = []
        self._line_start = True
        self._last: str | None = None

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
            text = self.formatter(event_from_record(rec))
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
        elif not self._multi and trace != self._first:
            self._multi = True
            self.release()
        if self._held is not None:
            self._held.append((text, trace))
            if len(self._held) >= HOLD_LIMIT:
                self.release()
            return
        self._write(text, trace)

    def release(self) -> None:
        """Print what was held back (the reader has caught up, or a second trace appeared)."""
        held, self._held = self._held, None
        for text, trace in held or ():
            self._write(text, trace)

    def _write(self, text: str, trace: str) -> None:
        if not self._multi:
            self.out.write(text)
            self._line_start = text.endswith("\n")
            return
        if not self._line_start and trace != self._last:
            self.out.write("\n")  # classic text may stop mid-line; another trace starts anew
            self._line_start = True
        self._last = trace
        tag = self._tag(trace)
        parts = text.split("\n")
        for i, part in enumerate(parts):
            if i:
                self.out.write("\n")
                self._line_start = True
            if part:
                if self._line_start:
                    self.out.write(tag)
                self.out.write(part)
                self._line_start = False

    def _tag(self, trace: str) -> str:
        tag = inert(short_id(trace))  # a trace id from the log is data, like the rest of it
        try:
            color = _TAG_COLORS[int(tag, 16) % len(_TAG_COLORS)]
        except ValueError:
            color = _TAG_COLORS[sum(map(ord, tag)) % len(_TAG_COLORS)]
        return self.styles.wrap(color if self.styles.enabled else "", f"[{tag}]") + " "

    def finish(self) -> None:
        """Print anything held back and end the last line."""
        self.release()
        if not self._line_start:
            self.out.write("\n")
            self._line_start = True
        if self.unrendered:
            say(f"{self.unrendered} records could not be rendered and were skipped")


class Follower:
    """Reads one file's complete lines as they are appended, like ``tail -F``.

    A half-written last line waits for its end. When the path is replaced (rotation), the old
    file is read to its end and the new one from its start; when the file was truncated and
    written again (it is now shorter than what was read, or its first bytes or the bytes last
    read changed, even if all that happened between two polls), it is read again from its
    start.
    """

    def __init__(self, inp: Input, report: LineReport) -> None:
        self.path = inp.arg
        self.name = inp.name
        self.stream: IO[bytes] | None = inp.stream
        self.report = report
        self.ident = self._ident(inp.stream)
        self.lineno = 0
        self.partial = b""
        self._head = b""  # the file's first bytes, as read
        self._head_whole = True  # False once a skipped over-long line left a gap in _head
        self._behind = b""  # the last bytes read

    @staticmethod
    def _ident(stream: IO[bytes]) -> tuple[int, int]:
        st = os.fstat(stream.fileno())
        return st.st_dev, st.st_ino

    def poll(self) -> Iterator[tuple[int, bytes]]:
        """Yield the complete lines appended since the last poll, with their line numbers."""
        if self.stream is not None and self._rewritten(self.stream):
            say(f"{self.name}: truncated; reading it again from the start")
            self.stream.seek(0)
            self._restart()
        yield from self._drain()
        try:
            st = os.stat(self.path)
        except OSError:  # renamed away and not yet re-created: keep the old file
            return
        if self.stream is None:
            return
        if (st.st_dev, st.st_ino) != self.ident:
            yield from self._drain()
            if self.partial:
                self.report(BadLine(self.name, self.lineno + 1, "partial last line"))
            self.stream.close()
            self.stream = None
            self._restart()
            yield from self._drain()  # the new file, from its start

    def _restart(self) -> None:
        self.lineno, self.partial = 0, b""
        self._head, self._head_whole, self._behind = b"", True, b""

    def _rewritten(self, stream: IO[bytes]) -> bool:
        """Whether the open file no longer holds what was read from it."""
        try:
            fd = stream.fileno()
            pos = stream.tell()
            if os.fstat(fd).st_size < pos:
                return True
            behind = len(self._behind)
            return (os.pread(fd, len(self._head), 0) != self._head
                    or os.pread(fd, behind, pos - behind) != self._behind)
        except OSError:  # cannot tell: keep reading where we are
            return False

    def _saw(self, chunk: bytes | None) -> None:
        """Remember the start of the file and the last bytes read (None: bytes skipped)."""
        if chunk is None:
            self._head_whole, self._behind = False, b""
            return
        if self._head_whole and len(self._head) < _HEAD_BYTES:
            self._head += chunk[:_HEAD_BYTES - len(self._head)]
        tail = chunk[-_BEHIND_BYTES:]
        self._behind = tail if len(tail) == _BEHIND_BYTES else (self._behind + tail)[
            -_BEHIND_BYTES:]

    def _drain(self) -> Iterator[tuple[int, bytes]]:
        if self.stream is None:
            try:
                self.stream = open(self.path, "rb")  # noqa: SIM115 - closed on rotation/exit
            except OSError:
                return
            self.ident = self._ident(self.stream)
        for _, chunk, complete, problem in iter_lines(self.stream):
            self._saw(chunk)
            if chunk is None:
                self.lineno += 1
                self.partial = b""
                self.report(BadLine(self.name, self.lineno, problem or "unreadable"))
                continue
            if not complete:
                self.partial += chunk
                if len(self.partial) > MAX_LINE_BYTES:
                    self.lineno += 1
                    self.report(BadLine(self.name, self.lineno,
                                        f"line longer than {MAX_LINE_BYTES} bytes"))
                    self.partial = b""
                return
            self.lineno += 1
            line = self.partial + chunk if self.partial else chunk
            self.partial = b""
            yield self.lineno, line

    def close(self) -> None:
        """Close the file."""
        if self.stream is not None:
            self.stream.close()


def run(args: argparse.Namespace) -> int:
    """Run ``chainsink tail``; return the exit code."""
    ansi = not args.no_color and color_enabled(sys.stdout)
    formatter = ConsoleFormatter(args.style, ansi=ansi, like="stdout")
    printer = Printer(sys.stdout, formatter, ANSI if ansi else PLAIN, kinds=args.kinds,
                      trace=args.trace)
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
                followers.append(Follower(inp, LineReport(inp.name, hold=False)))
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
            return 0 if usable else 1
        _follow(followers, printer)
    finally:
        for follower in followers:
            follower.close()
    return 0  # not reached: following ends with Ctrl-C


def _follow(followers: list[Follower], printer: Printer) -> None:
    while True:
        got = False
        for follower in followers:
            for lineno, line in follower.poll():
                got = True
                if not line.strip():
                    continue
                try:
                    rec = parse_record(line)
                except ValueError as exc:
                    follower.report(BadLine(follower.name, lineno, str(exc)))
                    continue
                printer.add(rec)
        printer.release()  # caught up: whatever was held back is shown now
        sys.stdout.flush()
        if not got:
            time.sleep(POLL_INTERVAL)
