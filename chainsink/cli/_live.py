"""The live viewer's index of logs: which traces there are, and where their records lie.

``chainsink serve`` must start at once on a large log directory and stay small however long it
runs, so the index keeps no records. Per trace it keeps the entry the page lists (what
:func:`chainsink.report.trace_view` returns, without its ``rows``) and the places of its
records: a segment (one file, or one generation of a file that was rotated or truncated) and
the byte offset and length of each line, packed in two arrays (12 bytes a record). A trace's
records are read back from those places when it is opened, and when it changed (to make its
list entry again).

One background thread (:meth:`LiveIndex.run`) reads the logs: rotated and compressed files
once, one at a time, each closed when read (a :class:`Segment` opens it again by inode when
a trace of it is read back), live files with :class:`chainsink.read.Follower` (``tail -F``:
rotation and truncation), and a directory's new ``*.jsonl`` files as they appear. Anything
but a regular file is refused (a FIFO is never opened: that would wait for a writer), and
one input that fails is said in one line and left out: the others go on. Every change
bumps a version number; a trace's entry carries the version of its last change (``ver``),
so a page can ask for what changed since the newest it holds (:meth:`LiveIndex.changes`).

Memory is bounded: the traces listed (``max_traces``, the oldest forgotten first), the
records placed per trace (:data:`MAX_TRACE_RECORDS`; of streamed tokens, which the report
does not show, only each model run's first, for its time to first token), the descriptors
held (the followed files, :data:`MAX_DELETED_HELD` generations rotated away from them, and
:data:`MAX_REOPENED_HELD` files opened again), and the summary behind the page's cards (a
:class:`chainsink.report.LogSummary`, bounded by design).
"""

from __future__ import annotations

import array
import collections
import contextlib
import dataclasses
import gzip
import io
import os
import re
import stat
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from chainsink.cli._common import InputError, say
from chainsink.cli._inputs import (
    KIND_PROBLEMS,
    LineReport,
    _lock_file,
    _oldest_first,
    open_input,
)
from chainsink.read import GZIP_MAGIC, POLL_INTERVAL, BadLine, Follower, iter_lines, parse_record
from chainsink.report import LogSummary, clean_record, summarize, trace_view

if TYPE_CHECKING:
    from chainsink.cost import Prices

#: Records placed per trace; later ones are counted as dropped (the report shows 2,000 runs).
MAX_TRACE_RECORDS = 20_000
#: Generations rotated away from a followed file kept open, the newest (if rotation deletes
#: them, their traces can still be opened); older ones are let go, and opened again by inode.
MAX_DELETED_HELD = 8
#: Files opened again to read a trace's records, kept open for the next read (the least
#: recently read closed first): with the followed files and :data:`MAX_DELETED_HELD`, all the
#: descriptors the index holds, however many rotated files it indexed.
MAX_REOPENED_HELD = 8
#: How often directories are looked at for new logs, and open files for deletion, in seconds.
RESCAN_INTERVAL = 1.0
#: How often the entries of changed traces are made again, in seconds.
PUBLISH_INTERVAL = 0.2
#: The time each of those may take, in seconds: while a large log is indexed, the newest
#: traces get their entries first and the rest wait (traces forgotten meanwhile never cost one).
PUBLISH_BUDGET = 0.05
#: A trace that keeps changing gets its entry made again at most this often, in seconds.
REBUILD_INTERVAL = 1.0
#: Lines indexed between two looks at the clock (publishing, stopping).
_BATCH = 500
#: Forgotten trace ids remembered, so a straggling record does not list a trace again.
_FORGOTTEN_MEMORY = 10_000
#: Files remembered as indexed (to find generations rotated away unread) before forgetting
#: those no longer open.
_SEEN_MEMORY = 10_000
_OFFSET_BITS = 40  # a segment's lines are at most 1 TiB in; more than 16 million segments
_OFFSET_MASK = (1 << _OFFSET_BITS) - 1
_ROTATED = re.compile(r"\.\d{1,9}(\.gz)?$|\.gz$")


