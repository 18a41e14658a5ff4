"""The one record every LangChain callback becomes.

A handler turns each callback into an :class:`Event`; processors, formatters and sinks only ever
see events. The event keeps the values LangChain passed (so the classic console can print
``str(output)`` exactly as LangChain does); turning them into JSON is the formatters' job.
"""

from __future__ import annotations

import datetime as _dt
import time as _time
from typing import Any, NamedTuple
from uuid import UUID

#: JSONL schema version written in every record's ``v`` key.
SCHEMA_VERSION = 1

#: Every ``event`` value, in callback order.
EVENT_KINDS: tuple[str, ...] = (
    "chain_start",
    "chain_end",
    "chain_error",
    "llm_start",
    "chat_model_start",
    "llm_new_token",
    "llm_end",
    "llm_error",
    "tool_start",
    "tool_end",
    "tool_error",
    "retriever_start",
    "retriever_end",
    "retriever_error",
    "agent_action",
    "agent_finish",
    "text",
    "retry",
    "custom_event",
)

START_KINDS = frozenset(
    {"chain_start", "llm_start", "chat_model_start", "tool_start", "retriever_start"}
)
END_KINDS = frozenset({"chain_end", "llm_end", "tool_end", "retriever_end"})
ERROR_KINDS = frozenset({"chain_error", "llm_error", "tool_error", "retriever_error"})


class Event(NamedTuple):
    """One LangChain callback, with the run it belongs to.

    Events are immutable (a named tuple): a processor that changes one returns a new event
    with :meth:`replace` and never edits ``data`` in place.

    Attributes:
        event: The callback's name without ``on_`` (one of :data:`EVENT_KINDS`).
        ts: When the callback fired, in seconds since the epoch (``time.time()``); see
            :attr:`datetime` for an aware UTC datetime.
        run_id: The run the callback is about.
        parent_run_id: The parent run, or None at a root.
        trace_id: The root run's id (the run's own id when its parent was never seen).
        depth: How many ancestors this handler saw above the run (0 at a root).
        name: The run's name (``kwargs["name"]`` -> ``serialized["name"]`` ->
            ``serialized["id"][-1]`` -> ``"<unknown>"``).
        run_type: ``chain``, ``llm``, ``tool``, ``retriever``, ``prompt``, ``parser``, ...
        tags: The run's tags.
        metadata: The run's metadata.
        data: The event's own fields, named as in the JSONL record (``inputs``, ``outputs``,
            ``duration_ms``, ``error``, ``usage``, ``model``, ``token``, ...). Values are what
            LangChain passed, not yet made JSON-safe. ``display`` carries LangChain's console
            hints (``color``, ``end``, prefixes) so a log renders as the console did.
    """

    event: str
    ts: float
    run_id: UUID
    parent_run_id: UUID | None
    trace_id: UUID
    depth: int
    name: str
    run_type: str
    tags: list[str]
    metadata: dict[str, Any]
    data: dict[str, Any]

    @property
    def datetime(self) -> _dt.datetime:
        """When the callback fired, as an aware UTC datetime."""
        return _dt.datetime.fromtimestamp(self.ts, _dt.UTC)

    @property
    def is_root_end(self) -> bool:
        """True for the end or error event of a trace's root run (the trace is complete)."""
        return self.run_id == self.trace_id and (
            self.event in END_KINDS or self.event in ERROR_KINDS
        )

    def replace(self, **changes: Any) -> Event:
        """A copy of this event with some fields changed (``event.replace(name="x")``)."""
        return self._replace(**changes)


def rfc3339(ts: float) -> str:
    """``ts`` (seconds since the epoch) as RFC 3339 UTC with microseconds, e.g.
    ``2026-11-21T16:17:31.215010Z``."""
    whole = int(ts)
    micros = round((ts - whole) * 1_000_000)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    cached = _SECOND[0]  # one tuple read: safe against another thread replacing it
    if cached[0] != whole:
        cached = (whole, _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(whole)))
        _SECOND[0] = cached
    return "%s.%06dZ" % (cached[1], micros)  # noqa: UP031 - measurably faster here


_SECOND: list[tuple[int, str]] = [(-1, "")]  # the last second formatted: most events share it
