"""The records spans are made of: JSONL records of the kinds a span needs (no LangChain)."""

from __future__ import annotations

import os

from chainsink._schema import EVENT_KINDS, Event
from chainsink.formatters import JsonlFormatter
from chainsink.otel import attributes as A

#: What a span is made of: every kind but streamed tokens and console text.
SPAN_KINDS = frozenset(EVENT_KINDS) - {"llm_new_token", "text"}


def content_from_env() -> bool:
    """Whether ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` asks for content."""
    return os.environ.get(A.CAPTURE_CONTENT_ENV, "").strip().lower() in ("true", "1")


class SpanRecords:
    """The formatter for a :class:`SpanSink`: JSONL records, of the kinds spans are made of
    (the handler is not even called for streamed tokens)."""

    kinds = SPAN_KINDS

    def __init__(self) -> None:
        self._jsonl = JsonlFormatter()

    def __call__(self, event: Event) -> str:
        """The event's JSONL record."""
        return self._jsonl(event)
