"""The one record every LangChain callback becomes.

A handler turns each callback into an :class:`Event`; processors, formatters and sinks only ever
see events. The event keeps the values LangChain passed (so the classic console can print
``str(output)`` exactly as LangChain does); turning them into JSON is the formatters' job.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any
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


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """One LangChain callback, with the run it belongs to.

    Events are immutable: a processor that changes one returns a new event
    (``dataclasses.replace``) and never edits ``data`` in place.

    Attributes:
        event: The callback's name without ``on_`` (one of :data:`EVENT_KINDS`).
        ts: When the callback fired, as an aware UTC datetime.
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
            LangChain passed, not yet made JSON-safe. Keys starting with ``_`` carry display
            hints for the console (LangChain's ``color``, ``end``, prefixes) and are not part of
            the JSONL schema.
    """

    event: str
    ts: datetime
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
    def is_root_end(self) -> bool:
        """True for the end or error event of a trace's root run (the trace is complete)."""
        return self.run_id == self.trace_id and (
            self.event in END_KINDS or self.event in ERROR_KINDS
        )
