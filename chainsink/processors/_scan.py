"""Cheap views of an event for the processors' fast checks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from chainsink._jsonable import dumps
from chainsink._schema import END_KINDS, ERROR_KINDS, Event

_local = threading.local()
_CLOSING = END_KINDS | ERROR_KINDS
#: Per-run verdicts kept at most; runs that never end must not grow them forever.
_MAX_RUNS = 10_000
#: Run blobs whose verdicts are kept at most, and the longest kept.
_MAX_KNOWN = 1024
_MAX_KNOWN_BLOB = 4096


def run_blob(tags: Any, metadata: Any) -> bytes:
    """A run's ``[tags, metadata]`` as JSON bytes, serialized once per run per thread."""
    cached = getattr(_local, "run", None)
    if cached is not None and cached[0] is tags and cached[1] is metadata:
        blob: bytes = cached[2]
        return blob
    blob = dumps((tags, metadata)) if tags or metadata else b"[[],{}]"
    _local.run = (tags, metadata, blob)
    return blob


class RunVerdicts:
    """Remembers a yes/no about a run's tags and metadata, which are the same for all its events.

    Args:
        decide: Computes the verdict from the run's :func:`run_blob` the first time a run is
            seen.
        by_content: Keep verdicts by blob too, for later runs with the same tags and metadata
            (``decide`` must then depend on the bytes alone, not on settings that may change).
    """

    def __init__(self, decide: Callable[[bytes], bool], *, by_content: bool = True) -> None:
        self._decide = decide
        self._by_content = by_content
        # keyed by the run id's int (hashed in C); the objects are held, so identity is reliable
        self._runs: dict[int, tuple[Any, Any, bool]] = {}
        #: verdicts by blob: runs of one chain share their tags and metadata (``decide`` is a
        #: function of the bytes alone), so a new run of a known shape costs a lookup
        self._blobs: dict[bytes, bool] = {}

    def __call__(self, event: Event) -> bool:
        """The verdict for the event's run (recomputed if its tags or metadata changed)."""
        run = event.run_id.int
        found = self._runs.get(run)
        if found is None or found[0] is not event.tags or found[1] is not event.metadata:
            if len(self._runs) >= _MAX_RUNS:
                self._runs.clear()
            blob = run_blob(event.tags, event.metadata)
            verdict = self._blobs.get(blob) if self._by_content else None
            if verdict is None:
                verdict = bool(self._decide(blob))
                if self._by_content and len(blob) <= _MAX_KNOWN_BLOB:
                    if len(self._blobs) >= _MAX_KNOWN:
                        self._blobs.clear()
                    self._blobs[blob] = verdict
            found = (event.tags, event.metadata, verdict)
            self._runs[run] = found
        if event.event in _CLOSING:
            self._runs.pop(run, None)
        return found[2]
