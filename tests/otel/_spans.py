"""What tests compare of a finished span: everything it carries, ids and times included."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan


def span_facts(span: ReadableSpan) -> tuple[Any, ...]:
    """The span's ids, name, kind, times, status, attributes and events, as one tuple."""
    context = span.context
    assert context is not None
    return (context.trace_id, context.span_id, span.parent and span.parent.span_id, span.name,
            span.kind, span.start_time, span.end_time, span.status.status_code,
            span.status.description, dict(span.attributes),
            [(e.name, e.timestamp, dict(e.attributes)) for e in span.events])
