"""Sinks that hand log lines to the user's logger (loguru, structlog, stdlib logging).

They only write. What to log is decided on the formatter side (loguru's split: its handler
decides, its sinks write): :class:`chainsink.formatters.LogFormatter` turns each event into a
:class:`~chainsink.formatters.LogLine`, a message string carrying its level and the event's
record as fields; these sinks pass that to the logger, so the user's handlers, renderers,
rotation and shipping apply unchanged. Another formatter's text for an event is logged as
:meth:`LogFormatter.line <chainsink.formatters.LogFormatter.line>` makes it (the event's level,
its record as fields); text without an event at the sink's ``level``. Given the levels
(``LogFormatter.level_for``), a sink tells the handler which kinds its logger would drop now
(:meth:`accepts`), so that those cost (almost) nothing.

A logger's handlers may block (a StreamHandler on a full stderr pipe), so on an event loop's
thread a record is handed to the sink's writer thread
(:class:`~chainsink.sinks._base.BackgroundWriter`), in order, and never waited for; outside a
loop records are logged synchronously, after what the writer still holds. ``flush()`` and
``close()`` (and exit, SIGTERM) wait for the writer a bounded time. The records are the same:

- stdlib ``logging``: the LogRecord is made on the caller's thread (its time, thread, task,
  process and caller are the call's); only ``Logger.handle`` runs on the writer. Loggers whose
  handlers all write to memory or a regular file (pytest's caplog, a FileHandler) or do no I/O
  (NullHandler, QueueHandler) are logged inline, as before.
- loguru: the record's time and thread are patched back to the caller's.
- structlog: the user's processors run on the writer thread, so a processor that adds a
  timestamp or the thread sees the writer's (a moment later, ``chainsink-structlog``).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from chainsink._jsonable import clean_text
from chainsink._schema import EVENT_KINDS, Event
from chainsink._stderr import Reporter
from chainsink.formatters import LogFormatter, LogLine, inert
from chainsink.sinks._base import BackgroundWriter, Sink
from chainsink.sinks._stream import _never_blocks

#: The running event loop of this thread, or None (``on_event_loop()`` without a Python call).
_running_loop = asyncio._get_running_loop  # noqa: SLF001 - C-level, cheap

#: A level in the logger's own terms: ``logging.INFO``, loguru's ``"INFO"``, structlog's ``"info"``.
Level = int | str
#: The level of each kind, as a formatter decides it (``LogFormatter.level_for``).
LevelFor = Callable[[str], Level]


def _message(text: str) -> str:
    """The text as an exact ``str`` (a subclass's own methods may raise), with lone
    surrogates escaped (a :class:`LogLine`'s formatter did that already)."""
    if type(text) is LogLine:
        return str.__str__(text)
    return clean_text(text if type(text) is str else str.__str__(text))


def _levels_by_kind(level: Level, levels: LevelFor | None) -> dict[str, Level]:
    """Every event kind's level: the formatter's, or ``level`` for all without one."""
    return {kind: level if levels is None else levels(kind) for kind in EVENT_KINDS}


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


def _stdlib_level(level: Level) -> int:
    """A ``logging`` level number, from a number or a level name.

    Raises:
        ValueError: For a name ``logging`` does not know.
    """
    resolved = logging.getLevelName(level) if isinstance(level, str) else level
    if not isinstance(resolved, int):
        raise ValueError(f"unknown logging level {level!r}")
    return resolved


class LoggingSink(Sink):
    """Log each line through a stdlib ``logging.Logger``.

    A :class:`~chainsink.formatters.LogLine` is logged at its level with its fields as
    LogRecord attributes (``record.run_id``, ``record.trace_id``, ``record.event``,
    ``record.run_name``, ...); other text at ``level``.

    Args:
        logger: The logger; ``logging.getLogger("chainsink")`` by default.
        level: The level of text that carries none.
        levels: The level each event kind logs at (``LogFormatter.level_for``), for
            :meth:`accepts`; without it, every kind at ``level``.

    Raises:
        ValueError: For a level name ``logging`` does not know.
    """

    def __init__(self, logger: logging.Logger | None = None, *,
                 level: int | str = logging.INFO, levels: LevelFor | None = None) -> None:
        self.logger = logger if logger is not None else logging.getLogger("chainsink")
        self._level = _stdlib_level(level)
        self._lines = LogFormatter.for_logging(self._level)  # for another formatter's text
        levels = levels if levels is not None else self._lines.level_for
        self._by_kind = {kind: _stdlib_level(value)
                         for kind, value in _levels_by_kind(level, levels).items()}
        self._writer = BackgroundWriter("logging", Reporter(f"logger {self.logger.name!r}"))

    def accepts(self, kind: str) -> bool:
        """Whether the logger would log an event of ``kind`` now (handlers skip the rest)."""
        return self.logger.isEnabledFor(self._by_kind.get(kind, self._level))

    def write(self, text: str, event: Any = None) -> None:
        """Log ``text``; a LogLine at its level, with its fields as LogRecord attributes."""
        if type(text) is not LogLine and type(event) is Event:
            text = self._lines.line(event, _message(text))
        if type(text) is LogLine:
            level, extra, message = text.level, text.fields, str.__str__(text)
            if type(level) is not int:
                level = _stdlib_level(level)
        else:
            level, extra, message = self._level, None, _message(text)
        logger, writer = self.logger, self._writer
        on_loop = _running_loop() is not None
        if not on_loop and not writer.pending():  # the usual case
            logger.log(level, "%s", message, extra=extra)  # which checks the level first
            return
        if not logger.isEnabledFor(level):
            return
        if on_loop:
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


def _loguru_floor(core: Any) -> int:
    """The lowest severity any of loguru's handlers takes now (0: unknown, take everything).

    loguru has no public way to ask. ``logger._core.min_level`` is what ``logger.log`` itself
    checks first (``add()`` and ``remove()`` keep it current); reading it lets a handler skip
    building events loguru would drop, such as every streamed token at INFO. Without it (a
    loguru that changed its internals) nothing is skipped early, and loguru drops them.
    """
    floor = getattr(core, "min_level", None)
    return floor if isinstance(floor, int) else 0


#: Run names made safe for loguru's ``{function}``, which its format prints raw.
_SOURCE_NAMES: dict[Any, str] = {}


def _source_name(name: Any) -> str:
    """A run name as the source of a loguru record: on one line, its control characters shown
    as text (``{function}`` reaches the terminal unescaped, the message does not)."""
    shown = _SOURCE_NAMES.get(name) if isinstance(name, str) else None
    if shown is None:
        shown = inert(clean_text(str(name))).replace("\n", "\\n")
        if isinstance(name, str):
            if len(_SOURCE_NAMES) >= 1_000:
                _SOURCE_NAMES.clear()
            _SOURCE_NAMES[name] = shown
    return shown


class _RunPatcher(threading.local):
    """A loguru patcher, built once per sink (``logger.patch``), that gives a record its
    LogLine's fields and names it after the run it tells of, not chainsink's internals:
    loguru's default ``{name}:{function}:{line}`` reads ``chainsink:<run name>:<depth>``.

    The sink sets :attr:`fields` on its own thread just before logging; loguru runs patchers
    on that thread, before any handler sees the record. (Passing the fields as ``**kwargs``
    would have loguru format the message with them too, and ``bind`` makes a logger per
    record.)
    """

    fields: dict[str, Any] | None = None

    def __call__(self, record: Any) -> None:
        fields = self.fields
        if fields is None:
            return
        record["extra"].update(fields)  # over the logger's own bound values, as bind() does
        record["name"] = "chainsink"
        record["function"] = _source_name(fields.get("name"))  # the record's run keys
        depth = fields.get("depth")
        record["line"] = depth if isinstance(depth, int) else 0


class LoguruSink(Sink):
    """Log each line through loguru, with its fields in ``extra``.

    A :class:`~chainsink.formatters.LogLine` is logged at its level, its fields in the
    record's ``extra`` (so ``serialize=True`` writes the whole record) and its source named
    after the run: ``chainsink:<run name>:<depth>`` in loguru's default format. Other text is
    logged at ``level`` as it is. The records come from this module, so
    ``logger.disable("chainsink")`` silences them.

    Args:
        logger: A loguru logger (e.g. one from ``logger.bind(...)``); ``loguru.logger`` by
            default.
        level: The level of text that carries none.
        levels: The level each event kind logs at (``LogFormatter.level_for``), for
            :meth:`accepts`; without it, every kind at ``level``.

    Raises:
        ImportError: If loguru is not installed (``pip install chainsink[loguru]``).
        ValueError: For a level loguru does not know.
    """

    def __init__(self, logger: Any = None, *, level: str | int = "INFO",
                 levels: LevelFor | None = None) -> None:
        if logger is None:
            logger = _optional("loguru").logger
        self.logger = logger
        self._level = level
        self._lines = LogFormatter.for_loguru(level)  # for another formatter's text
        levels = levels if levels is not None else self._lines.level_for
        # severities, to skip events loguru would drop (``logger.level`` raises for unknown
        # names, so bad levels fail here)
        self._severity: dict[Level, int] = {}
        self._default = self._severity_of(level)
        self._by_kind = {kind: self._severity_of(value)
                         for kind, value in _levels_by_kind(level, levels).items()}
        self._core = getattr(logger, "_core", None)  # see _loguru_floor
        self._run = _RunPatcher()
        self._named = logger.patch(self._run)
        self._writer = BackgroundWriter("loguru", Reporter("loguru"))

    def _severity_of(self, level: Level) -> int:
        number = self._severity.get(level)
        if number is None:
            number = level if isinstance(level, int) else self.logger.level(level).no
            self._severity[level] = number
        return number

    def accepts(self, kind: str) -> bool:
        """Whether any of loguru's handlers takes an event of ``kind`` (its lowest level)."""
        return self._by_kind.get(kind, self._default) >= _loguru_floor(self._core)

    def write(self, text: str, event: Any = None) -> None:
        """Log ``text``; a LogLine at its level, with its fields in ``extra``."""
        if type(text) is not LogLine and type(event) is Event:
            text = self._lines.line(event, _message(text))
        if type(text) is LogLine:
            level, fields = text.level, text.fields
        else:
            level, fields = self._level, None
        if self._severity_of(level) < _loguru_floor(self._core):
            return
        message = str.__str__(text) if type(text) is LogLine else _message(text)
        writer = self._writer
        # on an event loop loguru's sinks may block (a full stderr pipe): never there; and
        # behind a stuck writer, keep the order
        if _running_loop() is not None or (writer.pending() and not writer.drain()):
            origin = _LoguruOrigin()
            writer.submit(self._log_later, (origin, level, message, fields), len(message))
            return
        if fields is None:
            self.logger.log(level, message)
        else:
            self._run.fields = fields
            self._named.log(level, message)

    def _log_later(self, origin: _LoguruOrigin, level: Level, message: str,
                   fields: dict[str, Any] | None) -> None:
        if fields is None:
            self.logger.patch(origin).log(level, message)
        else:
            self._run.fields = fields
            self._named.patch(origin).log(level, message)

    def flush(self) -> None:
        """Hand loguru what the writer thread still holds (a bounded wait); loguru's sinks
        flush themselves (``logger.complete()`` waits for enqueued ones)."""
        self._writer.drain()

    def close(self) -> None:
        """Like :meth:`flush`; the logger belongs to the caller."""
        self.flush()


class _LoguruOrigin:
    """When and on which thread a loguru record was made, for records the writer thread
    logs: the record keeps its caller's time and thread."""

    __slots__ = ("thread", "time")

    def __init__(self) -> None:
        self.time = time.time()
        current = threading.current_thread()
        self.thread = (current.ident, current.name)

    def __call__(self, record: Any) -> None:
        when = record["time"]
        record["time"] = type(when).fromtimestamp(self.time, when.tzinfo)
        record["thread"] = type(record["thread"])(*self.thread)


#: structlog's method names, with the ``logging`` levels its filtering loggers compare.
_STRUCTLOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
                     "error": logging.ERROR, "critical": logging.CRITICAL}

#: A logger that is not structlog's: it has no processors to look at.
_NO_CHAIN: Any = ()
#: The key-values of a call without fields (never changed: ``**`` copies it).
_NO_FIELDS: dict[str, Any] = {}


def _renders_for_console(logger: Any, console: type | None) -> bool:
    """Whether ``logger``'s processors end in ``console`` (structlog's ``ConsoleRenderer``,
    None when structlog is not imported), as with structlog's default configuration.

    ConsoleRenderer prints every key-value of a call after its message, so a record's fields
    (run and trace ids, ``ts`` beside structlog's own timestamp, tags, metadata, inputs)
    would make each line hundreds of characters long; a LogLine's message already says what
    happened, so the console gets that alone. Any other chain (``JSONRenderer``, the stdlib
    ``ProcessorFormatter``, a processor of the user's) gets the whole record, keys unchanged.

    Why look at the chain: the fields must stay top-level keys for JSON consumers, and
    ConsoleRenderer prints ``key=repr(value)`` for each top-level key, so no value type can
    read brief on the console yet serialize whole. structlog has no public accessor for a
    logger's own processors (``wrap_logger(..., processors=...)`` and bound loggers keep them
    in ``_processors``); a lazy proxy from ``get_logger()`` has None there and follows the
    global configuration (``structlog.get_config()``), read at each call as structlog does,
    so configuring structlog after making the handler takes effect. (The sink passes the
    logger a proxy assembled for the call, whose ``_processors`` are those it follows.)
    """
    if console is None:  # structlog is not even imported: not one of its loggers
        return False
    chain = getattr(logger, "_processors", _NO_CHAIN)
    if chain is None:
        chain = sys.modules["structlog"].get_config()["processors"]
    return bool(chain) and isinstance(chain[-1], console)


class StructlogSink(Sink):
    """Log each line through a structlog logger, its fields as key-values.

    A :class:`~chainsink.formatters.LogLine` calls the method its level names, with the
    message as structlog's ``event`` and its fields as key-values (the callback kind as
    ``lc_event`` when :class:`~chainsink.formatters.LogFormatter` renames it, as the
    handler's does). A logger whose processors end in ``ConsoleRenderer`` (structlog's
    default configuration) gets the message alone, one readable line: ConsoleRenderer would
    print every field after it. Any other (``JSONRenderer``, a processor of yours) gets every
    field. Other text calls ``level``'s method.

    Args:
        logger: A structlog logger; ``structlog.get_logger("chainsink")`` by default.
        level: The method for text that carries no level (``"info"``).
        levels: The method each event kind logs with (``LogFormatter.level_for``), for
            :meth:`accepts`; without it, every kind with ``level``.

    Raises:
        ImportError: If structlog is not installed (``pip install chainsink[structlog]``).
        ValueError: For an unknown level name.
    """

    _NAMES = tuple(_STRUCTLOG_LEVELS)

    def __init__(self, logger: Any = None, *, level: str = "info",
                 levels: LevelFor | None = None) -> None:
        self._lines = LogFormatter.for_structlog(level)  # for another formatter's text
        by_kind = _levels_by_kind(level, levels if levels is not None else self._lines.level_for)
        for name in {level, *by_kind.values()}:
            if name not in self._NAMES:
                raise ValueError(f"level must be one of {self._NAMES}, not {name!r}")
        if logger is None:
            logger = _optional("structlog").get_logger("chainsink")
        self.logger = logger
        self._level = level
        self._by_kind = {kind: _STRUCTLOG_LEVELS[str(name)] for kind, name in by_kind.items()}
        self._console: type | None = getattr(sys.modules.get("structlog.dev"), "ConsoleRenderer",
                                             None)
        # structlog's lazy proxy type (get_logger(), wrap_logger()), if this structlog has it
        self._proxy: Any = getattr(sys.modules.get("structlog._config"), "BoundLoggerLazyProxy",
                                   None)
        self._assembled = _Assembled()
        self._writer = BackgroundWriter("structlog", Reporter("structlog"))

    def accepts(self, kind: str) -> bool:
        """Whether the logger logs an event of ``kind`` (filtering loggers say; others do)."""
        logger: Any = self.logger
        if type(logger) is self._proxy:
            # a lazy proxy (get_logger(), wrap_logger()) assembles a logger from structlog's
            # configuration at each call; assemble it once per event: the write that follows
            # on this thread uses it
            logger = logger.bind()
            self._assembled.logger = logger
        enabled = getattr(logger, "is_enabled_for", None)
        if enabled is None:
            return True
        return bool(enabled(self._by_kind.get(kind, _STRUCTLOG_LEVELS[self._level])))

    def _now(self) -> Any:
        """The logger to call: a lazy proxy's logger as accepts() assembled it for this event
        (structlog assembles one for each call to a proxy), else as it is."""
        logger: Any = self.logger
        if type(logger) is not self._proxy:
            return logger
        assembled = self._assembled
        bound = assembled.logger
        if bound is None:
            return logger.bind()
        assembled.logger = None
        return bound

    def write(self, text: str, event: Any = None) -> None:
        """Log ``text`` as structlog's event; a LogLine with its method and fields."""
        logger = self._now()
        if type(text) is not LogLine and type(event) is Event:
            text = self._lines.line(event, _message(text))
        if type(text) is LogLine:
            level = text.level
            method = getattr(logger, level if type(level) is str else str(level))
            fields, message = text.fields, str.__str__(text)
            if fields is None or (self._console is not None
                                  and _renders_for_console(logger, self._console)):
                fields = _NO_FIELDS
        else:
            method, fields, message = getattr(logger, self._level), _NO_FIELDS, _message(text)
        writer = self._writer
        if _running_loop() is not None or (writer.pending() and not writer.drain()):
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


class _Assembled(threading.local):
    """The logger a structlog lazy proxy assembled for this thread's last
    :meth:`StructlogSink.accepts`, until the write that follows takes it."""

    logger: Any = None


def _call_kw(method: Any, message: str, fields: dict[str, Any]) -> None:
    method(message, **fields)
