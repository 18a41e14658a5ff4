"""chainsink: real logging for LangChain.

Callback handlers that record every event of a run and write it, through one formatter layer
(LangChain's console text, detailed console, plain text, JSONL), to stdout, files and more.

    >>> from chainsink import FileCallbackHandler, StdOutCallbackHandler
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
