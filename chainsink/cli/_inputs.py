"""The CLI's inputs: opened, recognised and read as its promises say.

Every problem with an input is one line on stderr that starts with the input's name; a bad
line inside a log, and a record with values a report cannot use (read without them), is a
warning naming the file and line (capped per file, as :func:`chainsink.read_events` does),
printed only once the file has proved to be a log at all, so a file with nothing usable in it
gets exactly one line.

Several inputs are read oldest first (by their first record's time, then by rotation suffix:
``app.jsonl.2`` before ``app.jsonl.1`` before ``app.jsonl``), whatever order they were named
in, so the same logs give the same answer; the lock file of a rotating log that the same shell
glob matched (``app.jsonl.lock``) is left out.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import dataclasses
import os
import re
import stat
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import IO, Any, cast

import orjson

from chainsink.cli._common import STDIN, InputError, say
from chainsink.read import REPORT_LIMIT, BadLine, read_events, ungzip
from chainsink.report import clean_record, utc_time

#: Bytes looked at to tell a JSONL log from a text log or binary data.
SNIFF_BYTES = 64 * 1024
#: Bytes of a regular file compared before reading it a second time.
_HEAD_BYTES = 4096
#: Inputs smaller than this convert too fast to need a progress bar.
PROGRESS_MIN_BYTES = 4 * 1024 * 1024
#: The most of one text log a report shows (its end: the latest lines).
TEXT_LIMIT = 16 * 1024 * 1024
_TEXT_CHUNK = 256 * 1024
#: What each kind of unusable input is called.
KIND_PROBLEMS = {
    "empty": "empty, no records",
    "binary": "binary data, not a log",
    "text": "a text log, not JSONL (chainsink html renders text logs)",
}


@dataclasses.dataclass
class Input:
    """One opened input.

    Attributes:
        arg: The name given on the command line (``-`` for stdin).
        name: The name used in messages (``<stdin>`` for stdin).
        stream: The open binary stream.
        kind: ``"jsonl"``, ``"text"`` (a text or ANSI log), ``"empty"`` or ``"binary"``.
        size: The size in bytes of a regular file, else None.
        ident: ``(st_dev, st_ino)`` of what was opened (stdin too), to tell it from an output.
        first_ts: The time of the first record in its first bytes, if any (to order inputs).
        head: The first bytes of a regular file, to see whether it changed between two reads.
        consumed: The bytes the last read of it took (a second read takes no more).
    """

    arg: str
    name: str
    stream: IO[bytes]
    kind: str
    size: int | None
    ident: tuple[int, int] | None = None
    first_ts: datetime | None = None
    head: bytes = b""
    consumed: int | None = None

    @property
    def rereadable(self) -> bool:
        """Whether the input is a regular file that can be read a second time."""
        return self.size is not None and self.arg != STDIN

    def close(self) -> None:
        """Close the stream (stdin stays open)."""
        if self.arg != STDIN:
            self.stream.close()


def open_input(arg: str) -> Input:
    """Open ``arg`` (a path, or ``-`` for stdin) and recognise what it holds.

    Raises:
        InputError: The file is missing, a directory, or cannot be read.
    """
    if arg == STDIN:
        stream: IO[bytes] = open(sys.stdin.fileno(), "rb", buffering=SNIFF_BYTES,  # noqa: SIM115
                                 closefd=False)
        name, size = "<stdin>", None
    else:
        name = arg
        try:
            stream = open(arg, "rb", buffering=SNIFF_BYTES)  # noqa: SIM115 - Input.close
        except FileNotFoundError:
            raise InputError(f"{arg}: no such file") from None
        except IsADirectoryError:
            raise InputError(f"{arg}: is a directory, not a log file") from None
        except PermissionError:
            raise InputError(f"{arg}: permission denied") from None
        except OSError as exc:
            raise InputError(f"{arg}: cannot open ({exc.strerror or exc})") from None
        st = os.fstat(stream.fileno())
        if stat.S_ISDIR(st.st_mode):
            stream.close()
            raise InputError(f"{arg}: is a directory, not a log file")
        size = st.st_size if stat.S_ISREG(st.st_mode) else None
    ident = _ident(stream)
    try:
        head = raw_head = stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]  # type: ignore[attr-defined]
        unpacked = ungzip(stream, buffer_size=SNIFF_BYTES)  # a rotated log, compressed
        if unpacked is not stream:
            stream = unpacked
            size = None  # read once, as a stream
            head = stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]  # type: ignore[attr-defined]
    except (OSError, EOFError) as exc:
        stream.close()
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise InputError(f"{name}: cannot read ({why})") from None
    kind = sniff(head)
    return Input(arg, name, stream, kind, size, ident, _first_ts(head) if kind == "jsonl" else None,
                 raw_head[:_HEAD_BYTES] if size is not None else b"")


def _ident(stream: IO[bytes]) -> tuple[int, int] | None:
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def open_inputs(args: Iterable[str]) -> list[Input]:
    """Open every input, oldest first; report each that cannot be opened (one line) and leave
    it out, and leave out the lock file of a rotating log named with it."""
    names = list(args)
    inputs = []
    for arg in names:
        if _lock_file(arg, names):
            continue
        try:
            inputs.append(open_input(arg))
        except InputError as exc:
            say(str(exc))
    return sorted(inputs, key=_oldest_first)


def _lock_file(arg: str, names: list[str]) -> bool:
    """Whether ``arg`` is ``X.lock`` named with ``X`` or its rotated files (``X.1``, ...)."""
    if not arg.endswith(".lock"):
        return False
    log = arg[: -len(".lock")]
    return any(n == log or (n.startswith(log + ".") and n != arg) for n in names)


_ROTATED = re.compile(r"\.(\d{1,9})(?:\.gz)?$")
_NO_TIME = datetime.min


def _oldest_first(inp: Input) -> tuple[bool, datetime, int, str]:
    """Inputs by the time of their first record, then the highest rotation suffix first."""
    found = _ROTATED.search(inp.arg)
    rotated = int(found.group(1)) if found else 0
    return (inp.first_ts is not None, (inp.first_ts or _NO_TIME).replace(tzinfo=None),
            -rotated, inp.arg)


def _first_ts(head: bytes) -> datetime | None:
    """The time of the first record with one in the first bytes of a log."""
    for line in head.split(b"\n", 1000)[:1000]:
        try:
            rec = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(rec, dict) and "run_id" in rec:
            when = utc_time(rec.get("ts"))
            if when is not None:
                return when
    return None


def sniff(head: bytes) -> str:
    """What the first bytes of an input say it is: jsonl, text, empty or binary."""
    head = head.removeprefix(b"\xef\xbb\xbf")  # a byte order mark is no content
    if not head.strip():
        return "empty"
    lines = head.split(b"\n")
    if len(head) >= SNIFF_BYTES:
        lines = lines[:-1]  # the last one may be cut
    for line in lines:  # any JSON line in the sample: a log may open with text (a banner)
        if line.strip():
            try:
                orjson.loads(line)  # JSON lines, even if not chainsink records: reported per line
            except orjson.JSONDecodeError:
                continue
            return "jsonl"
    if b"\x00" in head:
        return "binary"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the sample
            return "binary"
    return "jsonl" if head.lstrip()[:1] == b"{" else "text"


class LineReport:
    """The bad lines and odd records of one input, reported as promised.

    Until the input yields its first record, bad lines are held back (at most
    :data:`~chainsink.read.REPORT_LIMIT`): a file with nothing usable in it gets one line from
    :meth:`done` instead of a warning per line. After that, each bad line or odd record is a
    warning, up to the limit (for both together), then only counted.

    Args:
        name: The input's name, for messages.
        quiet: Report nothing (a second read of the same file).
        hold: Hold bad lines back until the first record (False: warn at once, when following).
    """

    def __init__(self, name: str, *, quiet: bool = False, hold: bool = True) -> None:
        self.name = name
        self.quiet = quiet
        self.hold = hold
        self.good = 0
        self.bad = 0
        self.odd = 0
        self.first: BadLine | None = None
        self._held: list[BadLine] = []
        self._said_bad = 0
        self._said_odd = 0

    def __call__(self, bad: BadLine) -> None:
        """Take one bad line."""
        bad = BadLine(self.name, bad.lineno, bad.reason)
        self.bad += 1
        if self.first is None:
            self.first = bad
        if self.quiet:
            return
        if self.hold and not self.good:
            if len(self._held) < REPORT_LIMIT:
                self._held.append(bad)
        elif self._said_bad + self._said_odd < REPORT_LIMIT:
            self._said_bad += 1
            say(f"skipped {bad}")

    def odd_record(self, lineno: int, problems: Sequence[str]) -> None:
        """Take one record read without some of its values (``problems`` says which)."""
        self.odd += 1
        if not self.quiet and self._said_bad + self._said_odd < REPORT_LIMIT:
            self._said_odd += 1
            say(f"{self.name}:{lineno}: odd record: {'; '.join(problems)}")

    def proven(self) -> None:
        """The input gave its first record: print the bad lines held back."""
        self.good = max(self.good, 1)
        held, self._held = self._held, []
        if not self.quiet:
            for bad in held:
                self._said_bad += 1
                say(f"skipped {bad}")

    def done(self) -> bool:
        """Report the end of the input; return whether it gave any record."""
        if self.good:
            more = []
            if self.bad > self._said_bad:
                more.append(f"{self.bad - self._said_bad} more bad lines skipped")
            if self.odd > self._said_odd:
                more.append(f"{self.odd - self._said_odd} more odd records read in part")
            if more and not self.quiet:
                say(f"{self.name}: {', '.join(more)}")
            return True
        if not self.quiet:
            if self.first is None:
                say(f"{self.name}: {KIND_PROBLEMS['empty']}")
            elif self.bad == 1:
                say(f"{self.name}: no chainsink records (line {self.first.lineno}: "
                    f"{self.first.reason})")
            else:
                say(f"{self.name}: no chainsink records ({self.bad} bad lines; line "
                    f"{self.first.lineno}: {self.first.reason})")
        return False


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal.

    Args:
        label: What is being done (``"chainsink html"``).
        total: The bytes to read (None if unknown, e.g. stdin: then records are counted).
    """

    def __init__(self, label: str, total: int | None) -> None:
        try:
            tty = sys.stderr.isatty()
        except (AttributeError, ValueError):
            tty = False
        self.enabled = tty and (total is None or total >= PROGRESS_MIN_BYTES)
        self.label = label
        self.total = total
        self._next = 0.0
        self._drawn = False

    def update(self, done: int, records: int) -> None:
        """Redraw (at most ten times a second) with ``done`` bytes and ``records`` read."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + 0.1
        if self.total:
            frac = min(done / self.total, 1.0)
            bar = "#" * int(frac * 30)
            line = (f"{self.label}: [{bar:<30}] {frac * 100:3.0f}%  "
                    f"{done / 2**20:,.1f}/{self.total / 2**20:,.1f} MiB")
        else:
            line = f"{self.label}: {records:,} records"
        self._write(f"\r{line}\x1b[K")
        self._drawn = True

    def close(self) -> None:
        """Erase the bar."""
        if self._drawn:
            self._write("\r\x1b[K")
            self._drawn = False

    def _write(self, text: str) -> None:
        try:
            sys.stderr.write(text)
            sys.stderr.flush()
        except (OSError, ValueError):
            self.enabled = False


class _Lines:
    """A binary stream that counts the lines read from it, and may stop after ``limit`` bytes.

    :func:`chainsink.read_events` reads lines with ``readline``; when it yields a record,
    :attr:`lineno` is that record's line.
    """

    def __init__(self, stream: IO[bytes], limit: int | None = None) -> None:
        self._stream = stream
        self.name = getattr(stream, "name", "<stream>")
        self.lineno = 0
        self._left = limit
        self._in_line = False

    def readline(self, size: int | None = -1) -> bytes:
        if self._left is not None:
            if self._left <= 0:
                return b""
            size = self._left if size is None or size < 0 else min(size, self._left)
        chunk = self._stream.readline(-1 if size is None else size)
        if self._left is not None:
            self._left -= len(chunk)
        if chunk:
            if not self._in_line:
                self.lineno += 1
            self._in_line = not chunk.endswith(b"\n")
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def records(inp: Input, report: LineReport, progress: Progress | None = None,
            offset: int = 0, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Yield the records of one input, reporting its bad lines and odd records to ``report``.

    Each record is as :func:`chainsink.report.clean_record` leaves it: values a
    report cannot use are taken out (and reported with the file and line). Call
    ``report.done()`` afterwards. ``offset`` is added to the bytes read for ``progress``
    (a second pass over the inputs); ``limit`` stops after that many bytes.
    """
    n = 0
    stream = inp.stream
    lines = _Lines(stream, limit)
    try:
        for raw in read_events(cast("IO[bytes]", lines), on_error=report):
            n += 1
            if n == 1:
                report.proven()
            rec, problems = clean_record(raw)
            if problems:
                report.odd_record(lines.lineno, problems)
            if progress is not None and not n & 1023:
                progress.update(offset + (stream.tell() if inp.size is not None else 0), n)
            yield rec
    except (OSError, EOFError) as exc:  # a disk error, a cut gzip file
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        say(f"{inp.name}: cannot read further than record {n} ({why})")
    if inp.size is not None:
        with contextlib.suppress(OSError, ValueError):
            inp.consumed = stream.tell()
    report.good = n


