"""One trace's records turned into a run tree: what the report shows when a trace is expanded."""

from __future__ import annotations

import dataclasses
import textwrap
from datetime import datetime, timedelta
from typing import Any

import orjson

from chainsink._schema import END_KINDS, ERROR_KINDS, PLACEHOLDER_INPUTS, START_KINDS, TOKEN_KEYS
from chainsink.formatters import ConsoleFormatter, generation_lines, message_lines, tool_output
from chainsink.read import event_from_record
from chainsink.report._summary import TraceSummary, stopped_without_failing
from chainsink.report._values import duration_ms, token_count, utc_time

#: Longest text shown for one value (inputs, outputs, metadata) of one run.
VALUE_LIMIT = 10_000
#: Runs shown per trace; the rest are counted.
MAX_ROWS = 2_000
#: Events (custom events, agent steps, text, retries) shown per run.
MAX_RUN_EVENTS = 50

_EVENT_TEXT = ConsoleFormatter("detailed", ansi=False)


@dataclasses.dataclass
class _Run:
    run_id: str
    name: str
    run_type: str
    parent: str | None
    start: datetime | None = None
    end: datetime | None = None
    duration_ms: float | None = None
    status: str = "running"
    inputs: str | None = None
    outputs: str | None = None
    error: str | None = None
    tags: list[str] = dataclasses.field(default_factory=list)
    metadata: str | None = None
    model: str | None = None
    usage: list[int] | None = None
    events: list[tuple[datetime | None, str]] = dataclasses.field(default_factory=list)
    children: list[_Run] = dataclasses.field(default_factory=list)


