"""Sinks for text streams and plain callables.

Every sink writing to one stream holds that stream's lock (:func:`stream_lock`) around each
record, as structlog's ``_output.py`` keeps one lock per file: several handlers printing to
``sys.stdout`` from several threads never interleave their records.
"""

from __future__ import annotations

import functools
import io
import os
import select
import stat
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any, TextIO

from chainsink._stderr import Reporter
from chainsink.sinks._base import BackgroundWriter, Sink, on_event_loop

# -- one lock per stream --------------------------------------------------------------------------

#: Each stream's lock by the stream's ``id``, with a weak reference that tells the stream from a
#: later object at the same address (and drops the entry when the stream goes). A stream that
#: cannot be weakly referenced is held for good: streams are few and long-lived.
_stream_locks: dict[int, tuple[Callable[[], Any], threading.Lock]] = {}
_stream_locks_guard = threading.Lock()


def stream_lock(stream: Any) -> threading.Lock:
    """The lock held while writing to ``stream``: one per stream, shared by every sink.

    :class:`StreamSink` holds it around each record it writes, and so does a
    :class:`CallableSink` of a stream's ``write`` method; a sink of your own writing to a
    stream should too, so that records from several sinks (several handlers printing to
    ``sys.stdout`` from threads) never interleave. It is not reentrant.
    """
    key = id(stream)
    entry = _stream_locks.get(key)
    if entry is not None and entry[0]() is stream:
        return entry[1]
    with _stream_locks_guard:
        entry = _stream_locks.get(key)
        if entry is None or entry[0]() is not stream:
            try:
                ref: Callable[[], Any] = weakref.ref(
                    stream, functools.partial(_forget, _stream_locks, key))
            except TypeError:  # no weak references to it: keep it
                ref = functools.partial(_same, stream)
            entry = (ref, threading.Lock())
            _stream_locks[key] = entry
        return entry[1]


def _same(stream: Any) -> Any:
    return stream


def _forget(locks: dict[int, Any], key: int, gone: weakref.ref[Any]) -> None:
    # runs as the stream is freed, before anything else can take its address (the table is
    # an argument: at exit this module's globals may be gone first)
    entry = locks.get(key)
    if entry is not None and entry[0] is gone:
        locks.pop(key, None)


#: CallableSinks with a lock of their own, which a forked child must replace.
_locked: weakref.WeakSet[CallableSink] = weakref.WeakSet()


class StreamSink(Sink):
    """Write text to a stream such as ``sys.stdout``, whole records at a time.

    Args:
        stream: A text stream; None means whatever ``sys.stdout`` is at each write (so
            redirection and pytest's capture keep working, as with ``print``).

    A broken pipe (``| head``) or a closed stream is reported once on stderr and later
    records are dropped; the run goes on.

    An event loop never waits for the stream: on a loop's thread, a record for a stream that
    may block (a pipe, a terminal that is not taking output, a socket, an unknown stream) is
    handed to this sink's writer thread (:class:`~chainsink.sinks._base.BackgroundWriter`),
    in order; memory and regular files are written at once. Outside a loop records are
    written synchronously, after what the writer still holds. ``flush()``/``close()``, exit
    and SIGTERM wait for the writer a bounded time; a stream that takes nothing for long
    makes later records drop (reported once) instead of growing memory.

    Each record is written under the stream's lock (:func:`stream_lock`), shared with every
    other sink writing to the same stream.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._broken = False
        self._report = Reporter("stdout" if stream is None else f"stream {stream!r}")
        self._writer = BackgroundWriter("stdout" if stream is None else "stream", self._report)

    def _target(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stdout

    def write(self, text: str, event: Any = None) -> None:
        """Write ``text`` to the stream (on an event loop, through the writer thread unless the
        stream never blocks)."""
        if self._broken:
            return
        if type(text) is not str:  # a formatter's str subclass: its own methods may raise
            text = str.__str__(text)
        target = self._target()  # the stream of the moment (redirect_stdout), even if queued
        writer = self._writer
        if on_event_loop():
            # nor for another sink's record on the same stream: its lock is taken if free
            if writer.pending() or not _never_blocks(target, text) or not self._write_now(
                    target, text, wait=False):
                writer.submit(self._write_now, (target, text), len(text))
            return
        if writer.pending() and not writer.drain():  # first what an event loop queued
            writer.submit(self._write_now, (target, text), len(text))  # still stuck: keep order
            return
        self._write_now(target, text)

    def _write_now(self, target: TextIO, text: str, wait: bool = True) -> bool:
        """Write under the stream's lock; False if ``wait`` is False and the lock is taken."""
        if self._broken:
            return True
        lock = stream_lock(target)
        if not lock.acquire(wait):
            return False
        try:
            try:
                target.write(text)
            except UnicodeEncodeError:  # a character this console cannot show: not broken
                encoding = getattr(target, "encoding", None) or "ascii"
                target.write(text.encode(encoding, "backslashreplace").decode(encoding))
        except (BrokenPipeError, ValueError, OSError, AttributeError) as exc:
            self._broken = True
            self._report("write", exc)
        finally:
            lock.release()
        return True

    def flush(self) -> None:
        """Write out what the writer thread still holds (waiting at most
        :data:`~chainsink.sinks._base.DRAIN_TIMEOUT` seconds without progress), then flush
        the stream. On an event loop, a stream that may block is flushed by the writer thread
        and this returns at once."""
        if self._broken:
            return
        target = self._target()
        writer = self._writer
        if on_event_loop():
            if writer.pending() or not _never_blocks(target, "") or not self._flush_now(
                    target, wait=False):
                writer.submit(self._flush_now, (target,))
            return
        if writer.pending() and not writer.drain():
            return  # the stream takes nothing: flushing it would wait forever too
        self._flush_now(target)

    def _flush_now(self, target: TextIO, wait: bool = True) -> bool:
        """Flush under the stream's lock (not in the middle of another sink's record); False
        if ``wait`` is False and the lock is taken."""
        if self._broken:
            return True
        lock = stream_lock(target)
        if not lock.acquire(wait):
            return False
        try:
            target.flush()
        except (BrokenPipeError, ValueError, OSError, AttributeError) as exc:
            self._broken = True
            self._report("flush", exc)
        finally:
            lock.release()
        return True

    def close(self) -> None:
        """Flush; the stream itself belongs to the caller and stays open."""
        self.flush()


