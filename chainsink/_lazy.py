"""Public names loaded on first use (PEP 562), so importing a package costs only what is used."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_names(package: str, where: dict[str, str], *,
               check: Callable[[], None] | None = None
               ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` for names loaded on first use.

    Args:
        package: The package's ``__name__``.
        where: Each lazy name and the module holding it (absolute, or relative to
            ``package`` such as ``"._file_handlers"``).
        check: Called before the first import of any of them (e.g. to say which extra to
            install when a dependency is missing).
    """
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if check is not None:
            check()
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *where})

    return __getattr__, __dir__
