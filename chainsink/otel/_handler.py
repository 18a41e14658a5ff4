"""``OtelCallbackHandler``: chainsink's pipeline ending in OpenTelemetry spans.

LangChain callback -> Event -> processors (redaction on) -> :class:`SpanSink`, which reads each
event as its JSONL record (with no JSON text made: see ``SpanRecords(render=False)``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chainsink.handlers import CallbackHandler
from chainsink.otel._records import SpanRecords, content_from_env
from chainsink.otel._sink import SpanSink
from chainsink.typing import Processor

#: How long flushing may take when the process is going away (exit, SIGTERM), in ms.
EXIT_FLUSH_MILLIS = 5_000


class OtelCallbackHandler(CallbackHandler):
    """Send every LangChain run as an OpenTelemetry span: one span per run, parented as the
    runs are, started and ended at the run's times, following the GenAI semantic conventions.

    A span's trace id is the root run's id (the JSONL ``trace_id``) and its span id the low 64
    bits of its run id (the full id is ``chainsink.run_id``), so spans join the JSONL logs and
    exporting the same runs twice gives the same ids. That needs the OpenTelemetry SDK's
    ``TracerProvider`` (another provider picks its own ids); its sampler, limits, resource and
    processors apply as usual. Use a ``BatchSpanProcessor`` in production: ending a span then
    only queues it, so the handler never waits on the network.

    Like every chainsink handler it never raises into the run (unless ``raise_error``), and
    ``processors`` (secrets masked, sizes capped, by default) run before any attribute is set.

    Args:
        tracer_provider: Where spans go; the global provider when None (looked up at each
            span, so one configured after the handler was built is used).
        capture_content: Record prompts, messages, inputs, outputs, tool arguments and
            results and retrieved documents as attributes (after redaction). None: from
            ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``; off by default.
        conventions: ``("gen_ai",)``; ``("gen_ai", "openinference")`` adds OpenInference
            attributes, so Arize Phoenix and other OpenInference backends render runs natively.
        processors: Event processors; default :func:`chainsink.processors.default_processors`.
        raise_error: Let failures inside the handler propagate into the run.

    Raises:
        ValueError: For an unknown convention.

    Example:
        >>> from opentelemetry.sdk.trace import TracerProvider  # doctest: +SKIP
        >>> handler = OtelCallbackHandler(TracerProvider())  # doctest: +SKIP
        >>> chain.invoke(inputs, config={"callbacks": [handler]})  # doctest: +SKIP
    """

    sink: SpanSink

    def __init__(self, tracer_provider: Any = None, *, capture_content: bool | None = None,
                 conventions: Iterable[str] = ("gen_ai",),
                 processors: Iterable[Processor] | None = None,
                 raise_error: bool = False) -> None:
        content = content_from_env() if capture_content is None else bool(capture_content)
        super().__init__(SpanSink(tracer_provider, capture_content=content,
                                  conventions=conventions),
                         SpanRecords(render=False), processors=processors,
                         raise_error=raise_error)

    def __enter__(self) -> OtelCallbackHandler:
        return self

    def abort_open_runs(self, reason: str = "the process exited before the run ended") -> None:
        """Close the open runs' spans (status ERROR, ``chainsink.aborted``), then have the
        provider export what it holds, waiting at most :data:`EXIT_FLUSH_MILLIS`: called at
        interpreter exit and on SIGTERM."""
        super().abort_open_runs(reason)
        self.sink.force_flush(EXIT_FLUSH_MILLIS)