def _never_blocks(stream: Any, text: str) -> bool:
    """Whether writing ``text`` to ``stream`` now cannot wait for a reader: memory (StringIO,
    pytest's capture), a regular file, or a line-buffered terminal that takes a short line
    now. Pipes, sockets and unknown streams may block: they go through the writer thread."""
    if isinstance(stream, io.StringIO):
        return True
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError, TypeError):  # io.UnsupportedOperation too
        return isinstance(getattr(stream, "buffer", None), io.BytesIO)
    try:
        mode = os.fstat(fd).st_mode
    except (OSError, TypeError, ValueError):
        return False
    if stat.S_ISREG(mode):
        return True
    if (stat.S_ISCHR(mode) and getattr(stream, "line_buffering", False) is True
            and len(text) <= _SHORT_LINE and text.endswith("\n")):
        try:  # a paused terminal (Ctrl-S) or a stalled pty reader is not writable
            return bool(select.select([], [fd], [], 0)[1])
        except (OSError, ValueError):
            return False
    return False


#: The longest record written straight to a terminal on an event loop.
_SHORT_LINE = 512


class CallableSink(Sink):
    """Hand each record's text to a function, e.g. ``lines.append`` or ``logger.info``.

    Args:
        function: Called with one string per record.

    The function is called on the caller's thread, on an event loop too: it may be
    anything (``lines.append``, an ``asyncio.Queue.put_nowait`` that must run on the loop's
    thread), so chainsink does not move it. A function doing blocking I/O should hand the
    text off itself, or be wrapped in a :class:`StreamSink`-like sink of your own.

    Calls are made one at a time: a stream's ``write`` method (``sys.stdout.write``) under
    that stream's lock (:func:`stream_lock`), shared with the other sinks writing to it; any
    other function under a lock of this sink's own.
    """

    def __init__(self, function: Callable[[str], Any]) -> None:
        self.function = function
        owner = getattr(function, "__self__", None)
        #: The stream whose ``write`` the function is, if it is one.
        self._stream: Any = (owner if callable(getattr(owner, "write", None))
                             and getattr(function, "__name__", None) == "write" else None)
        self._lock = threading.Lock()
        _locked.add(self)

    def write(self, text: str, event: Any = None) -> None:
        """Call the function with ``text``."""
        stream = self._stream
        with self._lock if stream is None else stream_lock(stream):
            self.function(text)

    def flush(self) -> None:
        """Nothing is buffered."""

    def close(self) -> None:
        """Nothing to close."""


def _after_fork_in_child() -> None:
    # a lock another thread held at fork() stays held forever in the child: start afresh
    global _stream_locks_guard  # noqa: PLW0603 - the child's own guard, like its locks
    _stream_locks_guard = threading.Lock()
    for key, (ref, _) in list(_stream_locks.items()):
        _stream_locks[key] = (ref, threading.Lock())
    for sink in list(_locked):
        sink._lock = threading.Lock()  # noqa: SLF001


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
