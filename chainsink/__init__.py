"""chainsink: real logging for LangChain.

Callback handlers that record every event of a run and write it, through one formatter layer
(LangChain's console text, detailed console, plain text, JSONL), to stdout, files and more.

    >>> from chainsink import FileCallbackHandler, StdOutCallbackHandler
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Public names are loaded on first use (PEP 562), so `chainsink tail` and friends do not pay
# for langchain-core's tracing stack they never touch.
_LAZY = {
    "BadLine": "chainsink._read",
    "CallbackHandler": "chainsink._handler",
    "EVENT_KINDS": "chainsink._event",
    "Event": "chainsink._event",
    "FileCallbackHandler": "chainsink._file",
    "LoggingCallbackHandler": "chainsink._loggers",
    "LoguruCallbackHandler": "chainsink._loggers",
    "RotatingFileCallbackHandler": "chainsink._loggers",
    "SCHEMA_VERSION": "chainsink._event",
    "StdOutCallbackHandler": "chainsink._stdout",
    "StructlogCallbackHandler": "chainsink._loggers",
    "UsageTotals": "chainsink._capture",
    "capture": "chainsink._capture",
    "event_from_record": "chainsink._read",
    "install": "chainsink._verbose",
    "installed": "chainsink._verbose",
    "read_events": "chainsink._read",
    "uninstall": "chainsink._verbose",
    "usage": "chainsink._capture",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'chainsink' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
