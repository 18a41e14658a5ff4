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
import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from uuid import UUID

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from chainsink._schema import END_KINDS, ERROR_KINDS
from chainsink.otel._endpoint import traces_endpoint, url_problem
from chainsink.otel._records import SPAN_KINDS, SpanRecords
from chainsink.otel._sink import RunIds, SpanSink
from chainsink.processors import default_processors
from chainsink.read import event_from_record
from chainsink.typing import Processor

if TYPE_CHECKING:
    from chainsink.otel._handler import OtelCallbackHandler

#: Spans sent per request when replaying.
BATCH_SIZE = 512
#: Runs a replay follows at once (started, not yet ended); beyond, the oldest open runs are
#: sent as unfinished at once, so memory stays bounded (as the reports cap traces in flight).
MAX_OPEN_RUNS = 10_000
#: Ended run ids remembered to ignore a repeated end (the most recent ones).
MAX_ENDED_RUNS = 100_000
#: Seconds an export call may take beyond the exporter's own timeout before it is given up.
DEADLINE_GRACE = 1.0
_CLOSING = END_KINDS | ERROR_KINDS
#: Where the OTLP/HTTP exporter reports why an export failed.
_EXPORTER_LOGGERS = ("opentelemetry.exporter.otlp.proto.http.trace_exporter",
                     "opentelemetry.exporter.otlp.common.http")


class ExportFailed(Exception):
    """The endpoint refused the spans or could not be reached (after the exporter's retries)."""


def otlp_exporter(url: str | None = None, *, headers: Mapping[str, str] | None = None,
                  timeout: float | None = None) -> OTLPSpanExporter:
    """An OTLP/HTTP span exporter for a base URL; the OpenTelemetry environment variables
    (``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT``, ``_HEADERS``, ``_TIMEOUT``) fill what is None.

    Only a 2xx answer counts as delivered: a 1xx or 3xx answer (a redirect is not followed)
    fails the export, where the exporter alone would count it a success."""
    exporter = OTLPSpanExporter(endpoint=traces_endpoint(url) if url else None,
                                headers=dict(headers) if headers else None, timeout=timeout)
    session = getattr(getattr(getattr(exporter, "_client", None), "_transport", None),
                      "_session", None)
    hooks = getattr(session, "hooks", None)
    if isinstance(hooks, dict):
        hooks.setdefault("response", []).append(_only_2xx)
    return exporter


class NotDelivered(Exception):
    """The endpoint answered with a status that is not an error, nor a success (1xx, 3xx)."""


def _only_2xx(response: Any, *args: Any, **kwargs: Any) -> None:
    """A ``requests`` response hook: a 1xx or 3xx answer did not deliver the spans (4xx and
    5xx are the exporter's: it retries what can be retried)."""
    code = getattr(response, "status_code", 200)
    if isinstance(code, int) and (code < 200 or 300 <= code < 400):
        reason = getattr(response, "reason", "") or ""
        where = response.headers.get("Location") if 300 <= code < 400 else None
        extra = f", to {where}: not followed" if where else ""
        raise NotDelivered(f"the endpoint answered HTTP {code} {reason}".rstrip() + extra)


