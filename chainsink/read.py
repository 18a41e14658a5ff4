"""Reading chainsink's JSONL logs back: lines, records, events, and files still being written.

The reading side never imports LangChain. Its layers, each usable alone:

- :func:`open_log` opens a log, plain or gzip-compressed (a rotated ``app.jsonl.1.gz``), and
  :func:`iter_lines` reads its lines, never loading a line longer than :data:`MAX_LINE_BYTES`;
- :func:`parse_record` turns one line into a record (a dict, keys as the JSONL formatter
  writes them), or says in a few words why the line is not one;
- :func:`read_events` does both for a whole log, skipping (and reporting, as a
  :class:`BadLine`) what is not a record;
- :func:`event_from_record` rebuilds an :class:`~chainsink.Event` from a record, so any
  formatter can render a log again;
- :class:`Follower` and :func:`follow` read a file as it grows, like ``tail -F`` (across
  rotation and truncation).

    >>> from chainsink.read import event_from_record, read_events
    >>> for rec in read_events("app.jsonl"):  # doctest: +SKIP
    ...     print(event_from_record(rec).name, rec.get("duration_ms"))

The record's keys are :mod:`chainsink._schema`'s: a key added to :class:`~chainsink.Event`
is read back here with no change to this module.
"""

from __future__ import annotations

import copy
import dataclasses
import gzip
import io
import os
import sys
import time
import typing
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any
from uuid import UUID

import orjson

from chainsink._schema import HEAD_KEYS, RUN_KEY_DEFAULTS, RUN_KEYS, Event, parse_time

__all__ = [
    "BadLine",
    "Follower",
    "GZIP_MAGIC",
    "MAX_LINE_BYTES",
    "POLL_INTERVAL",
    "REPORT_LIMIT",
    "event_from_record",
    "follow",
    "iter_lines",
    "open_log",
    "parse_record",
    "read_events",
    "ungzip",
]

#: Lines longer than this are skipped (and reported) instead of loaded into memory.
MAX_LINE_BYTES = 64 * 1024 * 1024
#: How many bad lines per file the default reporter prints before only counting them.
REPORT_LIMIT = 10
#: The first bytes of gzip data (a rotated log compressed by ``RotatingFileCallbackHandler``).
GZIP_MAGIC = b"\x1f\x8b"
#: How often :func:`follow` checks a file for new lines, rotation and truncation, in seconds.
POLL_INTERVAL = 0.2

#: Bytes of a followed file's start, and of what was read last, checked on every poll: when
#: they changed, the file was rewritten in place (even to the same size or longer).
_HEAD_BYTES = 4096
_BEHIND_BYTES = 256


@dataclasses.dataclass(frozen=True)
class BadLine:
    """A line of a log that is not a chainsink record, and why.

    Attributes:
        path: The log's name (``<stream>`` for a stream without one).
        lineno: The line's number, from 1.
        reason: A few words: ``not valid JSON (...)``, ``partial last line``, ...
    """

    path: str
    lineno: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.lineno}: {self.reason}"


def parse_record(line: bytes | str) -> dict[str, Any]:
    """Parse one JSONL line into a record.

    A UTF-8 byte order mark before the record (editors and Windows tools write one at the
    start of a file) is an encoding mark, not data: it is ignored.

    Raises:
        ValueError: With a short reason when the line is not JSON or not a chainsink record
            (a JSON object with a string ``event`` and a ``run_id``).
    """
    if isinstance(line, bytes):
        line = line.removeprefix(b"\xef\xbb\xbf")
    else:
        line = line.removeprefix("\ufeff")
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({str(exc).split(':')[0]})") from None
    if not isinstance(rec, dict):
        raise ValueError(f"not a JSON object but {type(rec).__name__}")
    if not isinstance(rec.get("event"), str) or "run_id" not in rec:
        raise ValueError("not a chainsink record (no 'event' or 'run_id')")
    return rec


