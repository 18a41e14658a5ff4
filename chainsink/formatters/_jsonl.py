"""JSONL: one record per event, schema version 1, serialized by orjson."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from chainsink._jsonable import data_json, dumps
from chainsink._schema import (
    END_KINDS,
    ERROR_KINDS,
    EVENT_KINDS,
    SCHEMA_VERSION,
    Event,
    rfc3339,
    run_fields,
)

_CLOSING = END_KINDS | ERROR_KINDS
_HEAD = {kind: f'{{"v":{SCHEMA_VERSION},"ts":"%s","event":"{kind}",' for kind in EVENT_KINDS}
_HEAD_BYTES = {kind: head.encode() for kind, head in _HEAD.items()}
#: Run prefixes kept at most; runs that never end must not grow the cache forever.
_MAX_CACHED_RUNS = 10_000


def record(event: Event) -> dict[str, Any]:
    """The JSONL record of ``event`` as a dict (values not yet made JSON-safe).

    The common keys come first, in schema order; the event's own fields follow.
    """
    rec = _common_fields(event)
    rec.update(event.data)
    return rec


def _common_fields(event: Event) -> dict[str, Any]:
    """The keys every record starts with, in schema order."""
    return {"v": SCHEMA_VERSION, "ts": rfc3339(event.ts), "event": event.event,
            **run_fields(event)}


def json_record(event: Event) -> dict[str, Any]:
    """The JSONL record of ``event`` as plain JSON values (for structured logging sinks)."""
    head = dumps(_common_fields(event))
    data = data_json(event)  # usually already serialized for the processors' checks
    # the event's fields follow (and, as in record(), win over) the common keys
    joined = head if data == b"{}" or data[:1] != b"{" else head[:-1] + b"," + data[1:]
    result: dict[str, Any] = orjson.loads(joined)
    return result


def _same(cached: tuple[Any, ...], values: tuple[Any, ...]) -> bool:
    """Whether a run's cached key values are still ``values``. Events of one run share these
    objects, and a tuple compares its items by identity first, so this is cheap; a value whose
    ``==`` raises (a numpy array in metadata) counts as changed."""
    try:
        return bool(cached == values)
    except Exception:  # noqa: BLE001 - hostile __eq__
        return False


class JsonlFormatter:
    """Render an event as one line of JSON (with its trailing newline).

    Every value a chain can pass serializes: LangChain messages, documents and generations
    become compact dicts, anything else unknown its ``repr``; the line is always valid UTF-8
    JSON and never contains a raw newline.

    The run's own keys (ids, name, type, tags, metadata) are serialized once per run and
    reused for each of its events, such as every streamed token.
    """

    #: Renders every kind.
    kinds = None

    def __init__(self) -> None:
        self._prefixes: dict[int, tuple[Any, ...]] = {}

    def token_line(self, event: Event) -> Callable[[float, str], bytes]:
        """A fast renderer for the streamed tokens of ``event``'s run.

        Returns ``line(ts, token)``: the UTF-8 line :meth:`__call__` would render for an
        ``llm_new_token`` event of that run at ``ts`` carrying the string ``token``. Handlers
        use it to skip building an event per token; it raises for a token orjson refuses
        (a lone surrogate), which then takes the full path.
        """
        run = dumps(run_fields(event)).decode("utf-8")[1:-1].replace("%", "%%")
        template = (_HEAD["llm_new_token"] + run + ',"token":%s}\n').encode("utf-8")
        encode = orjson.dumps

        def line(ts: float, token: str) -> bytes:
            return template % (rfc3339(ts).encode(), encode(token))

        return line

    def __call__(self, event: Event) -> str:
        """Return ``event`` as a JSON line ending in ``\\n``."""
        return self.render_bytes(event).decode("utf-8")

    def render_bytes(self, event: Event) -> bytes:
        """:meth:`__call__`'s line as UTF-8 bytes: the payload serialized once and copied
        once (see :class:`chainsink.typing.RendersBytes`)."""
        head = _HEAD_BYTES.get(event.event)
        if head is None:  # not one of ours (a record read back from elsewhere): no shortcuts
            return dumps(record(event)) + b"\n"
        prefixes = self._prefixes
        run = event.run_id.int  # an int hashes in C; a UUID's hash is Python code
        cached = prefixes.get(run)
        values = event[2:-1]  # the run keys' values (see chainsink._schema.RUN_KEYS)
        if cached is None or not _same(cached[0], values):
            if len(prefixes) >= _MAX_CACHED_RUNS:
                prefixes.clear()
            cached = (values, dumps(run_fields(event))[1:-1])
            prefixes[run] = cached
        if event.event in _CLOSING:
            prefixes.pop(run, None)
        body = data_json(event)
        stamp = head % rfc3339(event.ts).encode()
        if body == b"{}":
            return b"".join((stamp, cached[1], b"}\n"))
        return b"".join((stamp, cached[1], b",", memoryview(body)[1:], b"\n"))
