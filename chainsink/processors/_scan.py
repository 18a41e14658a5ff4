"""One serialized view of an event's payload, shared by the processors' fast checks."""

from __future__ import annotations

import threading
from typing import Any

from chainsink._event import Event
from chainsink._jsonable import dumps

_local = threading.local()


def payload_blob(event: Event) -> bytes:
    """The event's tags, metadata and data as JSON bytes (computed once per event per thread).

    Processors decide from this blob, in C-speed scans, whether an event needs their slow path;
    for most events it does not, and the event passes through untouched.
    """
    cached = getattr(_local, "last", None)
    if cached is not None and cached[0] is event:
        blob: bytes = cached[1]
        return blob
    blob = dumps((event.tags, event.metadata, event.data))
    _local.last = (event, blob)
    return blob


def forget() -> None:
    """Drop the cached blob (a processor that replaced the event invalidates it)."""
    _local.last = None


def data_fields(event: Event) -> dict[str, Any]:
    """The event's payload fields (a plain dict to build a new event from)."""
    return dict(event.data)
