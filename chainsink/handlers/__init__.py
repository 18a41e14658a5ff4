"""The LangChain edge: callback handlers that turn LangChain callbacks into events.

This is the only part of chainsink that imports langchain-core. Each handler is a
:class:`CallbackHandler` (the adapter: callbacks -> :class:`~chainsink.Event`) driving one
pipeline (processors -> formatter -> sink); the rest of chainsink never sees LangChain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chainsink._lazy import lazy_names as _lazy_names
from chainsink.handlers import _langchain  # noqa: F401 - teaches JSON LangChain's types

if TYPE_CHECKING:
    from chainsink.handlers._adapter import CallbackHandler
    from chainsink.handlers._capture import UsageTotals, capture, capture_process, usage
    from chainsink.handlers._file_handlers import FileCallbackHandler, RotatingFileCallbackHandler
    from chainsink.handlers._logger_handlers import (
        LoggingCallbackHandler,
        LoguruCallbackHandler,
        StructlogCallbackHandler,
    )
    from chainsink.handlers._stdout import StdOutCallbackHandler
    from chainsink.handlers._verbose import install, installed, uninstall

# Loaded on first use (PEP 562): a program using one handler does not pay for the others
# (capture's tracing hooks, the logger integrations).
_LAZY = {
    "CallbackHandler": "._adapter",
    "FileCallbackHandler": "._file_handlers",
    "LoggingCallbackHandler": "._logger_handlers",
    "LoguruCallbackHandler": "._logger_handlers",
    "RotatingFileCallbackHandler": "._file_handlers",
    "StdOutCallbackHandler": "._stdout",
    "StructlogCallbackHandler": "._logger_handlers",
    "UsageTotals": "._capture",
    "capture": "._capture",
    "capture_process": "._capture",
    "install": "._verbose",
    "installed": "._verbose",
    "uninstall": "._verbose",
    "usage": "._capture",
}


__getattr__, __dir__ = _lazy_names(__name__, _LAZY)


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
    "capture_process",
    "install",
    "installed",
    "uninstall",
    "usage",
]
