"""Handlers that send LangChain runs into the user's logging: loguru, structlog, stdlib."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from chainsink.formatters import ConsoleFormatter
from chainsink.handlers._adapter import CallbackHandler, Processor
from chainsink.sinks import LoggingSink, LoguruSink, StructlogSink


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
