"""The LangChain edge: callback handlers that turn LangChain callbacks into events.

This is the only part of chainsink that imports langchain-core. Each handler is a
:class:`CallbackHandler` (the adapter: callbacks -> :class:`~chainsink.Event`) driving one
pipeline (processors -> formatter -> sink); the rest of chainsink never sees LangChain.
"""

from __future__ import annotations

from chainsink.handlers._adapter import CallbackHandler
from chainsink.handlers._capture import UsageTotals, capture, usage
from chainsink.handlers._file import FileCallbackHandler, RotatingFileCallbackHandler
from chainsink.handlers._loggers import (
    LoggingCallbackHandler,
    LoguruCallbackHandler,
    StructlogCallbackHandler,
)
from chainsink.handlers._stdout import StdOutCallbackHandler
from chainsink.handlers._verbose import install, installed, uninstall

__all__ = [
    "CallbackHandler",
    "FileCallbackHandler",
    "LoggingCallbackHandler",
    "LoguruCallbackHandler",
    "RotatingFileCallbackHandler",
    "StdOutCallbackHandler",
    "StructlogCallbackHandler",
    "UsageTotals",
    "capture",
    "install",
    "installed",
    "uninstall",
    "usage",
]
