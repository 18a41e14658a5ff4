"""Sinks that hand records to the user's logger (loguru, structlog, stdlib logging).

The formatted text becomes the log message; the event's JSONL record becomes structured fields,
so the user's own handlers, renderers, rotation and shipping apply unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

from chainsink._event import ERROR_KINDS, Event
from chainsink._jsonable import clean_text
from chainsink.formatters import json_record
from chainsink.sinks._base import Sink

#: LogRecord attributes an ``extra`` key may not overwrite; chainsink's clashing keys get an
#: ``lc_`` prefix, except ``name`` which becomes ``run_name``.
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime"}


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

    def accepts(self, kind: str) -> bool:
        """Whether the logger would log an event of ``kind`` now (handlers skip the rest)."""
        return self.logger.isEnabledFor(self._levels[_level_of(kind)])

    def write(self, text: str, event: Any = None) -> None:
        """Log ``text`` with the event's fields as LogRecord attributes."""
        level = self._levels[_level_kind(event)]
        if not self.logger.isEnabledFor(level):
            return
        extra = stdlib_extra(json_record(event)) if isinstance(event, Event) else None
        self.logger.log(level, "%s", clean_text(text), extra=extra)

    def flush(self) -> None:
        """The logger's handlers flush themselves."""

    def close(self) -> None:
        """The logger belongs to the caller."""


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
        self.logger.bind(**fields).opt(depth=1).log(self._levels[kind], clean_text(text))

    def flush(self) -> None:
        """loguru's sinks flush themselves (``logger.complete()`` waits for enqueued ones)."""

    def close(self) -> None:
        """The logger belongs to the caller."""


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
        getattr(self.logger, self._levels[_level_kind(event)])(clean_text(text), **fields)

    def flush(self) -> None:
        """structlog's loggers flush themselves."""

    def close(self) -> None:
        """The logger belongs to the caller."""
