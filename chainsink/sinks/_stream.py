"""Sinks for text streams and plain callables."""

from __future__ import annotations

import os
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any, TextIO

from chainsink._report import Reporter
from chainsink.sinks._base import Sink

#: Sinks whose lock a forked child must replace (see _after_fork_in_child).
_locked: weakref.WeakSet[StreamSink | CallableSink] = weakref.WeakSet()


class StreamSink(Sink):
    """Write text to a stream such as ``sys.stdout``, whole records at a time.

    Args:
        stream: A text stream; None means whatever ``sys.stdout`` is at each write (so
            redirection and pytest's capture keep working, as with ``print``).

    A broken pipe (``| head``) or a closed stream is reported once on stderr and later
    records are dropped; the run goes on.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._lock = threading.Lock()
        self._broken = False
        self._report = Reporter("stdout" if stream is None else f"stream {stream!r}")
        _locked.add(self)

    def _target(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stdout

    def write(self, text: str, event: Any = None) -> None:
        """Write ``text`` to the stream."""
        if self._broken:
            return
        try:
            with self._lock:
                target = self._target()
                try:
                    target.write(text)
                except UnicodeEncodeError:  # a character this console cannot show: not broken
                    encoding = getattr(target, "encoding", None) or "ascii"
                    target.write(text.encode(encoding, "backslashreplace").decode(encoding))
        except (BrokenPipeError, ValueError, OSError, AttributeError) as exc:
            self._broken = True
            self._report("write", exc)

    def flush(self) -> None:
        """Flush the stream."""
        if self._broken:
            return
        try:
            self._target().flush()
        except (BrokenPipeError, ValueError, OSError, AttributeError) as exc:
            self._broken = True
            self._report("flush", exc)

    def close(self) -> None:
        """Flush; the stream itself belongs to the caller and stays open."""
        self.flush()


class CallableSink(Sink):
    """Hand each record's text to a function, e.g. ``lines.append`` or ``logger.info``.

    Args:
        function: Called with one string per record.
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