def rewind(inp: Input) -> bool:
    """Go back to the start of a regular file, to read it again as it was read the first time.

    The file is read again through the descriptor the first read used, so a log rotated
    (renamed) in between is still the same file; one that was truncated or rewritten in
    between cannot be, and is reported (one line).

    Returns:
        Whether the file can be read again (then read it with ``limit=inp.consumed``).
    """
    stream = inp.stream
    try:
        changed = os.fstat(stream.fileno()).st_size < (inp.consumed or 0)
        stream.seek(0)
        if not changed and inp.head:
            changed = stream.read(len(inp.head)) != inp.head
            stream.seek(0)
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        say(f"{inp.name}: cannot read it again ({why})")
        return False
    if changed:
        say(f"{inp.name}: changed while the report was made (truncated or rewritten); its "
            "traces are counted but not shown in detail")
        return False
    return True


def text_chunks(inp: Input) -> tuple[str | None, Iterator[str]]:
    """A text log as chunks of whole lines, and a note if only its end is kept.

    At most :data:`TEXT_LIMIT` bytes are kept, the last ones. A file is read as the page is
    written; stdin is read now, into at most that many bytes.
    """
    stream = inp.stream
    if inp.size is not None:
        skipped = 0
        if inp.size > TEXT_LIMIT:
            stream.seek(inp.size - TEXT_LIMIT)
            skipped = inp.size - TEXT_LIMIT + len(stream.readline())
        return _skipped_note(skipped), _decoded(_blocks(stream))
    kept: collections.deque[bytes] = collections.deque()
    held = skipped = 0
    for block in _blocks(stream):
        kept.append(block)
        held += len(block)
        while held - len(kept[0]) >= TEXT_LIMIT:
            dropped = kept.popleft()
            held -= len(dropped)
            skipped += len(dropped)
    if skipped and kept:
        cut = kept[0].find(b"\n") + 1  # start at a whole line
        skipped += cut
        kept[0] = kept[0][cut:]
    return _skipped_note(skipped), _decoded(iter(kept))


def _skipped_note(skipped: int) -> str | None:
    if not skipped:
        return None
    return (f"The first {skipped:,} bytes are not shown; this is the last "
            f"{TEXT_LIMIT // 2**20} MiB of the log.")


def _blocks(stream: IO[bytes]) -> Iterator[bytes]:
    while True:
        block = stream.read(_TEXT_CHUNK)
        if not block:
            return
        yield block


def _decoded(blocks: Iterator[bytes]) -> Iterator[str]:
    """UTF-8 text in chunks that end at line ends (so styles rarely straddle two chunks)."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    rest = ""
    for block in blocks:
        text = rest + decoder.decode(block)
        cut = text.rfind("\n") + 1
        if not cut and len(text) < 4 * _TEXT_CHUNK:
            rest = text
            continue
        cut = cut or len(text)
        rest = text[cut:]
        yield text[:cut]
    rest += decoder.decode(b"", final=True)
    if rest:
        yield rest