class _StderrReporter:
    """Prints the first few bad lines of each file, then a count of the rest."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, bad: BadLine) -> None:
        self.count += 1
        if self.count <= REPORT_LIMIT:
            _say(f"skipped {bad}")

    def done(self, path: str) -> None:
        if self.count > REPORT_LIMIT:
            _say(f"{path}: {self.count - REPORT_LIMIT} more bad lines skipped")


def _say(message: str) -> None:
    print(f"chainsink: {message}", file=sys.stderr)


def iter_lines(stream: IO[bytes], *, max_bytes: int = MAX_LINE_BYTES
               ) -> Iterator[tuple[int, bytes | None, bool, str | None]]:
    """Yield ``(lineno, line, complete, problem)`` for each line of a binary stream.

    ``complete`` is False for a last line with no newline (perhaps still being written);
    ``line`` is None and ``problem`` says why when the line was too long to load (the rest of
    it is read past, never held in memory).
    """
    lineno = 0
    while True:
        chunk = stream.readline(max_bytes + 1)
        if not chunk:
            return
        lineno += 1
        if len(chunk) > max_bytes and not chunk.endswith(b"\n"):
            while chunk and not chunk.endswith(b"\n"):  # skip the rest of the huge line
                chunk = stream.readline(1 << 20)
            yield lineno, None, True, f"line longer than {max_bytes} bytes"
            continue
        complete = chunk.endswith(b"\n")
        yield lineno, chunk, complete, None


class _Gunzipped(io.BufferedReader):
    """A buffered reader of a gzip stream's decompressed bytes that closes the stream too."""

    def __init__(self, stream: IO[bytes], buffer_size: int) -> None:
        unpacked = gzip.GzipFile(fileobj=stream, mode="rb")
        super().__init__(unpacked, buffer_size)
        self._compressed = stream

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._compressed.close()


def ungzip(stream: IO[bytes], *, buffer_size: int = io.DEFAULT_BUFFER_SIZE) -> IO[bytes]:
    """``stream`` itself, or a reader of its decompressed bytes when it holds gzip data.

    Gzip data is recognised by its first bytes (:data:`GZIP_MAGIC`), whatever the file is
    called. The stream must be peekable (an ``open(path, "rb")`` file or ``sys.stdin.buffer``)
    and at the start of the data. Closing the reader closes ``stream`` too.

    Raises:
        OSError: The first bytes could not be read.
    """
    if stream.peek(2)[:2] != GZIP_MAGIC:  # type: ignore[attr-defined]
        return stream
    return _Gunzipped(stream, buffer_size)