def log_files(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """The files to read and the directories to watch for ``FILE|DIR ...`` arguments.

    A directory stands for its ``*.jsonl*`` files (its lock files left out, see
    :func:`chainsink.cli._inputs.open_inputs`) and is watched for new ones.
    """
    files: list[str] = []
    dirs: list[str] = []
    for arg in args:
        if os.path.isdir(arg):
            dirs.append(arg)
            files.extend(_dir_logs(arg))
        else:
            files.append(arg)
    unique: dict[str, str] = {}  # a file named twice (itself and its directory) is read once
    for name in files:
        unique.setdefault(os.path.realpath(name), name)
    return list(unique.values()), dirs


def _dir_logs(directory: str) -> list[str]:
    try:
        names = sorted(p.name for p in Path(directory).glob("*.jsonl*") if p.is_file())
    except OSError:
        return []
    return [os.path.join(directory, n) for n in names if not n.endswith(".lock")]


def rotated(path: str) -> bool:
    """Whether ``path`` names a rotated (``app.jsonl.1``) or compressed log: read once."""
    return _ROTATED.search(path) is not None


def trace_key(rec: dict[str, Any]) -> str:
    """The trace a record belongs to, as :class:`chainsink.report.LogSummary` keys it."""
    trace = rec.get("trace_id") or rec.get("run_id")
    if isinstance(trace, str):
        return trace
    return "" if trace is None else str(trace)


class NotRegular(OSError):
    """An input that is not a regular file (a FIFO, socket or device): it cannot be read back
    by offset, and opening a FIFO would wait for a writer."""


def open_regular(path: str) -> int:
    """A descriptor of the regular file ``path``, opened without ever blocking (a FIFO with no
    writer is refused, not waited on).

    Raises:
        NotRegular: ``path`` is not a regular file.
        OSError: It cannot be opened.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegular(0, "not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # no effect on a regular file's reads; tidy for dups
    except BaseException:
        os.close(fd)
        raise
    return fd


class Segment:
    """One generation of one file: its records are read back by offset.

    A segment of a followed file holds a descriptor (``pinned``) while the file may still be
    renamed or deleted by rotation under it; any other segment (a rotated or compressed file,
    or a followed generation that still has a name) holds none, and is opened again by its
    ``(st_dev, st_ino)`` when its records are read: at its name, else in the same directory
    under another (rotation renamed it), so a file replaced meanwhile is never misread. The
    descriptors opened so are kept in a small LRU (:class:`_Held`).

    Attributes:
        name: The file's name when it was indexed (for messages).
        path: Where it was indexed.
        ident: Its ``(st_dev, st_ino)``.
        gz: Whether offsets count decompressed bytes of gzip data.
        fd: The descriptor held (pinned, or reopened and in the LRU), else None.
        pinned: Whether ``fd`` is held for good (until :meth:`unpin` or :meth:`close`).
        gone: The file can no longer be read (deleted, or truncated and written again).
    """

    def __init__(self, name: str, path: str, ident: tuple[int, int], *, gz: bool = False,
                 fd: int | None = None) -> None:
        self.name = name
        self.path = path
        self.ident = ident
        self.gz = gz
        self.fd = fd
        self.pinned = fd is not None
        self.gone = False
        self._lock = threading.Lock()

    def read(self, places: Sequence[tuple[int, int]], held: _Held) -> Iterator[bytes]:
        """The lines at ``(offset, length)`` places (in increasing offset order); ``held``
        keeps a descriptor opened again for the next read."""
        fd = self._descriptor(held)
        if fd is None:
            return
        if not self.gz:
            for offset, length in places:
                yield os.pread(fd, length, offset)
            return
        with self._lock:  # the duplicate shares the file position: one reader at a time
            dup = os.dup(fd)
            os.lseek(dup, 0, os.SEEK_SET)
            with os.fdopen(dup, "rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as unpacked:
                lines = []
                for offset, length in places:
                    unpacked.seek(offset)  # forward only: decompressed once for all places
                    lines.append(unpacked.read(length))
        yield from lines

    def _descriptor(self, held: _Held) -> int | None:
        if self.gone:
            return None
        if self.fd is not None:
            held.touch(self)
            return self.fd
        fd = _find(self.path, self.ident)
        if fd is None:
            self.gone = True
            return None
        self.fd = fd
        held.add(self)
        return fd

    def deleted(self) -> bool:
        """Whether a pinned file no longer has a name (rotation deleted or compressed it)."""
        if self.fd is None:
            return self.gone
        try:
            return os.fstat(self.fd).st_nlink == 0
        except OSError:
            return True

    def release(self) -> None:
        """Close a descriptor that was opened again (it can be opened again later)."""
        if not self.pinned:
            fd, self.fd = self.fd, None
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def unpin(self) -> None:
        """Let go of a pinned descriptor: the file still has a name to be found by."""
        self.pinned = False
        self.release()

    def close(self) -> None:
        """Let the file go for good: its records can no longer be read."""
        self.gone = True
        self.pinned = False
        self.release()


class _Held:
    """The descriptors of segments opened again, the least recently read closed first past
    :data:`MAX_REOPENED_HELD`."""

    def __init__(self) -> None:
        self._lru: collections.OrderedDict[Segment, None] = collections.OrderedDict()

    def touch(self, segment: Segment) -> None:
        if segment in self._lru:
            self._lru.move_to_end(segment)

    def add(self, segment: Segment) -> None:
        self._lru[segment] = None
        while len(self._lru) > MAX_REOPENED_HELD:
            oldest, _ = self._lru.popitem(last=False)
            oldest.release()

    def close(self) -> None:
        while self._lru:
            self._lru.popitem()[0].release()


def _find(path: str, ident: tuple[int, int]) -> int | None:
    """A descriptor of the regular file ``ident`` (``(st_dev, st_ino)``): at ``path``, else
    under another name in its directory (rotation renamed it); None if it is gone.

    Raises:
        OSError: It could not be looked for (no descriptor left, no permission): it may
            still be there, so it is not taken for gone.
    """
    for candidate in _candidates(path, ident[1]):
        try:
            fd = open_regular(candidate)
        except (FileNotFoundError, NotRegular):
            continue
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) == ident:
            return fd
        os.close(fd)
    return None


def _candidates(path: str, inode: int) -> Iterator[str]:
    """``path``, then the names in its directory with that inode."""
    yield path
    try:
        with os.scandir(os.path.dirname(path) or ".") as entries:
            found = [entry.path for entry in entries
                     if entry.inode() == inode and entry.path != path]
    except FileNotFoundError:
        return
    yield from found


@dataclasses.dataclass(eq=False)
class _Trace:
    """One listed trace: its page entry and where its records are."""

    id: str
    segments: list[Segment] = dataclasses.field(default_factory=list)
    places: array.array[int] = dataclasses.field(default_factory=lambda: array.array("Q"))
    lengths: array.array[int] = dataclasses.field(default_factory=lambda: array.array("I"))
    dropped: int = 0
    streamed: set[str] = dataclasses.field(default_factory=set)  # runs whose first token is placed
    entry: dict[str, Any] | None = None
    built: float = 0.0  # when the entry was last made (monotonic)


@dataclasses.dataclass
class _Planned:
    """An input to index: followed from ``stream`` (open at its start), or read once."""

    arg: str
    name: str
    stream: IO[bytes] | None


class _Live:
    """A followed file and the segment its current generation's records go to."""

    def __init__(self, follower: Follower) -> None:
        self.follower = follower
        self.stream: IO[bytes] | None = None
        self.segment: Segment | None = None
        self.truncated = False


class LiveIndex:
    """Traces of logs being written, kept up to date by a background thread.

    Args:
        args: The ``FILE|DIR`` arguments.
        max_traces: Traces listed; past this many the oldest is forgotten (the summary
            still counts it).
        prices: The user's prices, tried before the genai-prices table (None: those of
            ``$CHAINSINK_PRICES``, if set): each entry carries its trace's ``cost``.

    Raises:
        ValueError: ``$CHAINSINK_PRICES`` names bad prices.

    Everything is guarded by :attr:`lock`; :attr:`changed` (a condition on it) is notified
    when the version grows, and when the index stops.
    """

    def __init__(self, args: Sequence[str], *, max_traces: int = 5000,
                 prices: Prices | None = None) -> None:
        self.args = list(args)
        self.max_traces = max_traces
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.version = 0
        self.stopped = False
        self.indexing = True  # until the logs there were at start have been read
        self.summary = LogSummary(max_traces=0, order="recent", prices=prices)
        assert self.summary.pricer is not None
        self.prices = self.summary.pricer.prices  # read once: each entry is priced alike
        self.sources: list[str] = []
        self._traces: dict[str, _Trace] = {}  # in order of first appearance
        self._changes: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._pending: dict[str, None] = {}  # traces whose entry must be made again
        self._next_publish = 0.0
        self._forgotten: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._said_forgetting = False
        self._segments: list[Segment] = []  # those pinned (followed files' generations)
        self._held = _Held()
        self._live: list[_Live] = []
        self._known: set[str] = set()
        # files indexed, and rotated files that were there before a log was followed: a
        # rotated file in neither is a generation written and rotated away between two polls
        self._seen: set[tuple[int, int]] = set()
        self._before: set[tuple[int, int]] = set()
        self._inputs: list[_Planned] = []
        self._files, self._dirs = log_files(self.args)
        self._thread: threading.Thread | None = None

    # -- starting and stopping -----------------------------------------------------------------

    def open(self) -> bool:
        """Look at the inputs (reporting each unusable one); return whether there is anything
        to serve (a usable file, or a directory to watch).

        Each file is opened, recognised and closed again, one at a time, so a directory of
        many rotated logs never holds more than a few descriptors; a followed file stays open
        from here (it is read from this start). Anything but a regular file is refused.
        """
        planned: list[tuple[tuple[Any, ...], _Planned]] = []
        for arg in self._files:
            if _lock_file(arg, self._files):
                continue
            try:
                os.close(open_regular(arg))
            except NotRegular:
                say(f"{arg}: not a regular file (a FIFO, socket or device): serve reads "
                    "files it can read back")
                continue
            except OSError:
                pass  # open_input says why, in the words the other commands use
            try:
                inp = open_input(arg)
            except InputError as exc:
                say(str(exc))
                continue
            if not (inp.kind == "jsonl" or (inp.kind == "empty" and inp.rereadable)):
                say(f"{inp.name}: {KIND_PROBLEMS[inp.kind]}")
                inp.close()
                continue
            self._known.add(os.path.abspath(inp.arg))
            follow = inp.rereadable and not rotated(inp.arg)
            if follow:  # its generations there now are not news later
                self._before |= {ident for _, ident in _generations(inp.arg)}
            else:
                inp.close()
            planned.append((_oldest_first(inp), _Planned(inp.arg, inp.name,
                                                        inp.stream if follow else None)))
        planned.sort(key=lambda item: item[0])
        self._inputs = [plan for _, plan in planned]
        served = {plan.arg for plan in self._inputs} | set(self._dirs)
        self.sources = [arg for arg in self.args if arg in served]  # the refused said already
        return bool(self._inputs or self._dirs)

    def start(self) -> None:
        """Index in a background thread."""
        self._thread = threading.Thread(target=self.run, name="chainsink-index", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop indexing and wake every waiter; close the files."""
        with self.changed:
            self.stopped = True
            self.changed.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        with self.lock:
            for live in self._live:
                live.follower.close()
            for plan in self._inputs:
                if plan.stream is not None:
                    plan.stream.close()
            for segment in self._segments:
                segment.close()
            self._held.close()

    def run(self) -> None:
        """Read the logs there are, then follow them until :meth:`stop`."""
        try:
            while self._inputs:
                if self.stopped:
                    return
                plan = self._inputs.pop(0)
                try:
                    if plan.stream is not None:
                        self._follow(plan.arg, plan.stream, plan.name)
                    else:
                        self._read_once(plan.arg, plan.name)
                except Exception as exc:  # noqa: BLE001 - one input's trouble, said once
                    if plan.stream is not None:
                        plan.stream.close()
                    if not self.stopped:
                        say(f"{plan.name}: not indexed ({_why(exc)})")
            self._follow_all()
            with self.changed:
                self.indexing = False
                self._publish(force=True, budget=None)
            self._loop()
        except Exception as exc:  # noqa: BLE001 - said once; the page keeps what it has
            if not self.stopped:  # files closed under it at Ctrl-C are no news
                say(f"indexing stopped: {type(exc).__name__}: {exc}")

    def _loop(self) -> None:
        rescan = time.monotonic() + RESCAN_INTERVAL
        while not self.stopped:
            got = self._follow_all()
            with self.changed:
                self._publish(force=False)
            if time.monotonic() >= rescan:
                self._rescan()
                rescan = time.monotonic() + RESCAN_INTERVAL
            if not got:
                with self.changed:
                    if not self.stopped:
                        self.changed.wait(POLL_INTERVAL)

    # -- reading -------------------------------------------------------------------------------

    def _read_once(self, path: str, name: str) -> None:
        """Index a log that does not grow (rotated or compressed) from its start, then close it
        (its records are read back by opening it again).

        Raises:
            OSError: It cannot be opened, or is not a regular file.
        """
        fd = open_regular(path)
        with os.fdopen(fd, "rb") as raw:
            st = os.fstat(fd)
            ident = (st.st_dev, st.st_ino)
            if ident in self._seen:  # indexed already (under another name)
                return
            self._seen.add(ident)
            gz = os.pread(fd, len(GZIP_MAGIC), 0) == GZIP_MAGIC
            segment = Segment(name, path, ident, gz=gz)
            if gz:
                with gzip.GzipFile(fileobj=raw, mode="rb") as unpacked, \
                        io.BufferedReader(unpacked, 64 * 1024) as stream:
                    self._index_once(stream, segment)
            else:
                self._index_once(raw, segment)

    def _index_once(self, stream: IO[bytes], segment: Segment) -> None:
        name = segment.name
        report = LineReport(name)
        proven = False
        lines = iter_lines(stream)
        while not self.stopped:
            with self.changed:
                for _ in range(_BATCH):
                    try:
                        lineno, line, _, problem = next(lines)
                    except StopIteration:
                        line = problem = None
                        lineno = -1
                    except (OSError, EOFError, gzip.BadGzipFile) as exc:
                        say(f"{name}: cannot read further ({exc})")
                        lineno, line, problem = -1, None, None
                    if lineno < 0:
                        self._publish(force=False)
                        report.done()
                        return
                    if line is None:
                        report(BadLine(name, lineno, problem or "unreadable"))
                        continue
                    end = stream.tell()
                    if self._add(line, segment, end - len(line), lineno, report) and not proven:
                        proven = True
                        report.proven()
                self._publish(force=False)
        report.done()

    def _follow(self, path: str, stream: IO[bytes] | None, name: str) -> None:
        """Follow ``path`` from its start (``stream``: already open at its start)."""
        report = LineReport(name, hold=False)
        if stream is None:  # never wait on a FIFO that took a log's name
            stream = os.fdopen(open_regular(path), "rb")
        live = _Live(Follower(path, stream, name=name, on_error=report))

        def truncated() -> None:
            say(f"{name}: truncated; reading it again from the start")
            live.truncated = True

        live.follower.on_truncate = truncated
        live.follower.on_error = report
        self._live.append(live)
        self._before |= {ident for _, ident in _generations(path)}  # not news later
        self._known.add(os.path.abspath(path))

    def _follow_all(self) -> bool:
        """Index what the followed files gained; return whether anything was read. A file
        that fails is said once and no longer followed; the others go on."""
        got = False
        for live in list(self._live):
            try:
                got = self._follow_one(live) or got
            except Exception as exc:  # noqa: BLE001 - one file's trouble, said once
                if self.stopped:
                    return got
                say(f"{live.follower.name}: no longer followed ({_why(exc)})")
                self._live.remove(live)
                live.follower.close()
        return got

    def _follow_one(self, live: _Live) -> bool:
        got = False
        lines = live.follower.poll()
        while not self.stopped:
            with self.changed:
                n = 0
                for lineno, line in lines:
                    got = True
                    stream = live.follower.stream
                    assert stream is not None
                    if live.truncated or stream is not live.stream or live.segment is None:
                        if live.truncated and live.segment is not None:
                            live.segment.close()  # what it held was overwritten
                        elif live.segment is not None:  # rotated: maybe more than once
                            self._catch_up(live.follower.path)
                        live.truncated = False
                        live.stream = stream
                        live.segment = self._segment(live.follower.name, live.follower.path,
                                                     stream.fileno())
                    self._add(line, live.segment, stream.tell() - len(line), lineno,
                              live.follower.on_error)
                    n += 1
                    if n >= _BATCH:
                        break
                self._publish(force=False)
                if n < _BATCH:
                    break
        return got

    def _catch_up(self, path: str) -> None:
        """Index the generations of ``path`` rotated away unread between two polls (a busy
        log may rotate several times in a fraction of a second), oldest first."""
        missed = [name for name, ident in _generations(path)
                  if ident not in self._seen and ident not in self._before]
        for name in reversed(missed):
            try:
                self._read_once(name, name)
            except OSError as exc:
                say(f"{name}: not indexed ({_why(exc)})")

    def _rescan(self) -> None:
        """Follow new logs in the watched directories; let go of deleted files past the cap."""
        for directory in self._dirs:
            for path in _dir_logs(directory):
                if os.path.abspath(path) in self._known or rotated(path):
                    continue
                try:
                    self._follow(path, None, path)
                except OSError as exc:
                    self._known.add(os.path.abspath(path))
                    say(f"{path}: cannot open ({exc.strerror or exc})")
                    continue
        current = {id(live.segment) for live in self._live}
        with self.lock:
            past = [s for s in self._segments if id(s) not in current]  # oldest first
            for segment in past[:max(0, len(past) - MAX_DELETED_HELD)]:
                if segment.deleted():
                    segment.close()
                else:  # renamed by rotation: found again by its inode when read
                    segment.unpin()
            self._segments = [s for s in self._segments if s.pinned]
            if len(self._seen) > _SEEN_MEMORY:  # only files still there can be rotated again
                there = {ident for live in self._live
                         for _, ident in _generations(live.follower.path)}
                self._seen = ({s.ident for s in self._segments} | there) & self._seen

    def _segment(self, name: str, path: str, fd: int) -> Segment:
        """A pinned segment for the generation of a followed file open as ``fd``."""
        st = os.fstat(fd)
        segment = Segment(name, path, (st.st_dev, st.st_ino), fd=os.dup(fd))
        self._segments.append(segment)
        self._seen.add(segment.ident)
        return segment

    # -- the index -----------------------------------------------------------------------------

    def _add(self, line: bytes, segment: Segment, offset: int, lineno: int,
             report: Any) -> bool:
        """Index one line; return whether it was a record."""
        if not line.strip():
            return False
        try:
            raw = parse_record(line)
        except ValueError as exc:
            report(BadLine(segment.name, lineno, str(exc)))
            return False
        rec, problems = clean_record(raw)
        if problems and isinstance(report, LineReport):
            report.odd_record(lineno, problems)
        self.summary.add(rec)
        key = trace_key(rec)
        if key in self._forgotten:
            return True
        trace = self._traces.get(key)
        if trace is None:
            trace = self._traces[key] = _Trace(key)
            if len(self._traces) > self.max_traces:
                self._forget(next(iter(self._traces)))
        if self._placed(trace, rec):
            if len(trace.places) >= MAX_TRACE_RECORDS:
                trace.dropped += 1
            else:
                try:
                    where = trace.segments.index(segment)
                except ValueError:
                    where = len(trace.segments)
                    trace.segments.append(segment)
                trace.places.append(where << _OFFSET_BITS | offset)
                trace.lengths.append(len(line))
        self._pending.pop(key, None)  # the most recently changed last
        self._pending[key] = None
        return True

    @staticmethod
    def _placed(trace: _Trace, rec: dict[str, Any]) -> bool:
        """Whether a record is placed: all but streamed tokens, of which only each run's
        first (its time to first token; the report shows no tokens)."""
        if rec.get("event") != "llm_new_token":
            return True
        run = rec.get("run_id")
        if not isinstance(run, str) or run in trace.streamed:
            return False
        trace.streamed.add(run)
        return True

    def _forget(self, key: str) -> None:
        del self._traces[key]
        self._pending.pop(key, None)
        self._changes.pop(key, None)
        self._forgotten[key] = None
        if len(self._forgotten) > _FORGOTTEN_MEMORY:
            self._forgotten.popitem(last=False)
        if not self._said_forgetting:
            self._said_forgetting = True
            say(f"more than {self.max_traces:,} traces: the oldest are no longer listed "
                "(the summary counts them; see --max-traces)")

    def _publish(self, *, force: bool, budget: float | None = PUBLISH_BUDGET) -> None:
        """Make the entries of changed traces again, newest first, and wake the waiters if
        any changed. Unless ``force``: at most every :data:`PUBLISH_INTERVAL`, each trace at
        most once a :data:`REBUILD_INTERVAL`, for at most ``budget`` seconds (None: no
        limit). Called with the lock held."""
        now = time.monotonic()
        if not self._pending or (not force and now < self._next_publish):
            return
        self._next_publish = now + PUBLISH_INTERVAL
        done = []
        for key in reversed(self._pending):
            if self.stopped or (budget is not None and time.monotonic() - now > budget):
                break
            trace = self._traces.get(key)
            if trace is None:
                done.append(key)
                continue
            if not force and trace.entry is not None and now - trace.built < REBUILD_INTERVAL:
                continue
            view = self._view(trace)
            done.append(key)
            if view is None:
                continue
            view.pop("rows", None)
            self.version += 1
            view["ver"] = self.version
            trace.entry, trace.built = view, now
            self._changes[key] = self.version
            self._changes.move_to_end(key)
        for key in done:
            del self._pending[key]
        if done:
            self.changed.notify_all()

    def flush(self, budget: float | None = None) -> None:
        """Make the pending entries now (before a page is rendered), for at most ``budget``
        seconds."""
        with self.changed:
            self._publish(force=True, budget=budget)

    def _records(self, trace: _Trace) -> list[dict[str, Any]]:
        """The trace's records, read back from its files (lines that changed are skipped)."""
        by_segment: dict[int, list[tuple[int, int, int]]] = {}
        for i, (packed, length) in enumerate(zip(trace.places, trace.lengths, strict=True)):
            by_segment.setdefault(packed >> _OFFSET_BITS, []).append(
                (packed & _OFFSET_MASK, length, i))
        found: list[tuple[int, dict[str, Any]]] = []
        for where, places in by_segment.items():
            segment = trace.segments[where]
            try:
                lines = list(segment.read([(o, n) for o, n, _ in places], self._held))
            except (OSError, EOFError, gzip.BadGzipFile):
                continue
            for (_, _, i), line in zip(places, lines, strict=False):
                try:
                    rec, _ = clean_record(parse_record(line))
                except ValueError:
                    continue
                if trace_key(rec) == trace.id:
                    found.append((i, rec))
        found.sort(key=lambda item: item[0])
        return [rec for _, rec in found]

    def _view(self, trace: _Trace, records: list[dict[str, Any]] | None = None
              ) -> dict[str, Any] | None:
        if records is None:
            records = self._records(trace)
        one = summarize(records, max_traces=1, slowest=0, prices=self.prices)
        picked = one.selected()
        if not picked:
            return None
        view = trace_view(picked[0], records, pricer=one.pricer)
        view["dropped"] = trace.dropped + max(0, len(trace.places) - len(records))
        return view

    # -- what the pages ask --------------------------------------------------------------------

    def entries(self) -> list[dict[str, Any]]:
        """The entry of every listed trace, oldest first (call with the lock held)."""
        return [t.entry for t in self._traces.values() if t.entry is not None]

    def changes(self, since: int, limit: int = 500) -> tuple[list[dict[str, Any]], int]:
        """Entries changed after version ``since`` (at most ``limit``, the earliest changes
        first) and the version they bring the caller to. A ``since`` ahead of the index (a
        page of an earlier server) counts as 0: everything is sent again."""
        with self.lock:
            if since > self.version:
                since = 0
            keys: list[str] = []
            for key in reversed(self._changes):
                if self._changes[key] <= since:
                    break
                keys.append(key)
            keys.reverse()
            entries = [entry for key in keys[:limit]
                       if (entry := self._traces[key].entry) is not None]
            if len(keys) > limit:
                return entries, self._changes[keys[limit - 1]]
            return entries, max(since, self.version)

    def trace(self, key: str) -> dict[str, Any] | None:
        """The full page data of one listed trace (rows included), or None if not listed."""
        with self.lock:  # read while no file can be let go of (and its descriptor reused)
            trace = self._traces.get(key)
            if trace is None:
                return None
            records = self._records(trace)
            ver = trace.entry["ver"] if trace.entry else self.version
            snapshot = dataclasses.replace(trace, places=array.array("Q", trace.places))
        view = self._view(snapshot, records)
        if view is not None:
            view["ver"] = ver
        return view



def _generations(path: str) -> list[tuple[str, tuple[int, int]]]:
    """The plain rotated files of ``path`` (``path.1``, ``path.2``, ... while they exist), with
    their ``(st_dev, st_ino)``; compressed ones cannot be told from the file they were made of."""
    found = []
    for n in range(1, 10_000):
        name = f"{path}.{n}"
        try:
            st = os.stat(name)
        except OSError:
            break
        found.append((name, (st.st_dev, st.st_ino)))
    return found


def _why(exc: BaseException) -> str:
    """An error in a few words: an OSError's reason, else its type and message."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}"


def dumps(value: Any) -> bytes:
    """JSON bytes (NaN-free; keys that are not strings written as strings)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
