"""Sinks that hand records to the user's logger (loguru, structlog, stdlib logging).

The formatted text becomes the log message; the event's JSONL record becomes structured fields,
so the user's own handlers, renderers, rotation and shipping apply unchanged.

A logger's handlers may block (a StreamHandler on a full stderr pipe), so on an event loop's
thread a record is handed to the sink's writer thread
(:class:`~chainsink.sinks._base.BackgroundWriter`), in order, and never waited for; outside a
loop records are logged synchronously, after what the writer still holds. ``flush()`` and
``close()`` (and exit, SIGTERM) wait for the writer a bounded time. The records are the same:

- stdlib ``logging``: the LogRecord is made on the caller's thread (its time, thread, task,
  process and caller are the call's); only ``Logger.handle`` runs on the writer. Loggers whose
  handlers all write to memory or a regular file (pytest's caplog, a FileHandler) or do no I/O
  (NullHandler, QueueHandler) are logged inline, as before.
- loguru: the record's time, thread and code location are patched back to the caller's.
- structlog: the user's processors run on the writer thread, so a processor that adds a
  timestamp or the thread sees the writer's (a moment later, ``chainsink-structlog``).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any

from chainsink._jsonable import clean_text
from chainsink._schema import ERROR_KINDS, Event
from chainsink._stderr import Reporter
from chainsink.formatters import json_record
from chainsink.sinks._base import BackgroundWriter, Sink, on_event_loop
from chainsink.sinks._stream import _never_blocks

#: LogRecord attributes an ``extra`` key may not overwrite; chainsink's clashing keys get an
#: ``lc_`` prefix, except ``name`` which becomes ``run_name``.
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime"}


def _message(text: str) -> str:
    """The formatted text as an exact ``str`` (a subclass's own methods may raise), with lone
    surrogates escaped."""
    return clean_text(text if type(text) is str else str.__str__(text))


def _handlers_never_block(logger: logging.Logger) -> bool:
    """Whether every handler a record of ``logger`` reaches writes to memory or a regular
    file (pytest's caplog, a FileHandler) or does no I/O: then an event loop may log inline."""
    queue_handler = getattr(sys.modules.get("logging.handlers"), "QueueHandler", None)
    current: logging.Logger | None = logger
    found = False
    while current is not None:
        for handler in current.handlers:
            found = True
            if isinstance(handler, logging.NullHandler) or (
                    queue_handler is not None and isinstance(handler, queue_handler)):
                continue
            if type(handler) not in _PLAIN_STREAM_HANDLERS and not _is_capture(handler):
                return False
            if not _never_blocks(getattr(handler, "stream", None), ""):
                return False
        if not current.propagate:
            break
        current = current.parent
    return found or logging.lastResort is None


#: Handlers whose only I/O is their stream's write and flush.
_PLAIN_STREAM_HANDLERS = (logging.StreamHandler, logging.FileHandler)


def _is_capture(handler: logging.Handler) -> bool:
    """pytest's caplog and log-file handlers: StreamHandlers over memory or a file."""
    return (isinstance(handler, logging.StreamHandler)
            and type(handler).__module__.startswith("_pytest."))


def _optional(name: str) -> Any:
    """Import an optional integration, or say which chainsink extra installs it.

    Raises:
        ImportError: Naming ``pip install 'chainsink[<name>]'``.
    """
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(f"this handler needs {name}: pip install 'chainsink[{name}]'") from exc


def _level_of(kind: str) -> str:
    """``error``, ``token`` or ``normal``: which of the sink's levels an event kind logs at."""
    if kind in ERROR_KINDS:
        return "error"
    if kind == "llm_new_token":
        return "token"
    return "normal"


def _level_kind(event: Any) -> str:
    """:func:`_level_of` the event's kind; a run stopped without failing is not an error.

    An error record flagged ``interrupted`` or ``aborted`` (cancelled, interrupted, its stream
    closed, closed at exit) logs at ``warning``, and a LangGraph handoff at the ordinary
    level: alerting on ERROR must not fire for them.
    """
    level = _level_of(getattr(event, "event", ""))
    if level == "error":
        data = getattr(event, "data", None)
        if isinstance(data, dict) and (data.get("interrupted") is True
                                       or data.get("aborted") is True):
            return "normal" if data.get("interrupt") == "handoff" else "warning"
    return level


_STDLIB_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
                  "error": logging.ERROR, "critical": logging.CRITICAL}


def stdlib_extra(record: dict[str, Any]) -> dict[str, Any]:
    """A JSONL record as ``extra`` for ``logging``.

    LogRecord refuses extra keys that shadow its own attributes, so ``name`` becomes
    ``run_name`` and any other clash gets an ``lc_`` prefix.
    """
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == "name":
            out["run_name"] = value
        elif key in _RESERVED:
            out["lc_" + key] = value
        else:
            out[key] = value
    return out


class LoggingSink(Sink):
    """Log each record through a stdlib ``logging.Logger``.

    The message is the formatted text; the record's fields are LogRecord attributes
    (``record.run_id``, ``record.trace_id``, ``record.event``, ``record.run_name``, ...).

    Args:
        logger: The logger; ``logging.getLogger("chainsink")`` by default.
        level: The level for ordinary events; errors log at ERROR (runs stopped without
            failing at WARNING, see :func:`_level_kind`), tokens at DEBUG.
    """

    def __init__(self, logger: logging.Logger | None = None, *,
                 level: int | str = logging.INFO) -> None:
        self.logger = logger if logger is not None else logging.getLogger("chainsink")
        resolved = logging.getLevelName(level) if isinstance(level, str) else level
        if not isinstance(resolved, int):
            raise ValueError(f"unknown logging level {level!r}")
        self._levels = {"normal": resolved, "error": logging.ERROR, "token": logging.DEBUG,
                        "warning": logging.WARNING}
        self._writer = BackgroundWriter("logging", Reporter(f"logger {self.logger.name!r}"))

    def accepts(self, kind: str) -> bool:
        """Whether the logger would log an event of ``kind`` now (handlers skip the rest)."""
        return self.logger.isEnabledFor(self._levels[_level_of(kind)])

    def write(self, text: str, event: Any = None) -> None:
        """Log ``text`` with the event's fields as LogRecord attributes."""
        level = self._levels[_level_kind(event)]
        if not self.logger.isEnabledFor(level):
            return
        extra = stdlib_extra(json_record(event)) if isinstance(event, Event) else None
        logger, message, writer = self.logger, _message(text), self._writer
        if on_event_loop():
            queue = writer.pending() or not _handlers_never_block(logger)
        else:  # first what an event loop queued; a writer still stuck keeps the order
            queue = writer.pending() and not writer.drain()
        if not queue:
            logger.log(level, "%s", message, extra=extra)
            return
        # the record is made here, so its time, thread, task and caller are this call's; the
        # writer thread only hands it to the handlers (which may block on their streams)
        path, line, function, stack = logger.findCaller(False, 1)
        record = logger.makeRecord(logger.name, level, path, line, "%s", (message,), None,
                                   function, extra, stack)
        writer.submit(logger.handle, (record,), len(message))

    def flush(self) -> None:
        """Hand the handlers what the writer thread still holds (a bounded wait)."""
        self._writer.drain()

    def close(self) -> None:
        """Like :meth:`flush`; the logger belongs to the caller."""
        self.flush()


class LoguruSink(Sink):
    """Log each record through loguru, with the record's fields bound into ``extra``.

    Args:
        logger: A loguru logger; ``loguru.logger`` by default.
        level: The level for ordinary events; errors log at ERROR (runs stopped without
            failing at WARNING), tokens at TRACE.

    Raises:
        ImportError: If loguru is not installed (``pip install chainsink[loguru]``).
        ValueError: For a level loguru does not know.
    """

    def __init__(self, logger: Any = None, *, level: str | int = "INFO") -> None:
        if logger is None:
            logger = _optional("loguru").logger
        self.logger = logger
        self._levels = {"normal": level, "error": "ERROR", "token": "TRACE",
                        "warning": "WARNING"}
        # severities, to skip building records loguru would drop (raises for unknown names)
        self._numbers = {kind: name if isinstance(name, int) else logger.level(name).no
                         for kind, name in self._levels.items()}
        self._writer = BackgroundWriter("loguru", Reporter("loguru"))

    def accepts(self, kind: str) -> bool:
        """Whether any of loguru's handlers takes an event of ``kind`` (its lowest level)."""
        return self._takes(_level_of(kind))

    def _takes(self, level_kind: str) -> bool:
        # loguru keeps the lowest level any of its handlers accepts; below it, nothing is kept
        floor = getattr(getattr(self.logger, "_core", None), "min_level", None)
        return not isinstance(floor, int) or self._numbers[level_kind] >= floor

    def write(self, text: str, event: Any = None) -> None:
        """Log ``text`` with the event's fields in ``extra``."""
        kind = _level_kind(event)
        if not self._takes(kind):
            return
        fields = json_record(event) if isinstance(event, Event) else {}
        bound, message, writer = self.logger.bind(**fields), _message(text), self._writer
        if on_event_loop():  # loguru's sinks may block (a full stderr pipe): never here
            keep = _LoguruOrigin(sys._getframe(1))  # noqa: SLF001 - the record's caller
            writer.submit(_log_patched, (bound, keep, self._levels[kind], message),
                          len(message))
            return
        if writer.pending() and not writer.drain():  # keep the order behind a stuck writer
            keep = _LoguruOrigin(sys._getframe(1))  # noqa: SLF001
            writer.submit(_log_patched, (bound, keep, self._levels[kind], message),
                          len(message))
            return
        bound.opt(depth=1).log(self._levels[kind], message)

    def flush(self) -> None:
        """Hand loguru what the writer thread still holds (a bounded wait); loguru's sinks
        flush themselves (``logger.complete()`` waits for enqueued ones)."""
        self._writer.drain()

    def close(self) -> None:
        """Like :meth:`flush`; the logger belongs to the caller."""
        self.flush()


class _LoguruOrigin:
    """Where and when a loguru record was made, for records the writer thread logs: the
    record keeps its caller's time, thread and code location."""

    __slots__ = ("file", "function", "line", "module", "name", "thread", "time")

    def __init__(self, frame: Any) -> None:
        self.time = time.time()
        current = threading.current_thread()
        self.thread = (current.ident, current.name)
        code = frame.f_code
        self.file = code.co_filename
        self.function = code.co_name
        self.line = frame.f_lineno
        self.name = frame.f_globals.get("__name__")
        self.module = os.path.splitext(os.path.basename(self.file))[0]

    def __call__(self, record: Any) -> None:
        when = record["time"]
        record["time"] = type(when).fromtimestamp(self.time, when.tzinfo)
        record["thread"] = type(record["thread"])(*self.thread)
        record["file"] = type(record["file"])(os.path.basename(self.file), self.file)
        record["function"], record["line"] = self.function, self.line
        record["name"], record["module"] = self.name, self.module


def _log_patched(bound: Any, origin: _LoguruOrigin, level: Any, message: str) -> None:
    bound.patch(origin).log(level, message)


class StructlogSink(Sink):
    """Log each record through a structlog logger as key-values.

    structlog's ``event`` key is the message, so the formatted text goes there and the
    callback's kind goes under ``lc_event``; every other JSONL key keeps its name.

    Args:
        logger: A structlog logger; ``structlog.get_logger("chainsink")`` by default.
        level: The method for ordinary events (``"info"``); errors use ``error`` (runs
            stopped without failing ``warning``), tokens ``debug``.

    Raises:
        ImportError: If structlog is not installed (``pip install chainsink[structlog]``).
        ValueError: For an unknown level name.
    """

    _NAMES = ("debug", "info", "warning", "error", "critical")

    def __init__(self, logger: Any = None, *, level: str = "info") -> None:
        if level not in self._NAMES:
            raise ValueError(f"level must be one of {self._NAMES}, not {level!r}")
        if logger is None:
            logger = _optional("structlog").get_logger("chainsink")
        self.logger = logger
        self._levels = {"normal": level, "error": "error", "token": "debug",
                        "warning": "warning"}
        self._writer = BackgroundWriter("structlog", Reporter("structlog"))

    def accepts(self, kind: str) -> bool:
        """Whether the logger logs an event of ``kind`` (filtering loggers say; others do)."""
        enabled = getattr(self.logger, "is_enabled_for", None)
        if enabled is None:
            return True
        return bool(enabled(_STDLIB_LEVELS[self._levels[_level_of(kind)]]))

    def write(self, text: str, event: Any = None) -> None:
        """Log ``text`` as structlog's event, with the record's fields as key-values."""
        fields = json_record(event) if isinstance(event, Event) else {}
        fields["lc_event"] = fields.pop("event", None)
        method = getattr(self.logger, self._levels[_level_kind(event)])
        message, writer = _message(text), self._writer
        if on_event_loop() or (writer.pending() and not writer.drain()):
            # structlog's processors and logger run on the writer thread (its output may
            # block); a processor adding a timestamp or thread sees the writer's
            writer.submit(_call_kw, (method, message, fields), len(message))
            return
        method(message, **fields)

    def flush(self) -> None:
        """Hand the logger what the writer thread still holds (a bounded wait)."""
        self._writer.drain()

    def close(self) -> None:
        """Like :meth:`flush`; the logger belongs to the caller."""
        self.flush()


def _call_kw(method: Any, message: str, fields: dict[str, Any]) -> None:
    method(message, **fields)
