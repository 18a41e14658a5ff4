"""Handlers that send LangChain runs into the user's logging: loguru, structlog, stdlib."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

from chainsink._file import file_formatter
from chainsink._handler import CallbackHandler, Processor
from chainsink.formatters import ConsoleFormatter
from chainsink.sinks import LoggingSink, LoguruSink, RotatingFileSink, StructlogSink


def _message_formatter() -> ConsoleFormatter:
    return ConsoleFormatter("line", ansi=False)


class LoguruCallbackHandler(CallbackHandler):
    """One loguru record per LangChain event, with the run's fields bound into ``extra``.

    The message is the event's console line (plain); ``extra`` holds the JSONL record
    (``run_id``, ``trace_id``, ``event``, ``name``, ``inputs``, ...), so
    ``logger.add(path, serialize=True, rotation=..., retention=..., compression=...,
    enqueue=True)`` all just work. Errors log at ERROR, streamed tokens at TRACE.

    Args:
        logger: A loguru logger (e.g. one from ``logger.bind(...)``); ``loguru.logger`` by
            default.
        level: The level of ordinary events.
        processors: Event processors; default: secrets masked, sizes capped
            (:func:`chainsink.processors.default_processors`); ``()`` for none.
        raise_error: Let failures inside the handler propagate into the run.
    """

    def __init__(self, logger: Any = None, *, level: str | int = "INFO",
                 processors: Iterable[Processor] | None = None,
                 raise_error: bool = False) -> None:
        super().__init__(LoguruSink(logger, level=level), _message_formatter(),
                         processors=processors, raise_error=raise_error)


class StructlogCallbackHandler(CallbackHandler):
    """Each LangChain event through the user's structlog logger, as key-values.

    structlog's ``event`` is the event's console line; the callback kind is ``lc_event``;
    the other keys are the JSONL record's (``run_id``, ``trace_id``, ``name``, ...), so the
    user's processors (``JSONRenderer``, ``ConsoleRenderer``, ``merge_contextvars``) apply.
    Errors log with ``error``, streamed tokens with ``debug``.

    Args:
        logger: A structlog logger; ``structlog.get_logger("chainsink")`` by default.
        level: The method name for ordinary events.
        processors: Event processors; default: secrets masked, sizes capped
            (:func:`chainsink.processors.default_processors`); ``()`` for none.
        raise_error: Let failures inside the handler propagate into the run.
    """

    def __init__(self, logger: Any = None, *, level: str = "info",
                 processors: Iterable[Processor] | None = None,
                 raise_error: bool = False) -> None:
        super().__init__(StructlogSink(logger, level=level), _message_formatter(),
                         processors=processors, raise_error=raise_error)


class LoggingCallbackHandler(CallbackHandler):
    """LangChain events as stdlib ``logging`` records with the run's fields as attributes.

    The message is the event's console line; ``record.run_id``, ``record.trace_id``,
    ``record.event``, ``record.run_name`` (``name`` is LogRecord's own) and the rest of the
    JSONL record are attributes, so JSON formatters, ``RotatingFileHandler`` and
    ``QueueHandler`` work unchanged. Errors log at ERROR, streamed tokens at DEBUG; nothing
    is built for a level the logger does not log.

    Args:
        logger: A ``logging.Logger``; ``logging.getLogger("chainsink")`` by default.
        level: The level of ordinary events.
        processors: Event processors; default: secrets masked, sizes capped
            (:func:`chainsink.processors.default_processors`); ``()`` for none.
        raise_error: Let failures inside the handler propagate into the run.
    """

    def __init__(self, logger: logging.Logger | None = None, *,
                 level: int | str = logging.INFO, processors: Iterable[Processor] | None = None,
                 raise_error: bool = False) -> None:
        super().__init__(LoggingSink(logger, level=level), _message_formatter(),
                         processors=processors, raise_error=raise_error)


class RotatingFileCallbackHandler(CallbackHandler):
    """Write a run to a size-rotated file, like CPython's ``RotatingFileHandler``.

    ``filename`` rotates to ``filename.1`` ... ``filename.{backup_count}`` before a record
    would take it past ``max_bytes``; a record is never split between files, and several
    processes may write (and rotate) the same file safely (an ``flock`` on
    ``filename.lock``).

    Args:
        filename: The log file.
        max_bytes: Rotate before the file would exceed this many bytes.
        backup_count: How many rotated files to keep (at least 1).
        format: ``"jsonl"`` (default), ``"text"`` or ``"ansi"``, as for FileCallbackHandler.
        compress: Gzip rotated files.
        processors: Event processors; default: secrets masked, sizes capped
            (:func:`chainsink.processors.default_processors`); ``()`` for none.
        raise_error: Let failures inside the handler propagate into the run.

    Raises:
        ValueError: For a bad size, count or format (checked here, not at the first write).
    """

    def __init__(self, filename: str | os.PathLike[str], *, max_bytes: int,
                 backup_count: int, format: str = "jsonl",  # noqa: A002 - the public name
                 compress: bool = False, processors: Iterable[Processor] | None = None,
                 raise_error: bool = False) -> None:
        formatter = file_formatter(format)
        sink = RotatingFileSink(filename, max_bytes=max_bytes, backup_count=backup_count,
                                compress=compress)
        super().__init__(sink, formatter, processors=processors, raise_error=raise_error)
        self.filename = os.fspath(filename)
        self.format = format
