"""Streaming aggregation of JSONL records: totals, latency, tokens, and the traces worth showing.

A :class:`LogSummary` sees every record once and keeps only small things: counters, one
:class:`Latency` per run name, token sums per model, a small aggregate per *open* trace, and two
bounded heaps (the slowest traces, and the traces picked for full detail). Memory therefore
grows with the number of run names, models and traces in flight, never with the length of the
log; and traces in flight are capped too (:data:`MAX_OPEN_TRACES`), so a log of traces that
never ended (killed workers) costs no more than one with a few.

Cost is worked out as the records are read (:mod:`chainsink.cost`): each ``llm_end`` is priced
from its own model, usage, provider (``metadata.ls_provider``) and time, with the user's prices
tried first, and summed per model, per trace and in total. A call no one prices is *unpriced*:
its model is listed and every sum it is part of is unknown (None), never 0. The price table is
imported on the first model call, not before.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import itertools
import random
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chainsink._schema import END_KINDS, ERROR_KINDS, START_KINDS
from chainsink.report import ORDERS
from chainsink.report._values import MAX_TOKEN_SUM, duration_ms, token_count, utc_time

if TYPE_CHECKING:
    from chainsink.cost import Pricer, Prices

#: How many durations each run name keeps for its percentiles (exact below this many runs).
SAMPLE_SIZE = 1024
#: Run names tracked separately; runs of further names are pooled under :data:`OTHER_NAMES`.
MAX_NAMES = 1000
OTHER_NAMES = "(other names)"
UNKNOWN_MODEL = "(unknown model)"
#: Models tracked separately; calls of further models are pooled under :data:`OTHER_MODELS`.
MAX_MODELS = 1000
OTHER_MODELS = "(other models)"
#: Traces followed in flight. Past this many, the one quiet the longest is summarised as it
#: stands (incomplete) and its later records count only in the totals.
MAX_OPEN_TRACES = 10_000
#: Records held for traces in flight when records are kept (``keep_records``). Past this many,
#: the quietest traces lose theirs (they are then shown without detail, as dropped records).
MAX_OPEN_RECORDS = 100_000
#: How the traces shown in full are picked.
#: Closed trace ids remembered so that a straggling record does not count as a new trace.
_CLOSED_MEMORY = 10_000
#: Records kept per detailed trace. Of streamed tokens only each run's first is kept (without
#: its text, which llm_end has): its time is the run's time to first token.
MAX_TRACE_RECORDS = 20_000
#: Longest string kept in a detailed trace's records; longer ones are cut.
MAX_KEPT_CHARS = 20_000
_CLOSING = END_KINDS | ERROR_KINDS


class Latency:
    """Durations of one run name: exact count, total and max, percentiles from a sample.

    The sample is a reservoir (Algorithm R) of :data:`SAMPLE_SIZE` durations, so percentiles
    are exact up to that many runs and an unbiased estimate beyond, in bounded memory.
    """

    __slots__ = ("_rand", "count", "errors", "max", "sample", "total")

    def __init__(self, rand: random.Random | None = None) -> None:
        self.count = 0
        self.errors = 0
        self.total = 0.0
        self.max = 0.0
        self.sample: list[float] = []
        self._rand = rand or random.Random(0)

    def add(self, ms: float) -> None:
        """Record one run's duration in milliseconds."""
        self.count += 1
        self.total += ms
        self.max = max(self.max, ms)
        if len(self.sample) < SAMPLE_SIZE:
            self.sample.append(ms)
        else:
            j = self._rand.randrange(self.count)
            if j < SAMPLE_SIZE:
                self.sample[j] = ms

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (0-100, nearest rank) of the durations; None without any."""
        if not self.sample:
            return None
        ordered = sorted(self.sample)
        rank = max(1, -(-len(ordered) * q // 100))  # ceil without floats drifting
        return ordered[min(int(rank), len(ordered)) - 1]


@dataclasses.dataclass
class Tokens:
    """Token usage summed over model calls (LangChain's usage_metadata keys)."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0

    def add(self, usage: dict[str, Any] | None) -> None:
        """Count one model call and add its usage (None when the model reported none)."""
        self.calls += 1
        if usage:  # sums stop at the largest integer JSON readers hold
            self.input_tokens = min(self.input_tokens + _int(usage.get("input_tokens")),
                                    MAX_TOKEN_SUM)
            self.output_tokens = min(self.output_tokens + _int(usage.get("output_tokens")),
                                     MAX_TOKEN_SUM)
            self.total_tokens = min(self.total_tokens + _int(usage.get("total_tokens")),
                                    MAX_TOKEN_SUM)


@dataclasses.dataclass(eq=False)
class TraceSummary:
    """What the summary remembers about one trace (one root run and everything under it).

    Attributes:
        trace_id: The root run's id, as written in the log.
        name: The root run's name (the first record's name if the root start was not logged).
        run_type: The root run's type.
        start: The first record's ``ts`` (RFC 3339 string, as logged).
        end: The last record's ``ts``.
        duration_ms: The root run's duration, or the time between its first and last record.
        runs: Runs started in the trace.
        errors: Runs that failed (an error record not flagged ``interrupted`` or ``aborted``).
        error: The first failure, as ``"Type: message"``.
        tokens: Token usage of the trace's model calls.
        complete: Whether the root run's end (or error) was logged.
        records: The trace's records, when the summary keeps them (see ``keep_records``).
        streamed: The runs whose first token record is in ``records``.
        dropped: Records not kept because the trace was too long (or, when records are
            kept in one pass, because too many traces were in flight: ``MAX_OPEN_RECORDS``).
        interrupted: Runs stopped without failing: error records flagged ``interrupted``
            (Ctrl-C, cancellation, a closed stream, a LangGraph interrupt or handoff) or
            ``aborted`` (closed by chainsink at exit).
        interrupt: The first such stop that paused or cut the trace short, as
            ``"Type: message"``; a LangGraph handoff (``interrupt: "handoff"``) is control
            flow and does not set it.
        priced_cost: What its priced model calls cost, in USD (all of them when
            ``unpriced`` is empty).
        unpriced: The models of its calls that have no known price (sorted as met); see
            :attr:`LogSummary.cost_shown` for whether anything could be priced at all.
    """

    trace_id: str
    name: str = "<unknown>"
    run_type: str = ""
    start: str = ""
    end: str = ""
    duration_ms: float | None = None
    runs: int = 0
    errors: int = 0
    error: str | None = None
    tokens: Tokens = dataclasses.field(default_factory=Tokens)
    complete: bool = False
    records: list[dict[str, Any]] | None = None
    streamed: set[str] | None = dataclasses.field(default=None, repr=False)
    dropped: int = 0
    interrupted: int = 0
    interrupt: str | None = None
    priced_cost: Decimal = Decimal(0)
    unpriced: list[str] = dataclasses.field(default_factory=list)

    @property
    def cost(self) -> Decimal | None:
        """What the trace's model calls cost in USD (0 without any); None when a call of it
        is unpriced (the cost is unknown, not 0: see ``priced_cost`` and ``unpriced``)."""
        return None if self.unpriced else self.priced_cost

    def add_cost(self, model: str, cost: Decimal | None) -> None:
        """Count one model call's cost (None: unpriced)."""
        if cost is None:
            if model not in self.unpriced:
                self.unpriced.append(model)
        else:
            self.priced_cost += cost

    @property
    def status(self) -> str:
        """``"error"`` if any run failed, else ``"incomplete"`` if the root never ended,
        ``"interrupted"`` if a run was stopped (see ``interrupt``), else ``"ok"``."""
        if self.errors:
            return "error"
        if not self.complete:
            return "incomplete"
        return "ok" if self.interrupt is None else "interrupted"

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON values (without records)."""
        return {"trace_id": self.trace_id, "name": self.name, "run_type": self.run_type,
                "start": self.start, "end": self.end, "duration_ms": self.duration_ms,
                "runs": self.runs, "errors": self.errors, "error": self.error,
                "interrupted": self.interrupted, "interrupt": self.interrupt,
                "status": self.status, "tokens": dataclasses.asdict(self.tokens),
                "cost": _float(self.cost), "priced_cost": float(self.priced_cost),
                "unpriced_models": list(self.unpriced)}


def _priority(order: str) -> Callable[[TraceSummary], tuple[Any, ...]]:
    if order == "errors":
        return lambda t: (t.errors > 0, t.end)
    if order == "recent":
        return lambda t: (t.end,)
    return lambda t: (t.duration_ms or 0.0,)


class LogSummary:
    """Aggregate a stream of JSONL records in one pass and bounded memory.

    Feed every record to :meth:`add`, then call :meth:`finish`. Totals cover every record;
    the traces picked for full detail (:meth:`selected`) are bounded by ``max_traces``.

    Args:
        max_traces: How many traces to pick for full detail.
        order: How to pick them: ``"errors"`` (failed traces first, then the most recent),
            ``"recent"`` or ``"slowest"``.
        slowest: How many of the slowest traces to remember.
        keep_records: Keep the records of the picked traces (for a stream that cannot be read
            twice). Records of open traces are buffered until the trace ends, then kept only if
            it is picked; long strings are cut and streamed tokens dropped.
        prices: The user's prices (:class:`chainsink.cost.Prices`), tried before the
            genai-prices table; None: those of the file ``CHAINSINK_PRICES`` names, if set.
        cost: Whether to price model calls at all (read :attr:`cost_by_model`,
            :attr:`cost_total`, :attr:`unpriced_models`, :attr:`TraceSummary.cost`).

    Raises:
        ValueError: ``CHAINSINK_PRICES`` names a file that cannot be read or holds bad prices.

    Example:
        >>> from chainsink import read_events
        >>> summary = LogSummary()
        >>> for record in read_events("run.jsonl"):  # doctest: +SKIP
        ...     summary.add(record)
        >>> summary.finish()
    """

    def __init__(self, *, max_traces: int = 200, order: str = "errors", slowest: int = 10,
                 keep_records: bool = False, prices: Prices | None = None,
                 cost: bool = True) -> None:
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, not {order!r}")
        if max_traces < 0 or slowest < 0:
            raise ValueError("max_traces and slowest must not be negative")
        self.max_traces = max_traces
        self.order = order
        self.keep_records = keep_records
        self.records = 0
        self.traces = 0
        self.runs = 0
        self.errors = 0
        self.interrupted = 0
        self.failed_traces = 0
        self.interrupted_traces = 0
        self.incomplete_traces = 0
        self.first_ts: str | None = None
        self.last_ts: str | None = None
        self.latency: dict[str, Latency] = {}
        self.tokens_by_model: dict[str, Tokens] = {}
        #: What each model's calls cost in USD, by the keys of ``tokens_by_model``; None for a
        #: model with an unpriced call (no known price, or a call that reported no usage).
        self.cost_by_model: dict[str, Decimal | None] = {}
        if cost and prices is None:
            from chainsink.cost import load_prices

            prices = load_prices()
        #: Prices the model calls (None when ``cost`` is False); the price table is loaded
        #: when the first call is priced.
        self.pricer: Pricer | None = None
        if cost:
            from chainsink.cost import Pricer

            self.pricer = Pricer(prices)
        self._rand = random.Random(0)
        # in order of last activity (an OrderedDict: a dict's first item is slow to find after
        # many are removed from its front)
        self._open: collections.OrderedDict[str, TraceSummary] = collections.OrderedDict()
        self._held = 0  # records held for the traces in _open
        # runs started and not yet ended, per open trace: a trace closes when its root has
        # ended and so have they (a branch may end after its parallel root failed)
        self._running: dict[str, set[str]] = {}
        self._closed: dict[str, None] = {}
        self._picked: list[tuple[tuple[Any, ...], int, TraceSummary]] = []
        self._slowest: list[tuple[float, int, TraceSummary]] = []
        self._slowest_n = slowest
        self._key = _priority(order)
        self._seq = itertools.count()

    # -- feeding --------------------------------------------------------------------------------

    def add(self, rec: dict[str, Any]) -> None:
        """Account for one record (a dict as :func:`chainsink.read_events` yields)."""
        self.records += 1
        kind = rec.get("event")
        run_id = _text(rec.get("run_id"))
        trace_id = trace_key(rec)
        ts = rec.get("ts")
        ts = ts if isinstance(ts, str) else ""
        if ts:
            if self.first_ts is None or ts < self.first_ts:
                self.first_ts = ts
            if self.last_ts is None or ts > self.last_ts:
                self.last_ts = ts
        trace = self._open.get(trace_id)
        if trace is None and trace_id not in self._closed:  # a new trace
            trace = self._open[trace_id] = TraceSummary(trace_id, name=_name(rec),
                                                        run_type=_text(rec.get("run_type")),
                                                        start=ts)
            if self.keep_records:
                trace.records = []
            self.traces += 1
            if len(self._open) > MAX_OPEN_TRACES:  # summarise the quietest as it stands
                self._close_trace(next(iter(self._open.values())))
        elif trace is not None:  # _open stays in order of last activity: quietest first
            self._open.move_to_end(trace_id)
        if trace is not None:
            trace.end = max(trace.end, ts)
            if ts and (not trace.start or ts < trace.start):
                trace.start = ts
            if trace.records is not None:
                held = len(trace.records)
                _keep(trace, rec)
                self._held += len(trace.records) - held
                if self._held > MAX_OPEN_RECORDS:
                    self._shed()
            elif self.keep_records and kind != "llm_new_token":
                trace.dropped += 1  # its records were shed while it was in flight
        if kind in START_KINDS:
            self.runs += 1
            if trace is not None:
                trace.runs += 1
                running = self._running.get(trace_id)
                if running is None:
                    running = self._running[trace_id] = set()
                running.add(run_id)
                if run_id == trace_id:
                    trace.name, trace.run_type = _name(rec), _text(rec.get("run_type"))
        elif kind in _CLOSING:
            self._close_run(kind, rec, run_id, trace_id, trace)

    def _close_run(self, kind: str, rec: dict[str, Any], run_id: str, trace_id: str,
                   trace: TraceSummary | None) -> None:
        ms = _ms(rec.get("duration_ms"))
        name = _name(rec)
        latency = self.latency.get(name)
        if latency is None:
            if len(self.latency) >= MAX_NAMES:
                name = OTHER_NAMES
                latency = self.latency.get(name)
            if latency is None:
                latency = self.latency[name] = Latency(self._rand)
        if ms is not None:
            latency.add(ms)
        failed = kind in ERROR_KINDS
        stopped = failed and stopped_without_failing(rec)
        if stopped:  # interrupted, cancelled, handed off, aborted: not a failure
            failed = False
            self.interrupted += 1
        elif failed:
            self.errors += 1
            latency.errors += 1
        if kind == "llm_end":
            self._model_call(rec, trace)
        if trace is None:
            return
        if failed:
            trace.errors += 1
            if trace.error is None:
                trace.error = _error_text(rec.get("error"))
        elif stopped:
            trace.interrupted += 1
            if trace.interrupt is None and rec.get("interrupt") != "handoff":
                trace.interrupt = _error_text(rec.get("error"))
        running = self._running.get(trace_id)
        if running:
            running.discard(run_id)
        if run_id == trace_id:
            trace.complete = True
            trace.duration_ms = ms
        if trace.complete and not running:
            self._close_trace(trace)

    def _model_call(self, rec: dict[str, Any], trace: TraceSummary | None) -> None:
        """Count an ``llm_end``'s tokens and cost, by model and in its trace."""
        usage = rec.get("usage")
        model = rec.get("model")
        key = model if isinstance(model, str) and model else UNKNOWN_MODEL
        tokens = self.tokens_by_model.get(key)
        if tokens is None:
            if len(self.tokens_by_model) >= MAX_MODELS:
                key = OTHER_MODELS
                tokens = self.tokens_by_model.get(key)
            if tokens is None:
                tokens = self.tokens_by_model[key] = Tokens()
        tokens.add(usage if isinstance(usage, dict) else None)
        if trace is not None:
            trace.tokens.add(usage if isinstance(usage, dict) else None)
        if self.pricer is not None:
            cost = self.pricer.price_record(rec)
            if key not in self.cost_by_model:
                self.cost_by_model[key] = cost
            else:
                before = self.cost_by_model[key]
                self.cost_by_model[key] = (None if before is None or cost is None
                                           else before + cost)
            if trace is not None:
                trace.add_cost(key, cost)

    def _shed(self) -> None:
        """Drop the records held for the quietest traces in flight, down to half the budget."""
        for trace in self._open.values():
            if self._held <= MAX_OPEN_RECORDS // 2:
                return
            if trace.records:
                self._held -= len(trace.records)
                trace.dropped += len(trace.records)
                trace.records = None

    def _close_trace(self, trace: TraceSummary) -> None:
        if trace.records is not None and trace.trace_id in self._open:
            self._held -= len(trace.records)
        self._open.pop(trace.trace_id, None)
        self._running.pop(trace.trace_id, None)
        self._closed[trace.trace_id] = None
        if len(self._closed) > _CLOSED_MEMORY:
            del self._closed[next(iter(self._closed))]
        if trace.duration_ms is None:
            trace.duration_ms = span_ms(trace.start, trace.end)
        if trace.errors:
            self.failed_traces += 1
        elif trace.status == "interrupted":
            self.interrupted_traces += 1
        if not trace.complete:
            self.incomplete_traces += 1
        seq = next(self._seq)
        if self._slowest_n:
            item = (trace.duration_ms or 0.0, seq, trace)
            if len(self._slowest) < self._slowest_n:
                heapq.heappush(self._slowest, item)
            else:
                heapq.heappushpop(self._slowest, item)
        if self.max_traces:
            picked = (self._key(trace), seq, trace)
            if len(self._picked) < self.max_traces:
                heapq.heappush(self._picked, picked)
            else:
                evicted = heapq.heappushpop(self._picked, picked)[2]
                evicted.records = None
        else:
            trace.records = None

    def finish(self) -> None:
        """Close the traces whose root never ended (they count as incomplete)."""
        for trace in list(self._open.values()):
            self._close_trace(trace)

    def collect(self, records: Iterable[dict[str, Any]]) -> None:
        """Keep the records of the traces picked for detail, from a second read of the log.

        For inputs that can be read twice: the first pass (:meth:`add`) keeps no records, this
        one keeps only those of :meth:`selected` traces.
        """
        wanted = {t.trace_id: t for t in self.selected()}
        for trace in wanted.values():
            trace.records, trace.dropped, trace.streamed = [], 0, None
        for rec in records:
            found = wanted.get(trace_key(rec))
            if found is not None:
                _keep(found, rec)

    # -- results --------------------------------------------------------------------------------

    @property
    def tokens(self) -> Tokens:
        """Token usage over every model."""
        total = Tokens()
        for t in self.tokens_by_model.values():
            total.calls += t.calls
            total.input_tokens = min(total.input_tokens + t.input_tokens, MAX_TOKEN_SUM)
            total.output_tokens = min(total.output_tokens + t.output_tokens, MAX_TOKEN_SUM)
            total.total_tokens = min(total.total_tokens + t.total_tokens, MAX_TOKEN_SUM)
        return total

    @property
    def cost_shown(self) -> bool:
        """Whether cost can be shown: model calls were seen and something can price them
        (the price table, or the user's prices)."""
        return self.pricer is not None and bool(self.cost_by_model) and self.pricer.shown

    @property
    def cost_hint(self) -> str | None:
        """What to install to see cost, when there were model calls and no price table."""
        if self.pricer is None or not self.cost_by_model or self.pricer.table:
            return None
        from chainsink.cost import INSTALL_HINT

        return INSTALL_HINT

    @property
    def cost_total(self) -> Decimal | None:
        """What every model call cost in USD (0 without any); None if any is unpriced."""
        total = Decimal(0)
        for cost in self.cost_by_model.values():
            if cost is None:
                return None
            total += cost
        return total

    @property
    def cost_priced(self) -> Decimal:
        """What the calls of the priced models cost in USD."""
        return sum((c for c in self.cost_by_model.values() if c is not None), Decimal(0))

    @property
    def unpriced_models(self) -> list[str]:
        """The models with an unpriced call, sorted."""
        return sorted(m for m, c in self.cost_by_model.items() if c is None)

    def price_table(self) -> str | None:
        """The price table's version, or None without the ``chainsink[cost]`` extra (or with
        ``cost=False``)."""
        if self.pricer is None or not self.pricer.table:
            return None
        from chainsink.cost import price_table_version

        return price_table_version()

    def selected(self) -> list[TraceSummary]:
        """The traces picked for full detail, first to show first."""
        return [t for _, _, t in sorted(self._picked, key=lambda i: (i[0], i[1]), reverse=True)]

    def slowest(self) -> list[TraceSummary]:
        """The slowest traces, slowest first."""
        return [t for _, _, t in sorted(self._slowest, key=lambda i: (i[0], i[1]), reverse=True)]

    def latency_rows(self) -> list[tuple[str, Latency]]:
        """``(run name, latency)`` pairs, the names that took the most time in total first."""
        return sorted(self.latency.items(), key=lambda kv: (-kv[1].total, kv[0]))

    def to_dict(self) -> dict[str, Any]:
        """Everything the summary found, as JSON values (what ``chainsink stats --json`` prints)."""
        return {
            "records": self.records,
            "traces": self.traces,
            "failed_traces": self.failed_traces,
            "interrupted_traces": self.interrupted_traces,
            "incomplete_traces": self.incomplete_traces,
            "runs": self.runs,
            "errors": self.errors,
            "interrupted": self.interrupted,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "tokens": dataclasses.asdict(self.tokens),
            "tokens_by_model": {m: {**dataclasses.asdict(t),
                                    "cost": _float(self.cost_by_model.get(m))}
                                for m, t in sorted(self.tokens_by_model.items())},
            "latency_ms": {name: {"runs": lat.count, "errors": lat.errors,
                                  "p50": lat.percentile(50), "p95": lat.percentile(95),
                                  "max": lat.max if lat.count else None,
                                  "total": round(lat.total, 3)}
                           for name, lat in self.latency_rows()},
            "slowest_traces": [t.to_dict() for t in self.slowest()],
            "cost": self.cost_dict(),
        }

    def cost_dict(self) -> dict[str, Any]:
        """The cost as JSON values: ``total`` (0 without model calls; null: unknown),
        ``priced``, ``unpriced_models``, ``price_table`` (its version; null without the
        ``chainsink[cost]`` extra), ``user_prices`` and ``note`` (what to install). Each
        model's cost is in ``to_dict()["tokens_by_model"]``, each trace's in its own."""
        return {
            "currency": "USD",
            "total": _float(self.cost_total),
            "priced": float(self.cost_priced),
            "unpriced_models": self.unpriced_models,
            "price_table": self.price_table(),
            "user_prices": self.pricer is not None and self.pricer.prices is not None,
            "note": self.cost_hint and f"{self.cost_hint} to see what calls cost",
        }


# -- helpers ------------------------------------------------------------------------------------


def trace_key(rec: dict[str, Any]) -> str:
    """The trace a record belongs to, as a string (its run's id when it names no trace)."""
    trace = rec.get("trace_id") or rec.get("run_id")
    return trace if isinstance(trace, str) else _text(trace)


def _keep(trace: TraceSummary, rec: dict[str, Any]) -> None:
    assert trace.records is not None
    if rec.get("event") == "llm_new_token":  # llm_end carries the whole text
        run_id = _text(rec.get("run_id"))
        if trace.streamed is None:
            trace.streamed = set()
        if run_id in trace.streamed or len(trace.records) >= MAX_TRACE_RECORDS:
            return
        trace.streamed.add(run_id)  # its first token: when the answer began
        rec = {k: rec.get(k) for k in ("v", "ts", "event", "run_id", "parent_run_id",
                                       "trace_id", "name", "run_type")}
    if len(trace.records) < MAX_TRACE_RECORDS:
        trace.records.append(shrink(rec))
    else:
        trace.dropped += 1


def stopped_without_failing(rec: dict[str, Any]) -> bool:
    """Whether an error record is of a run stopped without failing: flagged ``interrupted``
    (cancelled, interrupted, its stream closed, handed off) or ``aborted`` (closed at exit)."""
    return rec.get("interrupted") is True or rec.get("aborted") is True


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None else str(value)


def _name(rec: dict[str, Any]) -> str:
    name = rec.get("name")
    return name if isinstance(name, str) and name else "<unknown>"


_int = token_count
_ms = duration_ms


def _float(cost: Decimal | None) -> float | None:
    return None if cost is None else float(cost)


def error_text(error: Any) -> str:
    """A record's ``error`` as one line for people, ``"Type: message"`` (cut at 300 chars)."""
    if isinstance(error, dict):
        text = f"{error.get('type') or 'Error'}: {error.get('message') or ''}"
    else:
        text = str(error)
    return text if len(text) <= 300 else text[:300] + "..."


_error_text = error_text


def span_ms(start: str | None, end: str | None) -> float | None:
    """Milliseconds from the ``ts`` ``start`` to the ``ts`` ``end``; None if either is not a
    usable time (see :func:`~chainsink.report._values.utc_time`)."""
    a, b = utc_time(start), utc_time(end)
    if a is None or b is None:
        return None
    try:
        return round((b - a).total_seconds() * 1000.0, 3)
    except TypeError:  # one naive, one aware
        return None


def shrink(value: Any, limit: int = MAX_KEPT_CHARS, _depth: int = 0) -> Any:
    """``value`` with strings longer than ``limit`` cut (and marked), for keeping in memory."""
    if isinstance(value, str):
        if len(value) <= limit:
            return value
        return f"{value[:limit]}... [{len(value) - limit} more chars]"
    if _depth > 40:
        return "<max depth>"
    if isinstance(value, dict):
        return {k: shrink(v, limit, _depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [shrink(v, limit, _depth + 1) for v in value]
    return value


def summarize(records: Iterable[dict[str, Any]], **options: Any) -> LogSummary:
    """A finished :class:`LogSummary` of ``records`` (options as for :class:`LogSummary`)."""
    summary = LogSummary(**options)
    for rec in records:
        summary.add(rec)
    summary.finish()
    return summary