def trace_view(summary: TraceSummary, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The page's data for one trace: its summary and its runs in tree order.

    Every value is JSON and every text is plain (the page sets it as text, never as HTML).
    Each row has ``d`` (depth), ``e`` (index after its last descendant), ``n`` (name), ``t``
    (run type), ``s`` (status), ``o`` and ``ms`` (start offset and duration in milliseconds,
    for the waterfall) and, when known, ``tok``, ``model``, ``in``, ``out``, ``err``, ``tags``,
    ``meta`` and ``ev`` (events inside the run: ``[offset_ms, text]``).
    """
    runs: dict[str, _Run] = {}
    order: list[_Run] = []
    for rec in records:
        run_id = str(rec.get("run_id"))
        run = runs.get(run_id)
        if run is None:
            parent = rec.get("parent_run_id")
            run = runs[run_id] = _Run(run_id, _str(rec.get("name")) or "<unknown>",
                                      _str(rec.get("run_type")),
                                      None if parent is None else str(parent))
            order.append(run)
        _apply(run, rec)

    roots: list[_Run] = []
    for run in order:
        parent = runs.get(run.parent) if run.parent is not None else None
        if parent is None or parent is run:
            roots.append(run)
        else:
            parent.children.append(run)

    starts = [r.start for r in order if r.start is not None]
    ends = [r.end for r in order if r.end is not None] + starts
    t0 = min(starts) if starts else None
    span = _ms_between(t0, max(ends)) if t0 is not None and ends else None
    for run in order:
        if run.duration_ms is None and run.start is not None and run.end is not None:
            run.duration_ms = _ms_between(run.start, run.end)
    if span is not None:  # a run's duration may reach past the last timestamp seen
        span = max([span] + [(_ms_between(t0, r.start) or 0.0) + (r.duration_ms or 0.0)
                             for r in order if r.start is not None])

    rows: list[dict[str, Any]] = []
    hidden = 0
    stack = [(run, 0) for run in reversed(roots)]
    open_rows: list[tuple[int, int]] = []  # (row index, depth) awaiting their subtree end
    while stack:
        run, depth = stack.pop()
        if len(rows) >= MAX_ROWS:
            hidden += 1
            stack.extend((c, depth + 1) for c in reversed(run.children))
            continue
        while open_rows and open_rows[-1][1] >= depth:
            rows[open_rows.pop()[0]]["e"] = len(rows)
        rows.append(_row(run, depth, t0, span))
        open_rows.append((len(rows) - 1, depth))
        stack.extend((c, depth + 1) for c in reversed(run.children))
    for index, _ in open_rows:
        rows[index]["e"] = len(rows)

    types = sorted({r.run_type for r in order if r.run_type})
    find = " ".join(
        [summary.trace_id, summary.name]
        + sorted({r.name for r in order})
        + types
        + sorted({tag for r in order for tag in r.tags})
        + [r.error for r in order if r.error]
    ).lower()
    tokens = summary.tokens
    return {
        "id": summary.trace_id,
        "tag": short_id(summary.trace_id),
        "name": summary.name,
        "type": summary.run_type,
        "status": summary.status,
        "start": summary.start,
        "dur": summary.duration_ms,
        "span": span,
        "runs": summary.runs,
        "errors": summary.errors,
        "error": summary.error,
        "interrupted": summary.interrupted,
        "interrupt": summary.interrupt,
        "tokens": [tokens.input_tokens, tokens.output_tokens, tokens.total_tokens]
        if tokens.total_tokens or tokens.input_tokens or tokens.output_tokens else None,
        "types": types,
        "find": find[:50_000],
        "rows": rows,
        "hidden": hidden,
        "dropped": summary.dropped,
    }


def short_id(trace_id: str) -> str:
    """The short tag of a trace id: its last 8 hex digits.

    LangChain's run ids are UUIDv7, whose leading digits are a timestamp shared by every run
    started in the same minute; the trailing digits are random.
    """
    digits = trace_id.replace("-", "")
    return digits[-8:] if len(digits) > 8 else digits


def _apply(run: _Run, rec: dict[str, Any]) -> None:
    kind = rec.get("event")
    ts = utc_time(rec.get("ts"))
    if kind in START_KINDS:
        _started(run, kind, ts, rec)
    elif kind in END_KINDS or kind in ERROR_KINDS:
        _ended(run, kind, ts, rec)
    elif kind != "llm_new_token" and len(run.events) < MAX_RUN_EVENTS:
        try:
            event = event_from_record({**rec, "depth": 0})  # shown unindented
            text = textwrap.dedent(_EVENT_TEXT(event)).strip("\n")
        except Exception:  # noqa: BLE001 - a malformed record still shows as JSON
            text = _value(rec)
        if text:
            run.events.append((ts, _clip(text)))


def _started(run: _Run, kind: Any, ts: datetime | None, rec: dict[str, Any]) -> None:
    run.start = ts
    run.name = _str(rec.get("name")) or run.name
    run.run_type = _str(rec.get("run_type")) or run.run_type
    tags = rec.get("tags")
    if isinstance(tags, list):
        run.tags = [str(t) for t in tags[:50]]
    metadata = rec.get("metadata")
    if isinstance(metadata, dict) and metadata:
        run.metadata = _value(metadata)
    run.inputs = _inputs(kind, rec)
    params = rec.get("invocation_params")
    if isinstance(params, dict):
        model = params.get("model") or params.get("model_name")
        run.model = model if isinstance(model, str) else run.model


def _ended(run: _Run, kind: Any, ts: datetime | None, rec: dict[str, Any]) -> None:
    run.end = ts
    duration = duration_ms(rec.get("duration_ms"))  # None when not a believable duration
    if duration is not None:
        run.duration_ms = duration
    if run.start is None and ts is not None and run.duration_ms is not None:
        run.start = ts - timedelta(milliseconds=run.duration_ms)  # its start was not logged
    if kind in ERROR_KINDS:
        run.status = "interrupted" if stopped_without_failing(rec) else "error"
        err = rec.get("error")
        if isinstance(err, dict):
            run.error = _clip(f"{err.get('type')}: {err.get('message')}")
        else:
            run.error = _value(err)
    else:
        run.status = "ok"
        run.outputs = _outputs(kind, rec)
        late = rec.get("inputs")  # a streamed chain's inputs arrive with its end
        if kind == "chain_end" and late is not None and (
                run.inputs is None or run.inputs == _value(PLACEHOLDER_INPUTS)):
            run.inputs = _value(late)
    if kind == "llm_end":
        model = rec.get("model")
        if isinstance(model, str) and model:
            run.model = model
        usage = rec.get("usage")
        if isinstance(usage, dict):
            run.usage = [_int(usage.get(k)) for k in TOKEN_KEYS]


def _inputs(kind: Any, rec: dict[str, Any]) -> str | None:
    if kind == "chain_start":
        value = rec.get("inputs")
        return None if value is None or rec.get("defers_inputs") else _value(value)
    if kind == "chat_model_start":
        return _clip(message_lines(rec.get("messages")))
    if kind == "llm_start":
        prompts = rec.get("prompts")
        if isinstance(prompts, list):
            return _clip("\n\n".join(p if isinstance(p, str) else _value(p) for p in prompts))
        return _value(prompts)
    if kind == "tool_start":
        value = rec.get("inputs")
        return _value(value if value else rec.get("input_str"))
    return _value(rec.get("query"))


def _outputs(kind: Any, rec: dict[str, Any]) -> str | None:
    out = rec.get("outputs")
    if kind == "llm_end":
        return _clip(generation_lines(out)) if out is not None else None
    if kind == "tool_end":
        return _value(tool_output(out))
    if kind == "retriever_end":
        docs = out.get("documents") if isinstance(out, dict) else None
        if isinstance(docs, list):
            lines = []
            for i, doc in enumerate(docs, 1):
                content = doc.get("page_content", doc) if isinstance(doc, dict) else doc
                meta = doc.get("metadata") if isinstance(doc, dict) else None
                text = content if isinstance(content, str) else _value(content)
                lines.append(f"[{i}] {text}" + (f"  {_compact(meta)}" if meta else ""))
            return _clip("\n".join(lines) or "(no documents)")
    return _value(out)


def _value(value: Any) -> str:
    """A value as readable text: strings as they are, anything else as indented JSON."""
    if isinstance(value, str):
        return _clip(value)
    try:
        text = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    except (TypeError, orjson.JSONEncodeError):
        text = repr(value)
    return _clip(text)


def _compact(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        return repr(value)


def _clip(text: str) -> str:
    if len(text) <= VALUE_LIMIT:
        return text
    return f"{text[:VALUE_LIMIT]}... [{len(text) - VALUE_LIMIT} more chars]"


def _row(run: _Run, depth: int, t0: datetime | None, span: float | None) -> dict[str, Any]:
    row: dict[str, Any] = {"d": depth, "n": run.name, "t": run.run_type, "s": run.status}
    offset = _ms_between(t0, run.start) if t0 is not None and run.start is not None else None
    row["o"] = offset
    ms = run.duration_ms
    if ms is None and run.status == "running" and span is not None and offset is not None:
        ms = max(span - offset, 0.0)  # never ended: draw it to the end of the trace
    row["ms"] = ms
    for key, value in (("tok", run.usage), ("model", run.model), ("in", run.inputs),
                       ("out", run.outputs), ("err", run.error), ("meta", run.metadata)):
        if value is not None:
            row[key] = value
    if run.tags:
        row["tags"] = run.tags
    if run.events:
        row["ev"] = [[_ms_between(t0, ts) if t0 is not None and ts is not None else None, text]
                     for ts, text in run.events]
    return row


def _ms_between(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    try:
        return round((b - a).total_seconds() * 1000.0, 3)
    except TypeError:
        return None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


_int = token_count
