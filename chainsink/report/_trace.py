"""One trace's records turned into a run tree: what the report shows when a trace is expanded.

Besides the rows, a trace carries its search text (``find``): ids, names, run types, tags,
models and errors first, then what the runs carried, each distinct string once (not JSON: a
value's strings and numbers, not its keys): errors, tracebacks and model answers, then tool
arguments and results, retrieved documents, metadata values and event text, then chain inputs
and outputs, prompts and the messages sent to models. It stops at :data:`FIND_LIMIT`
characters (``cut`` then says so), so a trace with too much text loses its inputs first.
"""

from __future__ import annotations

import dataclasses
import textwrap
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from chainsink._schema import (
    END_KINDS,
    ERROR_KINDS,
    PLACEHOLDER_INPUTS,
    START_KINDS,
    TOKEN_KEYS,
    short_id,
)
from chainsink.formatters import ConsoleFormatter, generation_lines, message_lines, tool_output
from chainsink.read import event_from_record
from chainsink.report._summary import TraceSummary, stopped_without_failing
from chainsink.report._values import duration_ms, format_usd, token_count, utc_time

if TYPE_CHECKING:
    from chainsink.cost import Pricer

#: Longest text shown for one value (inputs, outputs, metadata) of one run.
VALUE_LIMIT = 10_000
#: Runs shown per trace; the rest are counted.
MAX_ROWS = 2_000
#: Events (custom events, agent steps, text, retries) shown per run.
MAX_RUN_EVENTS = 50
#: Longest search text of one trace (see the module docstring); past it, ``cut`` is set.
FIND_LIMIT = 100_000
#: Invocation parameters shown per model run, and the longest text shown for one.
MAX_PARAMS = 40
PARAM_LIMIT = 300
#: Messages shown per model run's inputs.
MAX_MESSAGES = 200
#: Keys of a value whose contents are bookkeeping, not what a run carried: left out of search.
_NOT_SEARCHED = frozenset({"response_metadata", "usage_metadata", "additional_kwargs",
                           "lc_versions", "lc", "graph"})

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
    traceback: str | None = None
    messages: list[dict[str, Any]] | None = None
    out_messages: list[dict[str, Any]] | None = None
    params: list[list[str]] | None = None
    first_token: datetime | None = None
    tags: list[str] = dataclasses.field(default_factory=list)
    metadata: str | None = None
    model: str | None = None
    usage: list[int] | None = None
    cost: str | None = None
    events: list[tuple[datetime | None, str]] = dataclasses.field(default_factory=list)
    children: list[_Run] = dataclasses.field(default_factory=list)


