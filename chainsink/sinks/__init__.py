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
from chainsink.typing import WritesHeader


def file_header(formatter: Any, filename: str | os.PathLike[str]) -> str:
    """What each file ``formatter``'s records go to starts with (see
    :class:`~chainsink.typing.WritesHeader`), named after the file; ``""`` for none."""
    if not isinstance(formatter, WritesHeader):
        return ""
    return formatter.header(os.path.basename(os.fspath(filename)))


def make_sink(target: Any, formatter: Any = None) -> Sink:
    """Turn ``target`` into a sink.

    Args:
        target: A :class:`Sink` (returned as is), a path (``str`` or ``os.PathLike``, appended
            to by a :class:`FileSink`), a text stream with ``write`` (a :class:`StreamSink`),
            or a callable taking one string (a :class:`CallableSink`).
        formatter: The formatter whose text the sink gets: a file made for a path starts with
            its header, if it has one (:func:`file_header`).

    Raises:
        TypeError: For anything else.
    """
    if isinstance(target, Sink):
        return target
    if isinstance(target, (str, os.PathLike)):
        return FileSink(target, header=file_header(formatter, target))
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
    "file_header",
    "flush_all",
    "make_sink",
    "stream_lock",
]
