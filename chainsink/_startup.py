"""Start-up hook for ``CHAINSINK_LOG`` and ``CHAINSINK_OTLP``: imported by
``chainsink-startup.pth`` only when one of them is set.

The ``.pth`` line costs one environment lookup when neither is set, so every Python process pays
almost nothing. When one is, this module costs little more (it imports no LangChain): it puts a
finder on ``sys.meta_path`` that waits for the process to import ``langchain_core``. A process
that never does (``chainsink run -- make`` starts many) never pays for LangChain; in one that
does, once ``langchain_core`` is imported and before anything can use it, every LangChain run
of the process starts being recorded to ``$CHAINSINK_LOG`` (and sent to ``$CHAINSINK_OTLP``),
without the program importing chainsink, and the finder leaves ``sys.meta_path``.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _absolute(path: str) -> str:
    try:
        return os.path.abspath(path)
    except OSError:  # the working directory is gone: the path as given is all there is
        return path


# read at start-up: a relative log stays where the process started, whatever it chdirs to
_LOG = _absolute(os.environ["CHAINSINK_LOG"]) if os.environ.get("CHAINSINK_LOG") else ""
_OTLP = os.environ.get("CHAINSINK_OTLP") or ""


def start() -> None:
    """Begin recording the process to ``$CHAINSINK_LOG``; report (never raise) on failure."""
    if not _LOG:
        return
    try:
        from chainsink.handlers import capture_process

        capture_process(_LOG)
    except Exception as exc:  # noqa: BLE001 - a broken hook must not break every program
        print(f"chainsink: CHAINSINK_LOG={_LOG!r} not recorded: {type(exc).__name__}: {exc}",
              file=sys.stderr)


def start_otlp() -> None:
    """Begin sending the process's runs to ``$CHAINSINK_OTLP`` (an OTLP/HTTP base URL) as
    OpenTelemetry spans, flushed at exit; report (never raise) on failure."""
    url = _OTLP
    if not url:
        return
    try:
        from chainsink.otel import require_otel

        require_otel()
        from chainsink.otel import export_process

        export_process(url)
    except Exception as exc:  # noqa: BLE001 - a broken hook must not break every program
        print(f"chainsink: CHAINSINK_OTLP={url!r} not exported: {exc}", file=sys.stderr)


def _record() -> None:
    start()
    start_otlp()


class _Loader:
    """``langchain_core``'s own loader, which starts the recording once the package ran."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: Any) -> Any:
        create = getattr(self.loader, "create_module", None)
        return None if create is None else create(spec)

    def exec_module(self, module: Any) -> None:
        # the package looks as if it had been imported without us
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        try:
            self.loader.exec_module(module)
        except BaseException:
            _install()  # it failed to import: wait for the next attempt
            raise
        _record()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)


class _AwaitLangChain:
    """A ``sys.meta_path`` finder that finds nothing itself: it hands ``langchain_core``'s spec
    on with a loader that records the process once the package is imported."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != "langchain_core":
            return None
        # a new list: the import system may be iterating the old one right now
        sys.meta_path = [finder for finder in sys.meta_path if finder is not self]
        try:
            from importlib.util import find_spec

            spec = find_spec(fullname)
        except Exception:  # noqa: BLE001 - the import system will say what is wrong
            return None
        if spec is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _Loader(spec.loader)  # type: ignore[assignment] # duck-typed Loader
        return spec


_HOOK = _AwaitLangChain()


def _install() -> None:
    """Record now if ``langchain_core`` is already imported, else when it is."""
    if not (_LOG or _OTLP):
        return
    if "langchain_core" in sys.modules:
        _record()
    elif _HOOK not in sys.meta_path:
        sys.meta_path = [_HOOK, *sys.meta_path]


_install()
