"""Handlers that send LangChain runs into the user's logging: loguru, structlog, stdlib.

Each pairs a :class:`~chainsink.formatters.LogFormatter` in the logger's terms (its level
names, the record keys it reserves), which decides, with the matching logger sink, which
writes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from chainsink.formatters import LogFormatter
from chainsink.handlers._adapter import CallbackHandler
from chainsink.sinks import LoggingSink, LoguruSink, StructlogSink
from chainsink.typing import Processor


class LoguruCallbackHandler(CallbackHandler):
    """One loguru record per LangChain event, with the run's fields bound into ``extra``.

    The message says what happened in brief: the event's console line (run, duration, token
    usage) and the content that matters, clipped (the model's answer, the tool's output; see
    :class:`~chainsink.formatters.LogFormatter`). The record's source is the run, not
    chainsink's code: ``chainsink:<run name>:<depth>`` in loguru's default format.
    ``extra`` holds the JSONL record (``run_id``, ``trace_id``, ``event``, ``name``,
    ``inputs``, ...), so ``logger.add(path, serialize=True, rotation=..., retention=...,
    compression=..., enqueue=True)`` all just work. Errors log at ERROR (runs stopped without
    failing at WARNING), streamed tokens at TRACE.

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
        lines = LogFormatter.for_loguru(level)
        super().__init__(LoguruSink(logger, level=level, levels=lines.level_for), lines,
                         processors=processors, raise_error=raise_error)


class StructlogCallbackHandler(CallbackHandler):
    """Each LangChain event through the user's structlog logger, as key-values.

    structlog's ``event`` is the message, saying what happened in brief (see
    :class:`~chainsink.formatters.LogFormatter`); the callback kind is ``lc_event``; the other
    keys are the JSONL record's (``run_id``, ``trace_id``, ``name``, ...), so the user's
    processors (``JSONRenderer``, ``merge_contextvars``) apply. With structlog's default
    ``ConsoleRenderer`` the message comes alone, one readable line per event. Errors log
    with ``error`` (runs stopped without failing ``warning``), streamed tokens with ``debug``.

    Args:
        logger: A structlog logger; ``structlog.get_logger("chainsink")`` by default.
        level: The method name for ordinary events.
        processors: Event processors; default: secrets masked, sizes capped
            (:func:`chainsink.processors.default_processors`); ``()`` for none.
        raise_error: Let failures inside the handler propagate into the run.

    Raises:
        ValueError: For a method name other than debug, info, warning, error, critical.
    """

    def __init__(self, logger: Any = None, *, level: str = "info",
                 processors: Iterable[Processor] | None = None,
                 raise_error: bool = False) -> None:
        lines = LogFormatter.for_structlog(level)
        super().__init__(StructlogSink(logger, level=level, levels=lines.level_for), lines,
                         processors=processors, raise_error=raise_error)


class LoggingCallbackHandler(CallbackHandler):
    """LangChain events as stdlib ``logging`` records with the run's fields as attributes.

    The message says what happened in brief (see
    :class:`~chainsink.formatters.LogFormatter`); ``record.run_id``, ``record.trace_id``,
    ``record.event``, ``record.run_name`` (``name`` is LogRecord's own) and the rest of the
    JSONL record are attributes, so JSON formatters, ``RotatingFileHandler`` and
    ``QueueHandler`` work unchanged. Errors log at ERROR (runs stopped without failing at
    WARNING), streamed tokens at DEBUG; nothing is built for a level the logger does not log.

    Args:
        logger: A ``logging.Logger``; ``logging.getLogger("chainsink")`` by default.
        level: The level of ordinary events.
        processors: Event processors; default: secrets masked, sizes capped
            (:func:`chainsink.processors.default_processors`); ``()`` for none.
        raise_error: Let failures inside the handler propagate into the run.

    Raises:
        ValueError: For a level name ``logging`` does not know.
    """

    def __init__(self, logger: logging.Logger | None = None, *,
                 level: int | str = logging.INFO, processors: Iterable[Processor] | None = None,
                 raise_error: bool = False) -> None:
        number = logging.getLevelName(level) if isinstance(level, str) else level
        if not isinstance(number, int):
            raise ValueError(f"unknown logging level {level!r}")
        lines = LogFormatter.for_logging(number)
        super().__init__(LoggingSink(logger, level=number, levels=lines.level_for), lines,
                         processors=processors, raise_error=raise_error)
