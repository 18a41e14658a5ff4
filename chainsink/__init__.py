"""chainsink: real logging for LangChain.

Callback handlers that record every event of a run and write it, through one formatter layer
(LangChain's console text, detailed console, plain text, JSONL), to stdout, files and more.

    >>> from chainsink import FileCallbackHandler, StdOutCallbackHandler
"""

from __future__ import annotations

from chainsink._capture import UsageTotals, capture, usage
from chainsink._event import EVENT_KINDS, SCHEMA_VERSION, Event
from chainsink._file import FileCallbackHandler
from chainsink._handler import CallbackHandler
from chainsink._loggers import (
    LoggingCallbackHandler,
    LoguruCallbackHandler,
    RotatingFileCallbackHandler,
    StructlogCallbackHandler,
)
from chainsink._read import BadLine, event_from_record, read_events
from chainsink._stdout import StdOutCallbackHandler
from chainsink._verbose import install, installed, uninstall

__version__ = "0.1.0"

__all__ = [
    "EVENT_KINDS",
    "SCHEMA_VERSION",
    "BadLine",
    "CallbackHandler",
    "Event",
    "FileCallbackHandler",
    "LoggingCallbackHandler",
    "LoguruCallbackHandler",
    "RotatingFileCallbackHandler",
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
