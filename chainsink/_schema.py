"""The record: what every LangChain callback becomes, and the one home of its key names.

A handler turns each callback into an :class:`Event`; processors, formatters and sinks only ever
see events. The event keeps the values LangChain passed (so the classic console can print
``str(output)`` exactly as LangChain does); turning them into JSON is the formatters' job.

This module owns the JSONL record's shape: :data:`SCHEMA_VERSION`, the event kinds, the keys
every record starts with and their order (``v``, ``ts``, ``event``, then :data:`RUN_KEYS`, the
:class:`Event` fields between ``ts`` and ``data``), the per-kind fields (:data:`KIND_FIELDS`)
and the small facts the reading and writing sides share (timestamps, token keys, LangChain's
placeholder input, a trace id's short tag).

Adding a key to every record: add a field to :class:`Event` (before ``data``, with a default
read back from old logs in :data:`RUN_KEY_DEFAULTS`), and fill it in the adapter
(``chainsink/handlers/_adapter.py``, ``CallbackHandler._event``). The JSONL formatter, the
reader (:func:`chainsink.read.event_from_record`) and the logger fields follow from here.

Adding an event kind: add it to :data:`EVENT_KINDS` (and to the start/end/error sets it
belongs to) with its fields in :data:`KIND_FIELDS`, add the callback to the adapter, and say
how the detailed console shows it (``chainsink/formatters/_console.py``).
"""

from __future__ import annotations

import datetime as _dt
import math
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

#: The fields each kind's record carries after the common keys, as the adapter writes them
#: (``usage_by_model`` is on a trace root's end; error kinds add ``interrupted``/``interrupt``
#: for a run that stopped without failing, or ``aborted`` for one chainsink closed). An error
#: kind's ``error`` is ``{type, message, traceback}``; ``traceback`` (Python's text, the last 50
#: frames) is there only for a failure whose exception was raised, never on a stop or on a
#: record chainsink wrote itself (aborted, stopped with its trace), nor on ``retry``.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "chain_start": ("inputs", "defers_inputs"),
    "chain_end": ("outputs", "inputs", "duration_ms", "usage_by_model"),
    "chain_error": ("error", "duration_ms", "interrupted", "interrupt", "aborted"),
    "llm_start": ("prompts", "invocation_params"),
    "chat_model_start": ("messages", "invocation_params"),
    "llm_new_token": ("token",),
    "llm_end": ("outputs", "usage", "model", "duration_ms", "usage_by_model"),
    "llm_error": ("error", "duration_ms", "interrupted", "interrupt", "aborted"),
    "tool_start": ("input_str", "inputs", "tool_call_id"),
    "tool_end": ("outputs", "duration_ms", "display", "usage_by_model"),
    "tool_error": ("error", "duration_ms", "interrupted", "interrupt", "aborted"),
    "retriever_start": ("query",),
    "retriever_end": ("outputs", "duration_ms", "usage_by_model"),
    "retriever_error": ("error", "duration_ms", "interrupted", "interrupt", "aborted"),
    "agent_action": ("tool", "tool_input", "log", "display"),
    "agent_finish": ("return_values", "log", "display"),
    "text": ("text", "display"),
    "retry": ("attempt", "error"),
    "custom_event": ("event_name", "data"),
}

#: The token counts of a ``usage`` value, as LangChain's ``usage_metadata`` names them.
TOKEN_KEYS = ("input_tokens", "output_tokens", "total_tokens")

#: What LangChain passes as a chain's inputs when it was given none (``{"input": ""}``).
PLACEHOLDER_INPUTS: dict[str, str] = {"input": ""}

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


#: The run's own keys, written on every record after ``v``, ``ts`` and ``event``, in this
#: order: the :class:`Event` fields between ``ts`` and ``data``.
RUN_KEYS: tuple[str, ...] = Event._fields[2:-1]

#: Every record's first keys, in order.
HEAD_KEYS: tuple[str, ...] = ("v", "ts", "event", *RUN_KEYS)

#: What a reader uses for a run key that an old or foreign record lacks (ids have none here:
#: a record without a usable ``run_id`` reads as the all-zero UUID).
RUN_KEY_DEFAULTS: dict[str, Any] = {
    "parent_run_id": None, "depth": 0, "name": "<unknown>", "run_type": "chain", "tags": [],
    "metadata": {},
}


def run_fields(event: Event) -> dict[str, Any]:
    """The run keys of ``event``'s record, in schema order."""
    return dict(zip(RUN_KEYS, event[2:-1], strict=True))


def short_id(trace_id: str) -> str:
    """The short tag of a trace id: its last 8 hex digits (the console's and tail's ``[tag]``).

    LangChain's run ids are UUIDv7, whose leading digits are a timestamp shared by every run
    started in the same minute; the trailing digits are random.
    """
    digits = trace_id.replace("-", "")
    return digits[-8:] if len(digits) > 8 else digits


#: The breakdowns a ``usage`` value keeps when the model reports them, as LangChain's
#: usage_metadata names them (``cache_read``, ``cache_creation``, ``audio``; ``reasoning``,
#: ``audio``): parts of ``input_tokens`` and ``output_tokens``, which pricing needs.
TOKEN_DETAIL_KEYS = ("input_token_details", "output_token_details")


def _tokens(value: Any) -> int:
    """A reported token count as an int: 0 for what is not one (None, NaN, infinity, text
    that is not a number, a bool), so odd usage never costs the record it is in."""
    if value.__class__ is int:
        return int(value)
    if isinstance(value, bool) or value is None:
        return 0
    try:
        return int(value) if not isinstance(value, float) or math.isfinite(value) else 0
    except (TypeError, ValueError, OverflowError):
        return 0


def add_usage(totals: dict[str, Any], usage: Any) -> None:
    """Add a ``usage`` mapping's token counts (:data:`TOKEN_KEYS`) into ``totals``, and its
    :data:`TOKEN_DETAIL_KEYS` breakdowns (summed per detail) where it has them."""
    for key in TOKEN_KEYS:
        totals[key] = totals.get(key, 0) + _tokens(usage.get(key))
    for group in TOKEN_DETAIL_KEYS:
        details = usage.get(group)
        if not details or not hasattr(details, "items"):
            continue
        summed = totals.get(group)
        if not isinstance(summed, dict):
            summed = totals[group] = {}
        for name, value in details.items():
            # a count (never a flag); anything else a provider puts here is not summed
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                summed[name] = summed.get(name, 0) + _tokens(value)


def parse_time(value: Any) -> _dt.datetime | None:
    """An RFC 3339 ``ts`` (``...Z`` or an offset; none is taken as UTC) as an aware UTC
    datetime, or None if it is not a string holding a time."""
    if not isinstance(value, str):
        return None
    try:
        when = _dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        return when.replace(tzinfo=_dt.UTC)
    try:
        return when.astimezone(_dt.UTC)
    except OverflowError:  # year 1 minus an offset
        return None


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
