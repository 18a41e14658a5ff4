"""The span end of the pipeline: a sink that turns JSONL records into OpenTelemetry spans.

The sink never knows LangChain: it reads the records the JSONL formatter renders or a log
holds (``chainsink export``), maps them with :class:`~chainsink.otel._mapping.SpanMapper` and
drives a tracer. A run's span starts at its start record and ends at its end record, with the
records' times. The live handler skips the JSON text: its formatter hands over each event and
the sink reads from it the values it would have parsed from the event's line (only those the
mapping reads: a chain's end under default settings needs none of its outputs).

Ids: the SDK's ``Tracer`` draws a new span's ids from its ``id_generator``. chainsink's tracer
(``provider.get_tracer("chainsink")``, its own object even on the user's provider) gets a
:class:`RunIds` generator wrapping the provider's: while chainsink starts a run's span it hands
out the run's ids (trace id = the root run id, span id = the run id's low 64 bits) and
otherwise defers to the original. The provider's sampler, span limits, resource and
processors all apply as usual. A provider that is not the SDK's picks its own ids.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any
from uuid import UUID

import orjson
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.status import Status, StatusCode

from chainsink._jsonable import data_json, dumps
from chainsink._schema import END_KINDS, ERROR_KINDS, START_KINDS, Event, run_fields
from chainsink.formatters import JsonlFormatter
from chainsink.otel import attributes as A
from chainsink.otel._mapping import RunSpan, SpanEnd, SpanMapper, ts_ns, uuid_int
from chainsink.otel._records import FROM_EVENT
from chainsink.sinks import Sink

#: The conventions a sink can follow (``gen_ai`` is always on).
CONVENTIONS = frozenset({"gen_ai", "openinference"})

_KINDS = {"client": SpanKind.CLIENT, "internal": SpanKind.INTERNAL}
_CLOSING = END_KINDS | ERROR_KINDS
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
#: The start kind to assume for an end whose start was never seen, by run type.
_START_FOR = {"llm": "chat_model_start", "tool": "tool_start", "retriever": "retriever_start"}
_install_lock = threading.Lock()
#: The first second whose RFC 3339 form has a five-digit year (the JSONL ``ts`` no longer
#: reads back as chainsink's own form).
_YEAR_10000 = 253_402_300_800


class RunIds(IdGenerator):
    """An id generator that gives a run's span the run's ids, and defers otherwise.

    Args:
        fallback: The generator for every other span (the SDK's random one by default).
    """

    def __init__(self, fallback: IdGenerator | None = None) -> None:
        self.fallback = fallback if fallback is not None else RandomIdGenerator()
        self._next = threading.local()

    def generate_span_id(self) -> int:
        """The pending run's span id, or the fallback's."""
        ids = getattr(self._next, "ids", None)
        return self.fallback.generate_span_id() if ids is None else int(ids[1])

    def generate_trace_id(self) -> int:
        """The pending run's trace id, or the fallback's."""
        ids = getattr(self._next, "ids", None)
        return self.fallback.generate_trace_id() if ids is None else int(ids[0])

    def is_trace_id_random(self) -> bool:
        """False for run ids (the W3C random flag is not claimed for them)."""
        return getattr(self._next, "ids", None) is None and self.fallback.is_trace_id_random()

    def pending(self, trace_id: int, span_id: int) -> None:
        """Hand out these ids to the next span started on this thread."""
        self._next.ids = (trace_id, span_id)

    def done(self) -> None:
        """Back to the fallback."""
        self._next.ids = None


def _run_ids_of(tracer: Any) -> RunIds | None:
    """Give ``tracer`` a :class:`RunIds` (once); None if it has no id generator to wrap."""
    current = getattr(tracer, "id_generator", None)
    if isinstance(current, RunIds):
        return current
    if not isinstance(current, IdGenerator):
        return None
    with _install_lock:
        current = tracer.id_generator
        if not isinstance(current, RunIds):
            current = RunIds(current)
            tracer.id_generator = current
        return current


class SpanSink(Sink):
    """A sink that sends each run of the JSONL records it is given as an OpenTelemetry span.

    Args:
        tracer_provider: Where spans go; the global provider (looked up at each span, so one
            set later is used) when None.
        capture_content: Put prompts, messages, inputs, outputs, tool arguments and results
            and documents into attributes.
        conventions: ``("gen_ai",)``, or ``("gen_ai", "openinference")`` to add OpenInference
            attributes.
        owns_provider: Shut the provider down on :meth:`close` (a provider chainsink made);
            otherwise ``close`` only flushes it.
        link_ambient: Link a root run's span to the span current where the run started (your
            HTTP request's span, say); its trace id stays the run's.
        replay: The records come from a log: remember each trace's last record, so that
            :meth:`end_unfinished` can end the runs the log never ends there.

    Raises:
        ValueError: For an unknown convention.
    """

    def __init__(self, tracer_provider: Any = None, *, capture_content: bool = False,
                 conventions: Iterable[str] = ("gen_ai",), owns_provider: bool = False,
                 link_ambient: bool = True, replay: bool = False) -> None:
        names = (conventions,) if isinstance(conventions, str) else tuple(conventions)
        unknown = [c for c in names if c not in CONVENTIONS]
        if unknown:
            raise ValueError(f"unknown conventions {unknown!r}: choose from "
                             f"{sorted(CONVENTIONS)}")
        self.capture_content = bool(capture_content)
        self.conventions = ("gen_ai", *(c for c in names if c != "gen_ai"))
        self.provider = tracer_provider
        self.owns_provider = owns_provider
        self.link_ambient = link_ambient
        self.replay = replay
        self.mapper = SpanMapper(capture_content=self.capture_content,
                                 openinference="openinference" in names)
        self._open: dict[int, tuple[RunSpan, trace.Span]] = {}
        self._last: dict[int, int] = {}  # trace id -> time of its last record
        self._tracer: tuple[Any, Any, RunIds | None] | None = None
        self.closed = False

    # -- Sink -------------------------------------------------------------------------------

    def write(self, text: str, event: Any = None) -> None:
        """Take one JSONL line (what the handler's formatter rendered), or, when ``text`` is
        :data:`~chainsink.otel._records.FROM_EVENT`, the event itself."""
        if text is FROM_EVENT and isinstance(event, Event):
            self.take_event(event)
            return
        rec = orjson.loads(text)
        if isinstance(rec, dict):
            self.take(rec)

    def flush(self) -> None:
        """Nothing to do: ended spans are the provider's (its processors export them)."""

    def force_flush(self, timeout_millis: int = 30_000) -> None:
        """Have the provider export what it holds now, waiting at most ``timeout_millis``."""
        provider = self.provider
        flush = getattr(provider, "force_flush", None) if provider is not None else None
        if flush is not None and not self.closed:
            flush(timeout_millis)

    def close(self) -> None:
        """Flush the provider (shut it down if chainsink made it). Safe to call twice."""
        if self.closed:
            return
        self.closed = True
        provider = self.provider
        if provider is None:
            return
        if self.owns_provider:
            provider.shutdown()
        else:
            flush = getattr(provider, "force_flush", None)
            if flush is not None:
                flush()

    # -- records ----------------------------------------------------------------------------

    def take(self, rec: dict[str, Any]) -> None:
        """Start, end or annotate a span from one JSONL record."""
        run_id = uuid_int(rec.get("run_id"))
        ts = ts_ns(rec.get("ts"))
        if run_id is None or ts is None:
            return
        self._take(rec.get("event"), run_id, uuid_int(rec.get("trace_id")) or run_id, ts, rec)

    def take_event(self, event: Event) -> None:
        """What :meth:`take` does with ``event``'s JSONL record, reading the same values from
        the event: its ids and time as numbers, and as much of its record (run keys, own
        fields, made JSON as the line makes them) as the mapping reads."""
        run, trace_id, parent, ts = event.run_id, event.trace_id, event.parent_run_id, event.ts
        if (type(run) is not UUID or type(ts) is not float or not 0.0 <= ts < _YEAR_10000
                or (trace_id is not None and type(trace_id) is not UUID)
                or (parent is not None and type(parent) is not UUID)):
            rec = orjson.loads(JsonlFormatter()(event))  # not an event the adapter makes
            if isinstance(rec, dict):
                self.take(rec)
            return
        whole = int(ts)  # the microseconds the line's ts holds (chainsink._schema.rfc3339)
        ns = (whole * 1_000_000 + round((ts - whole) * 1_000_000)) * 1000
        run_id = run.int
        self._take(event.event, run_id, (trace_id.int if trace_id is not None else 0) or run_id,
                   ns, event, parent.int if parent is not None else None)

    def _record(self, event: Event, run_keys: bool, own: bool = False) -> dict[str, Any]:
        """The part of ``event``'s JSONL record the mapping reads, as the line parses:
        ``event``, the run keys if ``run_keys``, and its own fields if ``own`` or its kind
        maps with them."""
        kind = event.event
        rec: dict[str, Any] = {"event": kind}
        if run_keys:
            rec.update(orjson.loads(dumps(run_fields(event))))
        if own or kind not in self.mapper.data_free:  # its own fields win, as in a line
            data = orjson.loads(data_json(event))  # serialized once, for the processors too
            if isinstance(data, dict):
                rec.update(data)
        return rec

    def _take(self, kind: Any, run_id: int, trace_id: int, ts: int,
              source: dict[str, Any] | Event, parent_id: int | None = None) -> None:
        """:meth:`take`, given the record or the event to read (what it needs of) it from
        (then ``parent_id`` is its parent run id)."""
        last = self._last
        if self.replay and last.get(trace_id, 0) < ts:
            last[trace_id] = ts
        if kind in START_KINDS:
            if run_id not in self._open:  # a repeated start is ignored
                if isinstance(source, dict):
                    self._start(source, run_id, ts,
                                (trace_id, uuid_int(source.get("parent_run_id"))))
                else:
                    self._start(self._record(source, True), run_id, ts, (trace_id, parent_id))
        elif kind in _CLOSING:
            entry = self._open.pop(run_id, None)
            if isinstance(source, dict):
                rec = source
            else:  # a run seen only at its end is started from all of its record
                rec = self._record(source, entry is None, own=entry is None)
            if entry is None:  # its start was dropped, or is in an earlier log
                entry = self._start_late(rec, run_id, ts)
            if entry is not None:
                run, span = entry
                self._end(span, self.mapper.end(rec, run, ts))
            if run_id == trace_id and last:
                last.pop(trace_id, None)
        else:
            entry = self._open.get(run_id)
            if entry is not None:
                found = self.mapper.event(
                    source if isinstance(source, dict) else self._record(source, False), ts)
                if found is not None:
                    entry[1].add_event(found.name, found.attributes, found.ts_ns)

    def end_unfinished(self) -> int:
        """End every span still open as unfinished (a log cut short); return how many."""
        left = sorted(self._open.values(), key=lambda entry: -entry[0].start_ns)
        self._open.clear()
        for run, span in left:  # the latest first: children before their parents
            run.last_ns = max(run.start_ns, self._last.get(run.trace_id, run.start_ns))
            self._end(span, self.mapper.unfinished(run))
        self._last.clear()
        return len(left)

    def end_oldest(self, keep: int) -> int:
        """End the runs open longest as unfinished until at most ``keep`` stay open (too many
        in flight: a replay's memory stays bounded); return how many were ended."""
        ended = 0
        while len(self._open) > keep:
            run, span = self._open.pop(next(iter(self._open)))  # insertion order: the oldest
            run.last_ns = max(run.start_ns, self._last.get(run.trace_id, run.start_ns))
            self._end(span, self.mapper.unfinished(run))
            ended += 1
        if len(self._last) > 2 * max(keep, len(self._open)) + 1024:  # traces with no run open
            live = {run.trace_id for run, _ in self._open.values()}
            self._last = {t: ts for t, ts in self._last.items() if t in live}
        return ended

    @property
    def open_runs(self) -> int:
        """How many runs have started and not ended."""
        return len(self._open)

    # -- spans ------------------------------------------------------------------------------

    def _tracer_now(self) -> tuple[Any, RunIds | None]:
        provider = self.provider if self.provider is not None else trace.get_tracer_provider()
        cached = self._tracer
        if cached is None or cached[0] is not provider:
            from chainsink import __version__

            tracer = provider.get_tracer("chainsink", __version__,
                                         schema_url=A.GEN_AI_SCHEMA_URL)
            cached = (provider, tracer, _run_ids_of(tracer))
            self._tracer = cached
        return cached[1], cached[2]

    def _start(self, rec: dict[str, Any], run_id: int, ts: int,
               ids: tuple[int, int | None] | None = None) -> tuple[RunSpan, trace.Span]:
        """Start a run's span; ``ids``: its trace id and parent run id, if already read."""
        if ids is None:
            ids = (uuid_int(rec.get("trace_id")) or run_id, uuid_int(rec.get("parent_run_id")))
        parent_id = ids[1]
        parent = self._open.get(parent_id) if parent_id is not None else None
        run = self.mapper.start(rec, run_id, ts, parent[0] if parent else None, ids)
        tracer, run_ids = self._tracer_now()
        links: list[Link] = []
        if run.parent_span_id is None:
            context = Context()
            if self.link_ambient:
                ambient = trace.get_current_span().get_span_context()
                if ambient.is_valid:
                    links.append(Link(ambient))
        elif parent is not None:  # its children share the context holding its span
            context = parent[0].context
            if context is None:
                context = parent[0].context = trace.set_span_in_context(parent[1], Context())
        else:
            context = trace.set_span_in_context(NonRecordingSpan(SpanContext(
                run.trace_id, run.parent_span_id, is_remote=False, trace_flags=_SAMPLED)),
                Context())
        if run_ids is not None:
            run_ids.pending(run.trace_id, run.span_id)
        try:
            span = tracer.start_span(run.name, context, _KINDS[run.kind], run.attributes,
                                     links, start_time=run.start_ns)
        finally:
            if run_ids is not None:
                run_ids.done()
        entry = (run, span)
        self._open[run_id] = entry
        return entry

    def _start_late(self, rec: dict[str, Any], run_id: int,
                    ts: int) -> tuple[RunSpan, trace.Span] | None:
        """Start the span of a run seen only at its end, ``duration_ms`` before it."""
        duration = rec.get("duration_ms")
        start = ts
        if isinstance(duration, (int, float)) and not isinstance(duration, bool) and (
                0 <= duration < 1e12):
            start = ts - int(duration * 1_000_000)
        kind = _START_FOR.get(str(rec.get("run_type")), "chain_start")
        if kind == "chat_model_start" and not _has_messages(rec.get("outputs")):
            kind = "llm_start"
        self._start({**rec, "event": kind, "defers_inputs": True}, run_id, start)
        return self._open.pop(run_id, None)

    @staticmethod
    def _end(span: trace.Span, end: SpanEnd) -> None:
        if end.attributes:
            span.set_attributes(end.attributes)
        if end.name:
            span.update_name(end.name)
        for event in end.events:
            span.add_event(event.name, event.attributes, event.ts_ns)
        if end.error is not None:
            span.set_status(Status(StatusCode.ERROR, end.error))
        span.end(end_time=max(end.end_ns, getattr(span, "start_time", 0) or 0))


def _has_messages(outputs: Any) -> bool:
    if not isinstance(outputs, dict):
        return False
    for batch in outputs.get("generations") or ():
        for gen in batch if isinstance(batch, list) else ():
            if isinstance(gen, dict) and "message" in gen:
                return True
    return False
