"""The records spans are made of: JSONL records of the kinds a span needs (no LangChain)."""

from __future__ import annotations

import os
from typing import Final

from chainsink._schema import EVENT_KINDS, Event
from chainsink.formatters import JsonlFormatter
from chainsink.otel import attributes as A

#: What a span is made of: every kind but streamed tokens and console text.
SPAN_KINDS = frozenset(EVENT_KINDS) - {"llm_new_token", "text"}

#: What ``SpanRecords(render=False)`` returns for every event: a :class:`SpanSink` given it
#: (with the event) reads the record's values from the event itself, with no JSON text made
#: and parsed again (not a JSON line: no other sink can mistake it for one).
FROM_EVENT: Final = "<chainsink: the record is the event>\n"


def content_from_env() -> bool:
    """Whether ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` asks for content."""
    return os.environ.get(A.CAPTURE_CONTENT_ENV, "").strip().lower() in ("true", "1")


class SpanRecords:
    """The formatter for a :class:`SpanSink`: JSONL records, of the kinds spans are made of
    (the handler is not even called for streamed tokens).

    Args:
        render: Render each event's JSONL line. False (what the live handler uses): return
            :data:`FROM_EVENT` instead, and the :class:`SpanSink` reads the same values from
            the event (what it would have parsed from the line), without the round trip.
    """

    kinds = SPAN_KINDS

    def __init__(self, *, render: bool = True) -> None:
        self.render = render
        self._jsonl = JsonlFormatter()

    def __call__(self, event: Event) -> str:
        """The event's JSONL record (:data:`FROM_EVENT` when not rendering)."""
        if not self.render:
            return FROM_EVENT
        return self._jsonl(event)
