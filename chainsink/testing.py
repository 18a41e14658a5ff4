"""Helpers for testing your own chains' logging (like structlog's ``capture_logs``).

    >>> from chainsink.testing import capture_events
    >>> with capture_events() as records:  # doctest: +SKIP
    ...     chain.invoke({"question": "hi"})
    >>> [r["event"] for r in records]  # doctest: +SKIP
    ['chain_start', 'chat_model_start', 'llm_end', 'chain_end']
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from chainsink.formatters import JsonlFormatter
from chainsink.handlers import CallbackHandler, capture
from chainsink.sinks import Sink
from chainsink.typing import Processor

__all__ = ["RecordList", "capture_events"]


class RecordList(list[dict[str, Any]]):
    """The records a :func:`capture_events` block saw, oldest first: plain dicts, exactly
    the JSON objects a JSONL log of the same runs would hold."""

    def of(self, *kinds: str) -> list[dict[str, Any]]:
        """The records whose ``event`` is one of ``kinds``, in order."""
        return [record for record in self if record.get("event") in kinds]


class _ListSink(Sink):
    """Parses each JSONL line back into the list it was given (no I/O, nothing buffered)."""

    def __init__(self, records: RecordList) -> None:
        self._records = records

    def write(self, text: str, event: Any = None) -> None:
        self._records.append(orjson.loads(text))

    def flush(self) -> None:
        """Nothing is buffered."""

    def close(self) -> None:
        """Nothing to release."""


@contextlib.contextmanager
def capture_events(*, processors: Iterable[Processor] | None = None) -> Iterator[RecordList]:
    """Record every LangChain run started inside the block as JSONL records, in memory.

    Works like :func:`chainsink.capture` (no callbacks passed anywhere; runs of this task or
    thread and the tasks and executor threads they start are recorded), through the same
    processors as a real handler, so what a test sees is what a log would hold, secrets
    masked and sizes capped. Records of runs that go on after the block keep arriving in the
    list.

    Args:
        processors: As for :class:`chainsink.CallbackHandler`; default: secrets masked,
            sizes capped; ``()`` records events exactly as given.

    Yields:
        A :class:`RecordList` that fills as runs report events.
    """
    records = RecordList()
    handler = CallbackHandler(_ListSink(records), JsonlFormatter(), processors=processors)
    with capture(handler):
        yield records
