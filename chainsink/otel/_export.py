"""Sending runs to an OTLP/HTTP endpoint: replaying JSONL logs, and whole processes.

Both drive the same :class:`~chainsink.otel._sink.SpanSink` as the live handler: a log's
records go through the processors and the JSONL formatter exactly as a live run's events do,
so a replayed run gets the span the live handler would have made, with the log's ids and
times.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from chainsink._handler import Processor
from chainsink._read import event_from_record
from chainsink.otel._endpoint import traces_endpoint, url_problem
from chainsink.otel._handler import SPAN_KINDS, OtelCallbackHandler, SpanRecords
from chainsink.otel._sink import RunIds, SpanSink
from chainsink.processors import default_processors

#: Spans sent per request when replaying.
BATCH_SIZE = 512
#: Where the OTLP/HTTP exporter reports why an export failed.
_EXPORTER_LOGGERS = ("opentelemetry.exporter.otlp.proto.http.trace_exporter",
                     "opentelemetry.exporter.otlp.common.http")


class ExportFailed(Exception):
    """The endpoint refused the spans or could not be reached (after the exporter's retries)."""


def otlp_exporter(url: str | None = None, *, headers: Mapping[str, str] | None = None,
                  timeout: float | None = None) -> OTLPSpanExporter:
    """An OTLP/HTTP span exporter for a base URL; the OpenTelemetry environment variables
    (``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT``, ``_HEADERS``, ``_TIMEOUT``) fill what is None."""
    return OTLPSpanExporter(endpoint=traces_endpoint(url) if url else None,
                            headers=dict(headers) if headers else None, timeout=timeout)


class _Collected(SpanProcessor):
    """Keeps ended spans for the replay to send in batches it can check."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


class Replay:
    """Send the runs of JSONL records as spans, with the records' ids and times.

    Args:
        exporter: Where the spans go.
        capture_content: Put content into attributes (see
            :class:`~chainsink.otel.OtelCallbackHandler`).
        conventions: As for :class:`~chainsink.otel.OtelCallbackHandler`.
        processors: Run on each record's event first; default: secrets masked, sizes capped.
        batch_size: Spans per export call.

    Raises:
        ExportFailed: From :meth:`feed` and :meth:`finish`, when an export fails.
    """

    def __init__(self, exporter: SpanExporter, *, capture_content: bool = False,
                 conventions: Iterable[str] = ("gen_ai",),
                 processors: Iterable[Processor] | None = None,
                 batch_size: int = BATCH_SIZE) -> None:
        self.exporter = exporter
        self.provider = TracerProvider(id_generator=RunIds(), shutdown_on_exit=False)
        self._collected = _Collected()
        self.provider.add_span_processor(self._collected)
        self.sink = SpanSink(self.provider, capture_content=capture_content,
                             conventions=conventions, owns_provider=True, link_ambient=False,
                             replay=True)
        self.processors = default_processors() if processors is None else tuple(processors)
        self.formatter = SpanRecords()
        self.batch_size = batch_size
        #: Spans sent so far, and how many of them are runs with no end in the log.
        self.sent = 0
        self.unfinished = 0

    def feed(self, rec: dict[str, Any]) -> None:
        """Take one record of a log."""
        if rec.get("event") not in SPAN_KINDS:
            return
        event: Any = event_from_record(rec)
        for process in self.processors:
            event = process(event)
            if event is None:
                return
        text = self.formatter(event)
        if text:
            self.sink.write(text, event)
        if len(self._collected.spans) >= self.batch_size:
            self.send()

    def finish(self) -> None:
        """End the runs the records never ended (as unfinished) and send what is left."""
        self.unfinished += self.sink.end_unfinished()
        self.send()

    def send(self) -> None:
        """Export the spans ended so far."""
        batch, self._collected.spans = self._collected.spans, []
        if not batch:
            return
        with _exporter_log() as log:
            try:
                result = self.exporter.export(batch)
            except Exception as exc:  # noqa: BLE001 - any failure is the one-line error
                raise ExportFailed(_short(exc)) from None
        if result is not SpanExportResult.SUCCESS:
            raise ExportFailed(log.reason())
        self.sent += len(batch)

    def close(self) -> None:
        """Release the exporter (nothing more is sent)."""
        self.sink.close()
        with contextlib.suppress(Exception):
            self.exporter.shutdown()


class _Log(logging.Handler):
    """Collects what the exporter logs while one export runs."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def reason(self) -> str:
        """One line on why the export failed."""
        tries = 1
        last_error = None
        for rec in self.records:
            msg = rec.msg if isinstance(rec.msg, str) else ""
            args = rec.args if isinstance(rec.args, tuple) else ()
            if msg.startswith("Transient error") and args:
                tries += 1
                last_error = args[0]
            elif msg.startswith("Failed to export") and len(args) >= 2:
                code, why = args[-2], args[-1]  # (kind,) code, reason
                if code:
                    return f"the endpoint answered HTTP {code} {why or ''}".rstrip()
                return _short(why)
        if last_error is not None:
            return f"{_short(last_error)} (gave up after {tries} tries)"
        return "the export failed"


@contextlib.contextmanager
def _exporter_log() -> Iterator[_Log]:
    """Catch the exporter's log records (its retries, its failure) instead of printing them."""
    handler = _Log()
    loggers = [logging.getLogger(name) for name in _EXPORTER_LOGGERS]
    saved = [(lg.propagate, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.propagate = False
        lg.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        for lg, (propagate, level) in zip(loggers, saved, strict=True):
            lg.removeHandler(handler)
            lg.propagate = propagate
            lg.setLevel(level)


_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")


def _short(error: Any) -> str:
    """An exception or reason as a short phrase (``[Errno 111] Connection refused``)."""
    text = str(error)
    found = _ERRNO.search(text)
    if found:
        return found.group(0).strip()
    if "Read timed out" in text or "timed out" in text.lower():
        return "timed out"
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:199] + "\u2026"


# -- a whole process: CHAINSINK_OTLP -----------------------------------------------------------

_process_handler: OtelCallbackHandler | None = None


def export_process(url: str) -> OtelCallbackHandler:
    """Send every LangChain run of this process to the OTLP/HTTP endpoint at base ``url``
    (what ``CHAINSINK_OTLP`` does); spans are flushed when the process exits.

    Idempotent: a second call returns the handler of the first.

    Raises:
        ValueError: If ``url`` is not an http(s) URL.
    """
    global _process_handler  # noqa: PLW0603 - one per process
    if _process_handler is not None:
        return _process_handler
    problem = url_problem(url)
    if problem:
        raise ValueError(problem)
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.tracers.context import register_configure_hook

    provider = TracerProvider(id_generator=RunIds(), shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(otlp_exporter(url)))
    handler = OtelCallbackHandler(provider)
    handler.sink.owns_provider = True
    var: ContextVar[BaseCallbackHandler | None] = ContextVar("chainsink_otlp", default=handler)
    register_configure_hook(var, inheritable=True)
    # registered after chainsink's own exit hook, so it runs first (atexit is LIFO): the runs
    # still open are closed while the provider can still send them
    atexit.register(_close_at_exit, handler)
    _process_handler = handler
    return handler


def _close_at_exit(handler: OtelCallbackHandler) -> None:
    try:
        handler.abort_open_runs()
        handler.close()
    except Exception:  # noqa: BLE001, S110 - at exit, nothing left to report to
        pass