def exporter_timeout(exporter: SpanExporter) -> float | None:
    """The seconds an OTLP/HTTP exporter gives one export with its retries, if known."""
    value = getattr(getattr(exporter, "_client", None), "_timeout", None)
    if isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
        return float(value)
    return None


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
        timeout: Seconds one export call may take in all (its retries, a slow answer); then
            it is given up (:class:`ExportFailed`). Default: the OTLP exporter's timeout, plus
            :data:`DEADLINE_GRACE`; None (another exporter): no limit.
        max_open: Runs followed at once; beyond, the oldest are sent as unfinished.
        warn: Called with one line for each record skipped (run id not a UUID, or all zero; a
            repeated end).

    Records whose ``run_id`` is not a UUID, or is the all-zero UUID (not a valid W3C trace
    id), are skipped: their spans would have invalid or colliding ids. A second end of a run
    already ended is ignored (among the last :data:`MAX_ENDED_RUNS` ended).

    Raises:
        ExportFailed: From :meth:`feed` and :meth:`finish`, when an export fails.
    """

    def __init__(self, exporter: SpanExporter, *, capture_content: bool = False,
                 conventions: Iterable[str] = ("gen_ai",),
                 processors: Iterable[Processor] | None = None,
                 batch_size: int = BATCH_SIZE, timeout: float | None = None,
                 max_open: int = MAX_OPEN_RUNS,
                 warn: Callable[[str], None] | None = None) -> None:
        self.exporter = exporter
        self._said_timeout = timeout
        if timeout is None:
            self._said_timeout = known = exporter_timeout(exporter)
            timeout = None if known is None else known + DEADLINE_GRACE
        self.timeout = timeout if timeout is not None and math.isfinite(timeout) else None
        self.max_open = max_open
        self.warn = warn
        self.skipped = 0
        self._ended: dict[int, None] = {}  # recent ended run ids, oldest first
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

    def feed(self, rec: dict[str, Any], where: str = "") -> None:
        """Take one record of a log; ``where`` names it in warnings (``file:line``)."""
        kind = rec.get("event")
        if kind not in SPAN_KINDS:
            return
        run_id = _run_id(rec.get("run_id"))
        if not run_id:
            self._skip(where, f"run_id {str(rec.get('run_id'))[:60]!r} is "
                              + ("the all-zero UUID, not a valid trace id" if run_id == 0
                                 else "not a UUID"))
            return
        if kind in _CLOSING:
            if run_id in self._ended:
                self._skip(where, f"a second {kind} for run {rec.get('run_id')}; ignored")
                return
            self._ended[run_id] = None
            if len(self._ended) > MAX_ENDED_RUNS:
                del self._ended[next(iter(self._ended))]
        event: Any = event_from_record(rec)
        for process in self.processors:
            event = process(event)
            if event is None:
                return
        text = self.formatter(event)
        if text:
            self.sink.write(text, event)
        if self.sink.open_runs > self.max_open:
            self.unfinished += self.sink.end_oldest(self.max_open)
        if len(self._collected.spans) >= self.batch_size:
            self.send()

    def _skip(self, where: str, why: str) -> None:
        self.skipped += 1
        if self.warn is not None:
            self.warn(f"{where}: skipped: {why}" if where else f"skipped: {why}")

    def finish(self) -> None:
        """End the runs the records never ended (as unfinished) and send what is left."""
        self.unfinished += self.sink.end_unfinished()
        self.send()

    def send(self) -> None:
        """Export the spans ended so far, in batches of ``batch_size``."""
        spans, self._collected.spans = self._collected.spans, []
        for i in range(0, len(spans), self.batch_size):
            batch = spans[i:i + self.batch_size]
            self._export(batch)
            self.sent += len(batch)

    def _export(self, batch: list[ReadableSpan]) -> None:
        """One export call, given up after :attr:`timeout` (a slow or dripping endpoint)."""
        outcome: list[Any] = []

        def call() -> None:
            try:
                outcome.append(self.exporter.export(batch))
            except Exception as exc:  # noqa: BLE001 - any failure is the one-line error
                outcome.append(exc)

        with _exporter_log() as log:
            if self.timeout is None:
                call()
            else:
                worker = threading.Thread(target=call, name="chainsink-export", daemon=True)
                worker.start()
                worker.join(self.timeout)
                if worker.is_alive():  # left behind: a daemon, it cannot keep the process up
                    for name in _EXPORTER_LOGGERS:  # nor print what it finds later
                        logging.getLogger(name).disabled = True
                    raise ExportFailed(f"timed out after {self._said_timeout or self.timeout:g}"
                                       " s (no complete answer from the endpoint)")
        result = outcome[0]
        if isinstance(result, Exception):
            raise ExportFailed(_short(result))
        if result is not SpanExportResult.SUCCESS:
            raise ExportFailed(log.reason())

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


def _run_id(value: Any) -> int | None:
    """A record's run id as an int (0 for the all-zero UUID), or None if it is not a UUID."""
    if not isinstance(value, str):
        return None
    try:
        return UUID(value).int
    except ValueError:
        return None


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
    from chainsink.otel._handler import OtelCallbackHandler  # the LangChain side, on demand

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
