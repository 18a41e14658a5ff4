"""One line on stderr when something inside chainsink fails; never an exception."""

from __future__ import annotations

import sys


class Reporter:
    """Reports each kind of failure of its owner once, as one line on stderr.

    Logging must never take the user's run down, and a failing disk must not flood stderr
    either: the first failure of each kind is reported, later ones are counted silently.
    """

    __slots__ = ("_owner", "_seen")

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._seen: set[str] = set()

    def __call__(self, kind: str, exc: BaseException | str, where: str | None = None) -> None:
        """Write ``chainsink: <owner>: <where or kind>: <error>`` to stderr the first time
        ``kind`` fails."""
        if kind in self._seen:
            return
        self._seen.add(kind)
        try:
            detail = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        except Exception:  # noqa: BLE001 - an exception whose __str__ raises
            detail = type(exc).__name__
        line = (f"chainsink: {self._owner}: {where or kind}: {detail}"
                " (further errors of this kind are not shown)")
        try:
            stream = sys.__stderr__ if sys.stderr is None else sys.stderr
            if stream is not None:
                stream.write(line.replace("\n", " ") + "\n")
                stream.flush()
        except Exception:  # noqa: BLE001, S110 - stderr itself is gone: nothing left to tell
            pass