def open_log(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open a log to read its lines: a plain file, a rotated one (``app.jsonl.1``), or a
    gzip-compressed one (``app.jsonl.1.gz``, decompressed as it is read).

    Raises:
        OSError: If the file cannot be opened (missing, a directory, no permission).
    """
    stream = open(path, "rb")  # noqa: SIM115 - returned, the caller closes it
    try:
        return ungzip(stream)
    except BaseException:
        stream.close()
        raise


def read_events(path: str | os.PathLike[str] | IO[bytes], *,
                on_error: Callable[[BadLine], None] | None = None) -> Iterator[dict[str, Any]]:
    """Yield the records of a chainsink JSONL log, one dict per line.

    A corrupt line, a line that is not a chainsink record, an over-long line and a partial last
    line (a writer still busy) are skipped, not fatal: each goes to ``on_error`` as a
    :class:`BadLine`; by default the first few are printed on stderr.

    Args:
        path: The log file (plain, rotated or gzip-compressed: see :func:`open_log`), or a
            binary stream read as it is (e.g. ``sys.stdin.buffer``).
        on_error: Called with each skipped line.

    Raises:
        OSError: If the file cannot be opened (missing, a directory, no permission).
    """
    reporter = _StderrReporter() if on_error is None else None
    report = on_error if on_error is not None else reporter
    assert report is not None
    if isinstance(path, (str, os.PathLike)):
        name = os.fspath(path)
        stream = open_log(name)
        owned = True
    else:
        name, stream, owned = getattr(path, "name", "<stream>"), path, False
    lineno = 0
    try:
        lines = iter_lines(stream)
        while True:
            try:
                lineno, line, complete, problem = next(lines)
            except StopIteration:
                break
            except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                # a truncated or corrupt .gz: what came before it stands
                report(BadLine(str(name), lineno + 1,
                               f"compressed data ends early or is corrupt ({exc}); "
                               "read stopped here"))
                break
            if line is None:
                report(BadLine(str(name), lineno, problem or "unreadable"))
                continue
            if not line.strip():
                continue
            try:
                yield parse_record(line)
            except ValueError as exc:
                reason = "partial last line" if not complete else str(exc)
                report(BadLine(str(name), lineno, reason))
    finally:
        if owned:
            stream.close()
        if reporter is not None:
            reporter.done(str(name))


# -- records back to events -----------------------------------------------------------------

#: A run id for a record without a usable one.
_NO_ID = UUID(int=0)
#: An integer run key (the depth) is believed below this; a bigger one (a hand-edited log)
#: would indent a console without end.
_MAX_INT = 1000


def _as_uuid(value: Any) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(str(value))
    except ValueError:
        return None


_Reader = Callable[[Any, dict[str, Any]], Any]


def _key_reader(key: str, hint: Any) -> _Reader:
    """How a record's run key ``key`` is read, by its type on :class:`Event` (``hint``).

    A value of the wrong type gets the key's default (:data:`RUN_KEY_DEFAULTS`); a missing
    id (with no default) is the run's own id, and the run's is all zeros.
    """
    args = typing.get_args(hint)
    optional = type(None) in args
    kind = next((a for a in args if a is not type(None)), hint) if optional else hint
    kind = typing.get_origin(kind) or kind
    default = RUN_KEY_DEFAULTS.get(key)

    if kind is UUID:
        if optional or key in RUN_KEY_DEFAULTS:
            return lambda value, _: _as_uuid(value) or default
        return lambda value, run: _as_uuid(value) or run.get("run_id") or _NO_ID
    if kind is int:
        return lambda value, _: value if isinstance(value, int) and 0 <= value < _MAX_INT \
            else default
    if kind is str:
        return lambda value, _: str(value or default)
    if kind in (list, dict):
        return lambda value, _: value if isinstance(value, kind) else copy.copy(default)
    return lambda value, _: copy.copy(default) if value is None else value


_HINTS = typing.get_type_hints(Event)
_KEY_READERS: tuple[tuple[str, _Reader], ...] = tuple(
    (key, _key_reader(key, _HINTS[key])) for key in RUN_KEYS)
_HEAD = frozenset(HEAD_KEYS)


def event_from_record(rec: dict[str, Any]) -> Event:
    """Rebuild an :class:`~chainsink.Event` from a JSONL record, so any formatter can render it.

    Values stay as JSON (messages are dicts); the console formatters accept both forms. A
    missing or malformed run key gets a neutral value instead of failing: the default the
    schema gives it (``name`` ``"<unknown>"``, ``depth`` 0, ...), an all-zero ``run_id``, a
    ``trace_id`` equal to the run's id; an unreadable ``ts`` is 0.0 (a ``ts`` without an
    offset is UTC). Every key after the run keys goes to :attr:`~chainsink.Event.data`.
    """
    run: dict[str, Any] = {}
    for key, read in _KEY_READERS:
        run[key] = read(rec.get(key), run)
    when = parse_time(rec.get("ts"))
    return Event(event=str(rec.get("event")), ts=when.timestamp() if when is not None else 0.0,
                 data={k: v for k, v in rec.items() if k not in _HEAD}, **run)


# -- following a growing file -----------------------------------------------------------------


def _ident(stream: IO[bytes]) -> tuple[int, int]:
    st = os.fstat(stream.fileno())
    return st.st_dev, st.st_ino


class Follower:
    """Reads one file's complete lines as they are appended, like ``tail -F``.

    The file is read from its start. A half-written last line waits for its end. When the
    path is replaced (rotation), the old file is read to its end and the new one from its
    start; when the file was truncated and written again (it is now shorter than what was
    read, or its first bytes or the bytes last read changed, even if all that happened between
    two polls), it is read again from its start.

    Args:
        path: The file to follow (a plain file: a ``.gz`` file does not grow).
        stream: The file already open for reading at its start (else ``path`` is opened).
        name: The file's name in :class:`BadLine` reports (default: ``path``).
        on_error: Called with each bad line: an over-long one, or a partial last line left in
            a file rotated away (by default the first few are printed on stderr).
        on_truncate: Called when the file was truncated or rewritten, before it is read again
            from the start (by default a line on stderr).

    Raises:
        OSError: If ``path`` cannot be opened.
    """

    def __init__(self, path: str | os.PathLike[str], stream: IO[bytes] | None = None, *,
                 name: str | None = None, on_error: Callable[[BadLine], None] | None = None,
                 on_truncate: Callable[[], None] | None = None) -> None:
        self.path = os.fspath(path)
        self.name = self.path if name is None else name
        if stream is None:
            stream = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        self.stream: IO[bytes] | None = stream
        self.on_error: Callable[[BadLine], None] = \
            _StderrReporter() if on_error is None else on_error
        self.on_truncate = on_truncate if on_truncate is not None else self._truncated
        self.ident = _ident(self.stream)
        self.lineno = 0
        self.partial = b""
        self._head = b""  # the file's first bytes, as read
        self._head_whole = True  # False once a skipped over-long line left a gap in _head
        self._behind = b""  # the last bytes read

    def _truncated(self) -> None:
        _say(f"{self.name}: truncated; reading it again from the start")

    def poll(self) -> Iterator[tuple[int, bytes]]:
        """Yield the complete lines appended since the last poll, with their line numbers."""
        if self.stream is not None and self._rewritten(self.stream):
            self.on_truncate()
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
                self.on_error(BadLine(self.name, self.lineno + 1, "partial last line"))
            self.stream.close()
            self.stream = None
            self._restart()
            yield from self._drain()  # the new file, from its start

    def records(self) -> Iterator[dict[str, Any]]:
        """Yield the records appended since the last poll; lines that are not records go to
        ``on_error``."""
        for lineno, line in self.poll():
            if not line.strip():
                continue
            try:
                yield parse_record(line)
            except ValueError as exc:
                self.on_error(BadLine(self.name, lineno, str(exc)))

    def close(self) -> None:
        """Close the file."""
        if self.stream is not None:
            self.stream.close()

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
                self.stream = open(self.path, "rb")  # noqa: SIM115 - closed on rotation/close
            except OSError:
                return
            self.ident = _ident(self.stream)
        for _, chunk, complete, problem in iter_lines(self.stream):
            self._saw(chunk)
            if chunk is None:
                self.lineno += 1
                self.partial = b""
                self.on_error(BadLine(self.name, self.lineno, problem or "unreadable"))
                continue
            if not complete:
                self.partial += chunk
                if len(self.partial) > MAX_LINE_BYTES:
                    self.lineno += 1
                    self.on_error(BadLine(self.name, self.lineno,
                                          f"line longer than {MAX_LINE_BYTES} bytes"))
                    self.partial = b""
                return
            self.lineno += 1
            line = self.partial + chunk if self.partial else chunk
            self.partial = b""
            yield self.lineno, line


def follow(path: str | os.PathLike[str], *, on_error: Callable[[BadLine], None] | None = None,
           interval: float = POLL_INTERVAL) -> Iterator[dict[str, Any]]:
    """Yield the records of a log from its start, then each one appended, without end.

    Rotation and truncation are followed as :class:`Follower` does; stop by leaving the loop
    (the file is closed then).

        >>> for rec in follow("app.jsonl"):  # doctest: +SKIP
        ...     if rec["event"].endswith("_error"):
        ...         print(rec["name"], rec["error"])

    Args:
        path: The log (a plain file).
        on_error: Called with each line that is not a record (by default the first few are
            printed on stderr).
        interval: Seconds to wait when nothing new was written.

    Raises:
        OSError: If the file cannot be opened.
    """
    follower = Follower(path, on_error=on_error)
    try:
        while True:
            got = False
            for rec in follower.records():
                got = True
                yield rec
            if not got:
                time.sleep(interval)
    finally:
        follower.close()
