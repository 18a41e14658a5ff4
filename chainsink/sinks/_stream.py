"""Sinks for text streams and plain callables."""

from __future__ import annotations

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

#: Sinks whose lock a forked child must replace (see _after_fork_in_child).
_locked: weakref.WeakSet[StreamSink | CallableSink] = weakref.WeakSet()


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
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._lock = threading.Lock()
        self._broken = False
        self._report = Reporter("stdout" if stream is None else f"stream {stream!r}")
        self._writer = BackgroundWriter("stdout" if stream is None else "stream", self._report)
        _locked.add(self)

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
            if writer.pending() or not _never_blocks(target, text):
                writer.submit(self._write_now, (target, text), len(text))
                return
        elif writer.pending() and not writer.drain():  # first what an event loop queued
            writer.submit(self._write_now, (target, text), len(text))  # still stuck: keep order
            return
        self._write_now(target, text)

    def _write_now(self, target: TextIO, text: str) -> None:
        if self._broken:
            return
        try:
            with self._lock:
                try:
                    target.write(text)
                except UnicodeEncodeError:  # a character this console cannot show: not broken
                    encoding = getattr(target, "encoding", None) or "ascii"
                    target.write(text.encode(encoding, "backslashreplace").decode(encoding))
        except (BrokenPipeError, ValueError, OSError, AttributeError) as exc:
            self._broken = True
            self._report("write", exc)

    def flush(self) -> None:
        """Write out what the writer thread still holds (waiting at most
        :data:`~chainsink.sinks._base.DRAIN_TIMEOUT` seconds without progress), then flush
        the stream. On an event loop, a stream that may block is flushed by the writer thread
        and this returns at once."""
        if self._broken:
            return
        target = self._target()
        writer = self._writer
        if on_event_loop() and (writer.pending() or not _never_blocks(target, "")):
            writer.submit(self._flush_now, (target,))
            return
        if writer.pending() and not writer.drain():
            return  # the stream takes nothing: flushing it would wait forever too
        self._flush_now(target)

    def _flush_now(self, target: TextIO) -> None:
        if self._broken:
            return
        try:
            target.flush()
        except (BrokenPipeError, ValueError, OSError, AttributeError) as exc:
            self._broken = True
            self._report("flush", exc)

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
    """

    def __init__(self, function: Callable[[str], Any]) -> None:
        self.function = function
        self._lock = threading.Lock()
        _locked.add(self)

    def write(self, text: str, event: Any = None) -> None:
        """Call the function with ``text``."""
        with self._lock:
            self.function(text)

    def flush(self) -> None:
        """Nothing is buffered."""

    def close(self) -> None:
        """Nothing to close."""


def _after_fork_in_child() -> None:
    # a lock another thread held at fork() stays held forever in the child: start afresh
    for sink in list(_locked):
        sink._lock = threading.Lock()  # noqa: SLF001


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
