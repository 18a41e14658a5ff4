"""``install()``/``uninstall()``: make LangChain's ``verbose`` print through chainsink."""

from __future__ import annotations

import threading
from typing import Any

from langchain_core.callbacks import StdOutCallbackHandler as _LangChainStdOut
from langchain_core.callbacks import manager as _manager

from chainsink.handlers._stdout import StdOutCallbackHandler

_lock = threading.Lock()
#: The name langchain-core's ``_configure`` looks up when ``verbose`` is on.
_NAME = "StdOutCallbackHandler"


class _LooksLikeLangChainStdOut(type):
    # LangChain's verbose check is ``isinstance(h, StdOutCallbackHandler)`` on this name;
    # answering for langchain-core's class keeps "one stdout handler per run" exactly as before
    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, _LangChainStdOut)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, _LangChainStdOut)


class VerboseStdOutHandler(StdOutCallbackHandler, metaclass=_LooksLikeLangChainStdOut):
    """The handler LangChain's ``verbose`` creates after :func:`install`: detailed style."""

    def __init__(self, color: str | None = None) -> None:
        super().__init__(color, style="detailed")


def install() -> None:
    """Make ``verbose=True`` and ``set_verbose(True)`` print through chainsink's detailed console.

    From now on, wherever LangChain would add its own ``StdOutCallbackHandler`` for a verbose
    object, it adds chainsink's in ``detailed`` style, so a verbose chat model inside an LCEL
    chain prints its prompt and output (langchain-core's prints nothing there). Idempotent.
    """
    with _lock:
        setattr(_manager, _NAME, VerboseStdOutHandler)


def uninstall() -> None:
    """Restore LangChain's own verbose output exactly. Idempotent."""
    with _lock:
        setattr(_manager, _NAME, _LangChainStdOut)


def installed() -> bool:
    """Whether :func:`install` is in effect."""
    return getattr(_manager, _NAME) is VerboseStdOutHandler