class _Find:
    """The content part of a trace's search text: distinct strings, in three tiers, each up to
    the whole budget, so that when a trace holds too much text what is cut is what matters
    least. Tier 0: errors, tracebacks and what models answered; 1: tools, retrievers,
    metadata and events; 2: chain and model inputs."""

    __slots__ = ("budgets", "cut", "parts", "seen", "tier")

    def __init__(self, budget: int) -> None:
        self.budgets = [budget] * 3
        self.cut = False
        self.parts: list[list[str]] = [[], [], []]
        self.seen: dict[str, int] = {}
        self.tier = 0

    def add(self, text: str) -> None:
        tier = self.tier
        if not text or self.seen.get(text, 3) <= tier:
            return
        budget = self.budgets[tier]
        if budget <= 0:
            self.cut = True
            return
        self.seen[text] = tier
        if len(text) + 1 > budget:
            text = text[:budget - 1]
            self.cut = True
        self.parts[tier].append(text)
        self.budgets[tier] -= len(text) + 1

    def value(self, value: Any, depth: int = 0) -> None:
        """The strings and numbers inside ``value`` (not its keys, nor its bookkeeping)."""
        if self.budgets[self.tier] <= 0:
            self.cut = self.cut or value not in (None, "", [], {})
            return
        if isinstance(value, str):
            self.add(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            self.add(str(value))
        elif depth > 40:
            return
        elif isinstance(value, dict):
            for key, item in value.items():
                if key not in _NOT_SEARCHED:
                    self.value(item, depth + 1)
        elif isinstance(value, list):
            for item in value:
                self.value(item, depth + 1)

    def text(self, head: str, limit: int) -> tuple[str, bool]:
        """The search text (``head`` first, then the tiers in order) and whether any was cut."""
        whole = "\n".join([head, *(part for tier in self.parts for part in tier)])
        return whole[:limit].lower(), self.cut or len(whole) > limit


def trace_view(summary: TraceSummary, records: list[dict[str, Any]], *,
               pricer: Pricer | None = None) -> dict[str, Any]:
    """The page's data for one trace: its summary and its runs in tree order.

    Every value is JSON and every text is plain (the page sets it as text, never as HTML).
    Each row has ``d`` (depth), ``e`` (index after its last descendant), ``n`` (name), ``t``
    (run type), ``s`` (status), ``o`` and ``ms`` (start offset and duration in milliseconds,
    for the waterfall) and, when known, ``tok``, ``model``, ``in``, ``out``, ``err``, ``tags``,
    ``meta`` and ``ev`` (events inside the run: ``[offset_ms, text]``), ``tb`` (the error's
    traceback), ``msgs`` and ``omsgs`` (a chat model's input and output messages, in place of
    ``in`` and ``out``: each ``{"r": role, "c": content}`` with ``n`` (name), ``id`` (the tool
    call it answers) and ``tc`` (tool calls: ``[name, arguments, id]``) when there are any),
    ``params`` (a model's invocation parameters: ``[key, value]``) and ``ttft`` (a streamed
    model's time to its first token, in milliseconds) and ``cost`` (a model run's cost as
    text, or ``"unpriced"``).

    With a ``pricer`` (the summary's, :attr:`LogSummary.pricer`) that can price anything, a
    trace with model calls has ``cost``: ``{"usd": what it cost, or None when a call of it is
    unpriced; "text": that as text; "priced": what its priced calls cost, and
    "priced_text" as text; "unpriced": the models with no known price}``, and each model
    run its own ``cost``.

    The trace has ``find`` (its search text, lower case; see the module docstring), ``cut``
    (whether that text reached :data:`FIND_LIMIT`) and ``tb`` (the first failure's traceback).
    """
    runs: dict[str, _Run] = {}
    order: list[_Run] = []
    found = _Find(FIND_LIMIT)
    first_tb: str | None = None
    if pricer is not None and not (summary.tokens.calls > 0 and pricer.shown):
        pricer = None  # nothing to price, or nothing to price with
    for rec in records:
        run_id = str(rec.get("run_id"))
        run = runs.get(run_id)
        if run is None:
            parent = rec.get("parent_run_id")
            run = runs[run_id] = _Run(run_id, _str(rec.get("name")) or "<unknown>",
                                      _str(rec.get("run_type")),
                                      None if parent is None else str(parent))
            order.append(run)
        _apply(run, rec, found)
        if pricer is not None and rec.get("event") == "llm_end":
            _price_run(run, rec, pricer)
        if first_tb is None and rec.get("event") in ERROR_KINDS and run.traceback \
                and not stopped_without_failing(rec):
            first_tb = run.traceback

    roots: list[_Run] = []
    for run in order:
        parent = runs.get(run.parent) if run.parent is not None else None
        if parent is None or parent is run:
            roots.append(run)
        else:
            parent.children.append(run)

    t0, span = _timing(order)

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
    head = " ".join([
        summary.trace_id, summary.name, *sorted({r.name for r in order}), *types,
        *sorted({tag for r in order for tag in r.tags}),
        *sorted({r.model for r in order if r.model}),
        *dict.fromkeys(r.error for r in order if r.error)])
    find, cut = found.text(head, FIND_LIMIT)
    tokens = summary.tokens
    view: dict[str, Any] = {
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
        "tb": first_tb,
        "interrupted": summary.interrupted,
        "interrupt": summary.interrupt,
        "tokens": [tokens.input_tokens, tokens.output_tokens, tokens.total_tokens]
        if tokens.total_tokens or tokens.input_tokens or tokens.output_tokens else None,
        "types": types,
        "find": find,
        "cut": cut,
        "rows": rows,
        "hidden": hidden,
        "dropped": summary.dropped,
    }
    if pricer is not None:
        view["cost"] = trace_cost(summary)
    return view


def _timing(order: list[_Run]) -> tuple[datetime | None, float | None]:
    """When the trace's first run started and how long it spans, in milliseconds (and each
    run's duration, where only its start and end were logged)."""
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
    return t0, span


def trace_cost(summary: TraceSummary) -> dict[str, Any]:
    """A trace's cost as page data (see :func:`trace_view`)."""
    cost = summary.cost
    return {"usd": None if cost is None else float(cost), "text": format_usd(cost),
            "priced": float(summary.priced_cost), "priced_text": format_usd(summary.priced_cost),
            "unpriced": list(summary.unpriced)}


def _price_run(run: _Run, rec: dict[str, Any], pricer: Pricer) -> None:
    cost = pricer.price_record(rec)
    run.cost = "unpriced" if cost is None else format_usd(cost)


def _apply(run: _Run, rec: dict[str, Any], found: _Find) -> None:
    kind = rec.get("event")
    ts = utc_time(rec.get("ts"))
    if kind in START_KINDS:
        _started(run, kind, ts, rec)
        _find_start(found, kind, rec)
    elif kind in END_KINDS or kind in ERROR_KINDS:
        _ended(run, kind, ts, rec)
        _find_end(found, kind, rec)
    elif kind == "llm_new_token":
        if run.first_token is None:
            run.first_token = ts
    elif len(run.events) < MAX_RUN_EVENTS:
        try:
            event = event_from_record({**rec, "depth": 0})  # shown unindented
            text = textwrap.dedent(_EVENT_TEXT(event)).strip("\n")
        except Exception:  # noqa: BLE001 - a malformed record still shows as JSON
            text = _value(rec)
        if text:
            run.events.append((ts, _clip(text)))
            found.tier = 1
            found.add(text)


def _find_start(found: _Find, kind: Any, rec: dict[str, Any]) -> None:
    params = rec.get("invocation_params")
    if isinstance(params, dict):
        found.tier = 0
        for key in ("model", "model_name", "model_id"):
            found.value(params.get(key))
    found.tier = 1
    found.value(rec.get("metadata"))
    found.tier = 1 if kind in ("tool_start", "retriever_start") else 2
    if kind == "chat_model_start":
        _find_messages(found, rec.get("messages"))
    elif not (kind == "chain_start" and rec.get("defers_inputs")):
        for key in ("inputs", "prompts", "input_str", "query"):
            value = rec.get(key)
            if value is not None and value != PLACEHOLDER_INPUTS:
                found.value(value)


def _find_end(found: _Find, kind: Any, rec: dict[str, Any]) -> None:
    found.tier = 0 if kind in ERROR_KINDS or kind == "llm_end" else \
        1 if kind in ("tool_end", "retriever_end") else 2
    if kind in ERROR_KINDS:
        err = rec.get("error")
        if isinstance(err, dict):
            for key in ("type", "message", "traceback"):
                found.value(err.get(key))
        else:
            found.value(err)
        return
    out = rec.get("outputs")
    if kind == "llm_end":
        batches = out.get("generations") if isinstance(out, dict) else None
        for batch in batches if isinstance(batches, list) else ():
            for gen in batch if isinstance(batch, list) else (batch,):
                if isinstance(gen, dict) and isinstance(gen.get("message"), dict):
                    _find_messages(found, [[gen["message"]]])
                elif isinstance(gen, dict):
                    found.value(gen.get("text"))
        found.value(rec.get("model"))
    else:
        found.value(out)
    late = rec.get("inputs")
    if kind == "chain_end" and late is not None and late != PLACEHOLDER_INPUTS:
        found.value(late)


def _find_messages(found: _Find, batches: Any) -> None:
    for msg in _flat_messages(batches):
        if isinstance(msg, dict):
            found.value(msg.get("content"))
            found.value(msg.get("name"))
            found.value(msg.get("tool_calls"))
            found.value(msg.get("invalid_tool_calls"))
        else:
            found.value(msg)


def _flat_messages(batches: Any) -> list[Any]:
    """The messages of a ``messages`` value (a list of lists, as LangChain gives them)."""
    if not isinstance(batches, list):
        return []
    flat: list[Any] = []
    for batch in batches:
        flat.extend(batch if isinstance(batch, list) else (batch,))
    return flat


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
    if kind == "chat_model_start" and isinstance(rec.get("messages"), list):
        run.messages = _messages(rec.get("messages"))
        run.inputs = None
    else:
        run.inputs = _inputs(kind, rec)
    params = rec.get("invocation_params")
    if isinstance(params, dict):
        model = params.get("model") or params.get("model_name") or params.get("model_id")
        run.model = model if isinstance(model, str) and model else run.model
        run.params = _params(params)
    if run.model is None and isinstance(metadata, dict):
        model = metadata.get("ls_model_name")
        run.model = model if isinstance(model, str) and model else None


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
            tb = err.get("traceback")
            if isinstance(tb, str) and tb.strip():
                run.traceback = _clip(tb)
        else:
            run.error = _value(err)
    else:
        run.status = "ok"
        run.out_messages = _out_messages(rec.get("outputs")) if kind == "llm_end" else None
        run.outputs = None if run.out_messages else _outputs(kind, rec)
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


def _messages(batches: Any) -> list[dict[str, Any]]:
    """Chat messages as the page lays them out: role, content, name, tool calls."""
    flat = _flat_messages(batches)
    shown = [_message(m) for m in flat[:MAX_MESSAGES]]
    if len(flat) > MAX_MESSAGES:
        shown.append({"r": "\u2026", "c": f"{len(flat) - MAX_MESSAGES} more messages"})
    return shown


def _out_messages(out: Any) -> list[dict[str, Any]] | None:
    """A chat model's answer(s) as messages; None when the generations are plain text."""
    batches = out.get("generations") if isinstance(out, dict) else None
    if not isinstance(batches, list):
        return None
    messages: list[dict[str, Any]] = []
    for batch in batches:
        for gen in batch if isinstance(batch, list) else (batch,):
            message = gen.get("message") if isinstance(gen, dict) else None
            if not isinstance(message, dict):
                return None
            messages.append(_message(message))
            if len(messages) >= MAX_MESSAGES:
                return messages
    return messages or None


_ROLES = {"human": "human", "user": "human", "ai": "ai", "assistant": "ai",
          "system": "system", "developer": "system", "tool": "tool", "function": "function"}


def _role(msg: dict[str, Any]) -> str:
    kind, role = msg.get("type"), msg.get("role")
    if not isinstance(kind, str) or not kind:
        kind = role
    if not isinstance(kind, str) or not kind:
        return "message"
    key = kind.removesuffix("Chunk").removesuffix("Message").lower() or kind.lower()
    if key == "chat" and isinstance(role, str):
        key = role
    return _ROLES.get(key, key)


def _message(msg: Any) -> dict[str, Any]:
    if not isinstance(msg, dict):
        return {"r": "message", "c": _value(msg)}
    shown: dict[str, Any] = {"r": _clip(_role(msg)), "c": _content(msg.get("content"))}
    name = msg.get("name")
    if isinstance(name, str) and name:
        shown["n"] = _clip(name)
    call_id = msg.get("tool_call_id")
    if isinstance(call_id, str) and call_id:
        shown["id"] = _clip(call_id)
    calls: list[Any] = []
    for key in ("tool_calls", "invalid_tool_calls"):
        found = msg.get(key)
        if isinstance(found, list):
            calls += found
    kwargs = msg.get("additional_kwargs")
    if not calls and isinstance(kwargs, dict) and isinstance(kwargs.get("tool_calls"), list):
        calls = kwargs["tool_calls"]  # the provider's own form: {"function": {...}}
    if calls:
        shown["tc"] = [_tool_call(c) for c in calls[:MAX_MESSAGES]]
    return shown


def _tool_call(call: Any) -> list[str]:
    if not isinstance(call, dict):
        return ["", _value(call), ""]
    fn = call.get("function")
    if not isinstance(fn, dict):
        fn = call
    args = fn.get("args", fn.get("arguments"))
    call_id = call.get("id")
    return [_clip(_str(fn.get("name"))),
            _value(args) if args is not None else "",
            _clip(call_id) if isinstance(call_id, str) else ""]


def _content(content: Any) -> str:
    """A message's content as text: text blocks as their text, other blocks as JSON."""
    if isinstance(content, str):
        return _clip(content)
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and block.get("type") == "text" \
                    and isinstance(block.get("text"), str):
                parts.append(block["text"])
            else:
                parts.append(_clip_to(_compact(block), PARAM_LIMIT))
        return _clip("\n".join(parts))
    return "" if content is None else _value(content)


def _params(params: dict[str, Any]) -> list[list[str]] | None:
    """A model's invocation parameters as ``[key, value]`` text pairs (nulls left out)."""
    shown = [[_clip_to(str(k), PARAM_LIMIT),
              _clip_to(v if isinstance(v, str) else _compact(v), PARAM_LIMIT)]
             for k, v in params.items() if v is not None]
    return shown[:MAX_PARAMS] or None


def _clip_to(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}\u2026"


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
    for key, value in (("tok", run.usage), ("model", run.model), ("cost", run.cost),
                       ("in", run.inputs),
                       ("out", run.outputs), ("err", run.error), ("tb", run.traceback),
                       ("meta", run.metadata), ("msgs", run.messages),
                       ("omsgs", run.out_messages), ("params", run.params)):
        if value is not None:
            row[key] = value
    if run.first_token is not None and run.start is not None:
        ttft = _ms_between(run.start, run.first_token)
        if ttft is not None and ttft >= 0:
            row["ttft"] = ttft
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
