"""Cheap views of an event for the processors' fast checks."""

from __future__ import annotations

import threading
from typing import Any

from chainsink._event import END_KINDS, ERROR_KINDS, Event
from chainsink._jsonable import dumps

_local = threading.local()
_CLOSING = END_KINDS | ERROR_KINDS
#: Per-run verdicts kept at most; runs that never end must not grow them forever.
_MAX_RUNS = 10_000


def payload_blob(event: Event) -> bytes:
    """The values of the event's ``data`` as JSON bytes, computed once per event per thread.

    The top-level keys are chainsink's own schema fields, so they are left out; processors
    decide from this blob, in C-speed scans, whether an event needs their slow path.
    """
    cached = getattr(_local, "last", None)
    if cached is not None and cached[0] is event:
        blob: bytes = cached[1]
        return blob
    blob = dumps(list(event.data.values())) if event.data else b"[]"
    _local.last = (event, blob)
    return blob


class RunVerdicts:
    """Remembers a yes/no about a run's tags and metadata, which are the same for all its events.

    Args:
        decide: Computes the verdict from ``(tags, metadata)`` the first time a run is seen.
    """

    def __init__(self, decide: Any) -> None:
        self._decide = decide
        # keyed by the run id's int (hashed in C); the objects are held, so identity is reliable
        self._runs: dict[int, tuple[Any, Any, bool]] = {}

    def __call__(self, event: Event) -> bool:
        """The verdict for the event's run (recomputed if its tags or metadata changed)."""
        run = event.run_id.int
        found = self._runs.get(run)
        if found is None or found[0] is not event.tags or found[1] is not event.metadata:
            if len(self._runs) >= _MAX_RUNS:
                self._runs.clear()
            found = (event.tags, event.metadata, bool(self._decide(event.tags, event.metadata)))
            self._runs[run] = found
        if event.event in _CLOSING:
            self._runs.pop(run, None)
        return found[2]
