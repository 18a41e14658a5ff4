"""chainsink: real logging for LangChain.

Callback handlers that record every event of a run and write it, through one formatter layer
(LangChain's console text, detailed console, plain text, JSONL), to stdout, files and more.

    >>> from chainsink import FileCallbackHandler, StdOutCallbackHandler

How the package is laid out (one direction: callback -> event -> processors -> formatter ->
sink; only ``handlers`` imports LangChain):

- ``_schema.py``: the record: :class:`Event`, event kinds, record keys and their order.
- ``handlers/``: the LangChain edge. ``_adapter.py`` (callbacks -> events), ``_runs.py`` (the
  run tree), ``_pipeline.py`` (processors -> formatter -> sink, the token shortcut),
  ``_lifecycle.py`` (exit, SIGTERM, fork), ``_langchain.py`` (what LangChain's objects
  say), and the ready-made handlers (stdout, file, rotating file, loggers, capture, verbose).
- ``processors/``, ``formatters/``, ``sinks/``: the building blocks; their contracts are the
  Protocols in ``typing.py``.
- ``read.py``, ``report/``, ``cli/``: the reading side, LangChain-free.
- ``otel/``: OpenTelemetry export (extra ``chainsink[otel]``); ``testing.py``: helpers for
  users' own tests.

Where a change goes (source files; plus tests, which mirror this layout):

- A sink: a module in ``sinks/`` (subclass :class:`chainsink.sinks.Sink`) and its export in
  ``sinks/__init__.py`` (and, if users may pass the thing it wraps, a case in ``make_sink``
  there).
- A processor: a module in ``processors/`` and its export in ``processors/__init__.py``.
- A formatter: a module in ``formatters/`` and its export in ``formatters/__init__.py``.
- A key on every record: a field of :class:`Event` in ``_schema.py`` and the line that fills
  it in ``handlers/_adapter.py`` (``CallbackHandler._event``); writers and readers follow.
- An event kind: ``_schema.py`` (kinds and fields), its ``on_...`` callback in
  ``handlers/_adapter.py``, its look in ``formatters/_console.py``.
- A CLI subcommand: ``cli/_<name>.py`` and its line in ``cli/_main.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chainsink._lazy import lazy_names as _lazy_names

if TYPE_CHECKING:
    from chainsink._schema import EVENT_KINDS, SCHEMA_VERSION, Event
    from chainsink.handlers import (
        CallbackHandler,
        FileCallbackHandler,
        LoggingCallbackHandler,
        LoguruCallbackHandler,
        RotatingFileCallbackHandler,
        StdOutCallbackHandler,
        StructlogCallbackHandler,
        UsageTotals,
        capture,
        install,
        installed,
        uninstall,
        usage,
    )
    from chainsink.read import BadLine, event_from_record, read_events

# Public names are loaded on first use (PEP 562), so `chainsink tail` and friends do not pay
# for langchain-core's tracing stack they never touch.
_LAZY = {
    "BadLine": "chainsink.read",
    "CallbackHandler": "chainsink.handlers",
    "EVENT_KINDS": "chainsink._schema",
    "Event": "chainsink._schema",
    "FileCallbackHandler": "chainsink.handlers",
    "LoggingCallbackHandler": "chainsink.handlers",
    "LoguruCallbackHandler": "chainsink.handlers",
    "RotatingFileCallbackHandler": "chainsink.handlers",
    "SCHEMA_VERSION": "chainsink._schema",
    "StdOutCallbackHandler": "chainsink.handlers",
    "StructlogCallbackHandler": "chainsink.handlers",
    "UsageTotals": "chainsink.handlers",
    "capture": "chainsink.handlers",
    "event_from_record": "chainsink.read",
    "install": "chainsink.handlers",
    "installed": "chainsink.handlers",
    "read_events": "chainsink.read",
    "uninstall": "chainsink.handlers",
    "usage": "chainsink.handlers",
}


__getattr__, __dir__ = _lazy_names(__name__, _LAZY)


__version__ = "0.1.0"

__all__ = [
    "BadLine",
    "CallbackHandler",
    "EVENT_KINDS",
    "Event",
    "FileCallbackHandler",
    "LoggingCallbackHandler",
    "LoguruCallbackHandler",
    "RotatingFileCallbackHandler",
    "SCHEMA_VERSION",
    "StdOutCallbackHandler",
    "StructlogCallbackHandler",
    "UsageTotals",
    "capture",
    "event_from_record",
    "install",
    "installed",
    "read_events",
    "uninstall",
    "usage",
]
