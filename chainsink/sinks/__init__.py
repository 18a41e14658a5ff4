"""Sinks: where formatted records go. A sink never knows LangChain.

A sink has ``write(text, event)``, ``flush()`` and ``close()``; ``event`` is the
:class:`chainsink.Event` the text was made from, for sinks that keep structured fields.
:func:`make_sink` turns what a user passes (a path, a stream, a callable, a sink) into one.
"""

from __future__ import annotations

import os
from typing import Any

from chainsink.sinks._base import Sink
from chainsink.sinks._file import FileSink, flush_all
from chainsink.sinks._loggers import LoggingSink, LoguruSink, StructlogSink
from chainsink.sinks._rotating import RotatingFileSink
from chainsink.sinks._stream import CallableSink, StreamSink, stream_lock


def make_sink(target: Any) -> Sink:
    """Turn ``target`` into a sink.

    Args:
        target: A :class:`Sink` (returned as is), a path (``str`` or ``os.PathLike``, appended
            to by a :class:`FileSink`), a text stream with ``write`` (a :class:`StreamSink`),
            or a callable taking one string (a :class:`CallableSink`).

    Raises:
        TypeError: For anything else.
    """
    if isinstance(target, Sink):
        return target
    if isinstance(target, (str, os.PathLike)):
        return FileSink(target)
    if callable(getattr(target, "write", None)):
        return StreamSink(target)
    if callable(target):
        return CallableSink(target)
    raise TypeError(
        f"cannot write to {type(target).__name__}: pass a path, a text stream, a callable "
        "taking a string, or a chainsink.sinks.Sink"
    )


__all__ = [
    "CallableSink",
    "FileSink",
    "LoggingSink",
    "LoguruSink",
    "RotatingFileSink",
    "Sink",
    "StreamSink",
    "StructlogSink",
    "flush_all",
    "make_sink",
    "stream_lock",
]
