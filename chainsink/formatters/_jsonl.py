"""JSONL: one record per event, schema version 1, serialized by orjson."""

from __future__ import annotations

from typing import Any

from chainsink._event import SCHEMA_VERSION, Event
from chainsink._jsonable import dumps, to_jsonable


def record(event: Event) -> dict[str, Any]:
    """The JSONL record of ``event`` as a dict (values not yet made JSON-safe).

    The common keys come first, in schema order; the event's own fields follow.
    """
    rec: dict[str, Any] = {
        "v": SCHEMA_VERSION,
        "ts": event.ts.isoformat(timespec="microseconds")[:-6] + "Z",
        "event": event.event,
        "run_id": event.run_id,
        "parent_run_id": event.parent_run_id,
        "trace_id": event.trace_id,
        "depth": event.depth,
        "name": event.name,
        "run_type": event.run_type,
        "tags": event.tags,
        "metadata": event.metadata,
    }
    rec.update(event.data)
    return rec


def json_record(event: Event) -> dict[str, Any]:
    """The JSONL record of ``event`` as plain JSON values (for structured logging sinks)."""
    result: dict[str, Any] = to_jsonable(record(event))
    return result


class JsonlFormatter:
    """Render an event as one line of JSON (with its trailing newline).

    Every value a chain can pass serializes: LangChain messages, documents and generations
    become compact dicts, anything else unknown its ``repr``; the line is always valid UTF-8
    JSON and never contains a raw newline.
    """

    def __call__(self, event: Event) -> str:
        """Return ``event`` as a JSON line ending in ``\\n``."""
        return dumps(record(event)).decode("utf-8") + "\n"
