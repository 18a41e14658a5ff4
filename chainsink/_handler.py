"""The callback end of the pipeline.

LangChain callback -> Event -> processors -> formatter -> sink.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import re
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple, TypeVar
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from chainsink._event import END_KINDS, ERROR_KINDS, Event
from chainsink._report import Reporter
from chainsink.formatters import Formatter, JsonlFormatter
from chainsink.processors import TokenRule, default_processors
from chainsink.sinks import Sink, make_sink

Processor = Callable[[Event], "Event | None"]
"""Takes an event and returns it, a changed copy, or None to drop it."""

_F = TypeVar("_F", bound=Callable[..., None])
_CLOSING = END_KINDS | ERROR_KINDS
_ERROR_KIND = {"llm": "llm_error", "tool": "tool_error", "retriever": "retriever_error"}

_live_handlers: weakref.WeakSet[CallbackHandler] = weakref.WeakSet()
_now = time.time
_clock = time.perf_counter

# which of BaseCallbackHandler's ignore_* switches silences which event kinds
_IGNORE_SWITCHES = {
    "ignore_llm": frozenset({"llm_start", "llm_new_token", "llm_end", "llm_error"}),
    "ignore_chat_model": frozenset({"chat_model_start"}),
    "ignore_retriever": frozenset({"retriever_start", "retriever_end", "retriever_error"}),
    "ignore_retry": frozenset({"retry"}),
    "ignore_custom_event": frozenset({"custom_event"}),
}


class _Run:
    """What a handler remembers about an open run, so ends can name their run."""

    __slots__ = ("depth", "metadata", "model", "name", "parent_run_id", "run_type", "started",
                 "tags", "token_path", "trace_id")

    def __init__(self, parent_run_id: UUID | None, trace_id: UUID, depth: int, name: str,
                 run_type: str, tags: list[str], metadata: dict[str, Any],
                 model: str | None = None) -> None:
        self.parent_run_id = parent_run_id
        self.trace_id = trace_id
        self.depth = depth
        self.name = name
        self.run_type = run_type
        self.tags = tags
        self.metadata = metadata
        self.model = model
        self.started = _clock()
        #: How this handler writes the run's streamed tokens without building events
        #: (see CallbackHandler._token_path); None until the first token.
        self.token_path: _TokenPath | None = None


class _TokenPath(NamedTuple):
    """A run's shortcut for streamed tokens: every processor's :class:`TokenRule` combined,
    the formatter's per-run line renderer and the sink's bytes writer.

    A token that is a ``str`` of at most ``max_chars`` characters matched by none of
    ``rejects`` would pass every processor unchanged, so ``write(line(ts, token))`` records
    exactly what the full path would. ``max_chars`` is -1 when the run has no shortcut.
    """

    max_chars: int
    rejects: tuple[re.Pattern[str], ...] = ()
    line: Callable[[float, str], bytes] | None = None
    write: Callable[[bytes], None] | None = None


_NO_TOKEN_PATH = _TokenPath(-1)


def _guarded(method: _F) -> _F:
    """Run a callback so that a failure inside chainsink never reaches the user's chain."""

    @functools.wraps(method)
    def wrapper(self: CallbackHandler, *args: Any, **kwargs: Any) -> None:
        try:
            method(self, *args, **kwargs)
        except Exception as exc:
            if self.raise_error:
                raise
            self._report(type(exc).__name__, exc, method.__name__)

    return wrapper  # type: ignore[return-value]


def run_name(serialized: Any, kwargs: dict[str, Any], default: str = "<unknown>") -> str:
    """Resolve a run's name as LangChain does: ``name`` kwarg, serialized name, id's last part."""
    name = kwargs.get("name")
    if not name and isinstance(serialized, dict):
        name = serialized.get("name")
        if not name:
            ident = serialized.get("id")
            if isinstance(ident, (list, tuple)) and ident:
                name = ident[-1]
    if not name:
        return default
    return name if isinstance(name, str) else str(name)


def _model_of(kwargs: dict[str, Any], metadata: dict[str, Any] | None) -> str | None:
    params = kwargs.get("invocation_params")
    if isinstance(params, dict):
        model = params.get("model") or params.get("model_name")
        if isinstance(model, str):
            return model
    if metadata:
        model = metadata.get("ls_model_name")
        if isinstance(model, str):
            return model
    return None


#: Exceptions that stop a run without it having failed: Ctrl-C, task cancellation, and
#: LangGraph's human-in-the-loop interrupts (matched by name: langgraph is optional).
_INTERRUPTS = frozenset({"KeyboardInterrupt", "CancelledError", "GraphInterrupt",
                         "NodeInterrupt", "Interrupt"})


def _error(exc: BaseException) -> dict[str, str]:
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - an exception whose __str__ raises
        message = f"<unprintable {type(exc).__name__}>"
    return {"type": type(exc).__name__, "message": message}


def _error_data(exc: BaseException) -> dict[str, Any]:
    """An error event's fields; interrupts are flagged so they are not counted as failures."""
    data: dict[str, Any] = {"error": _error(exc)}
    if any(cls.__name__ in _INTERRUPTS for cls in type(exc).__mro__):
        data["interrupted"] = True
    return data


def _usage_and_model(response: Any) -> tuple[dict[str, int] | None, str | None]:
    """Token usage (as LangChain's usage_metadata) and model name from an LLMResult."""
    totals: dict[str, int] | None = None
    model: str | None = None
    for batch in getattr(response, "generations", None) or ():
        for gen in batch:
            message = getattr(gen, "message", None)
            usage = getattr(message, "usage_metadata", None)
            if usage:
                totals = totals or {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
                for key in totals:
                    totals[key] += int(usage.get(key) or 0)
            meta = getattr(message, "response_metadata", None)
            if model is None and isinstance(meta, dict):
                found = meta.get("model_name") or meta.get("model")
                model = found if isinstance(found, str) else None
    llm_output = getattr(response, "llm_output", None)
    if isinstance(llm_output, dict):
        if totals is None:
            usage = llm_output.get("token_usage") or llm_output.get("usage")
            if isinstance(usage, dict) and usage:
                inp = int(usage.get("prompt_tokens", usage.get("input_tokens")) or 0)
                out = int(usage.get("completion_tokens", usage.get("output_tokens")) or 0)
                totals = {"input_tokens": inp, "output_tokens": out,
                          "total_tokens": int(usage.get("total_tokens") or inp + out)}
        if model is None:
            found = llm_output.get("model_name") or llm_output.get("model")
            model = found if isinstance(found, str) else None
    return totals, model


def _in_event_loop() -> bool:
    return asyncio._get_running_loop() is not None  # noqa: SLF001 - the cheap C-level check


class CallbackHandler(BaseCallbackHandler):
    """A LangChain callback handler that is a formatter plus a sink.

    Every callback becomes an :class:`~chainsink.Event`, goes through ``processors`` in order,
    is rendered by ``formatter`` and written to ``sink``. The handler runs inline (no executor
    hop under asyncio), is safe to share between threads and tasks, frees what it knows about a
    trace when the trace's root run ends, and never raises into the chain unless
    ``raise_error`` is set; failures are reported once on stderr instead.

    Args:
        sink: Where the text goes: a :class:`~chainsink.sinks.Sink`, a path, a text stream or a
            callable taking one string (see :func:`chainsink.sinks.make_sink`).
        formatter: Turns an event into text; JSONL by default.
        processors: Callables applied to each event before formatting; one returning None
            drops the event. Default: :func:`chainsink.processors.default_processors`
            (secrets masked, sizes capped); pass ``()`` to record events exactly as given.
        raise_error: Let exceptions inside the handler propagate into the run.

    Example:
        >>> from chainsink import CallbackHandler
        >>> from chainsink.formatters import JsonlFormatter
        >>> handler = CallbackHandler("run.jsonl", JsonlFormatter())  # doctest: +SKIP
    """

    run_inline = True
    # plain attributes shadowing BaseCallbackHandler's properties, so that a handler whose
    # formatter renders no LLM (or retriever, ...) events is not even called for them
    ignore_llm = False
    ignore_chat_model = False
    ignore_retriever = False
    ignore_retry = False
    ignore_custom_event = False

    def __init__(self, sink: Any, formatter: Formatter | None = None, *,
                 processors: Iterable[Processor] | None = None,
                 raise_error: bool = False) -> None:
        self.sink: Sink = make_sink(sink)
        self.formatter: Formatter = formatter if formatter is not None else JsonlFormatter()
        self.processors: Sequence[Processor] = (
            default_processors() if processors is None else tuple(processors))
        self.raise_error = raise_error
        # a formatter may say which kinds it renders; the rest cost (almost) nothing
        kinds = getattr(self.formatter, "kinds", None)
        self._kinds: frozenset[str] | None = None if kinds is None else frozenset(kinds)
        if self._kinds is not None:
            for switch, silenced in _IGNORE_SWITCHES.items():
                if self._kinds.isdisjoint(silenced):
                    setattr(self, switch, True)
        # a sink may say which kinds it takes right now (a logger at INFO takes no tokens)
        self._accepts: Callable[[str], bool] | None = getattr(self.sink, "accepts", None)
        self._runs: dict[UUID, _Run] = {}
        # the run the last token belonged to and its shortcut; forgotten when any run starts
        # or ends, so it always names an open run
        self._last_token: tuple[UUID, _TokenPath] | None = None
        self._trace_runs: dict[UUID, list[UUID]] = {}
        self._trace_usage: dict[UUID, dict[str, dict[str, int]]] = {}
        self._closed_early: dict[UUID, None] = {}
        self._report = Reporter(type(self).__name__)
        _live_handlers.add(self)
        _install_sigterm_hook()

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Flush and close the sink. Safe to call more than once."""
        self.sink.close()

    def flush(self) -> None:
        """Write out anything the sink still buffers."""
        self.sink.flush()

    def __enter__(self) -> CallbackHandler:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start(self, run_id: UUID, parent_run_id: UUID | None, name: str, run_type: str,
               tags: list[str] | None, metadata: dict[str, Any] | None,
               model: str | None = None) -> _Run:
        self._last_token = None
        parent = self._runs.get(parent_run_id) if parent_run_id is not None else None
        if parent is None:
            run = _Run(parent_run_id, run_id, 0, name, run_type, tags or [], metadata or {},
                       model)
            self._trace_runs[run_id] = []
        else:
            run = _Run(parent_run_id, parent.trace_id, parent.depth + 1, name, run_type,
                       tags or [], metadata or {}, model)
            if run_id in self._trace_runs:  # the id once started a trace of its own
                del self._trace_runs[run_id]
            siblings = self._trace_runs.get(parent.trace_id)
            if siblings is not None:
                siblings.append(run_id)
        self._runs[run_id] = run
        return run

    def _open_run(self, run_id: UUID, parent_run_id: UUID | None,
                  run_type: str = "chain") -> _Run:
        """The run an in-flight event belongs to (a stand-in if its start was never seen)."""
        run = self._runs.get(run_id)
        if run is None:
            parent = self._runs.get(parent_run_id) if parent_run_id is not None else None
            if parent is not None:
                return _Run(parent_run_id, parent.trace_id, parent.depth + 1, "<unknown>",
                            run_type, [], {})
            return _Run(parent_run_id, run_id, 0, "<unknown>", run_type, [], {})
        return run

    def _finish(self, run_id: UUID, parent_run_id: UUID | None,
                run_type: str) -> tuple[_Run, float | None]:
        self._last_token = None
        run = self._runs.pop(run_id, None)
        if run is None:  # an end without a start: record it, with what we can know
            return self._open_run(run_id, parent_run_id, run_type), None
        if run.trace_id == run_id:  # the root ended: close what is still open, forget the rest
            for child in reversed(self._trace_runs.pop(run_id, ())):
                left = self._runs.pop(child, None)
                if left is not None:  # e.g. a cancelled async tool LangChain never closed
                    if len(self._closed_early) >= 10_000:
                        self._closed_early.clear()
                    self._closed_early[child] = None  # its own end, if it comes, is dropped
                    self._emit(_ERROR_KIND.get(left.run_type, "chain_error"), child, left, {
                        "error": {"type": "Aborted", "message": "its trace ended before it did"},
                        "aborted": True,
                        "duration_ms": round((_clock() - left.started) * 1000.0, 3)})
            self._trace_usage.pop(run_id, None)
        return run, round((_clock() - run.started) * 1000.0, 3)

    def _emit(self, kind: str, run_id: UUID, run: _Run, data: dict[str, Any]) -> None:
        if (self._kinds is not None and kind not in self._kinds) or (
                self._accepts is not None and not self._accepts(kind)):
            if kind in _CLOSING and run_id == run.trace_id:
                self._flush_trace()
            return
        event: Event | None = Event(kind, _now(), run_id, run.parent_run_id, run.trace_id,
                                    run.depth, run.name, run.run_type, run.tags, run.metadata,
                                    data)
        for process in self.processors:
            event = process(event)  # type: ignore[arg-type]
            if event is None:
                return
        text = self.formatter(event)  # type: ignore[arg-type]
        if text:
            self.sink.write(text, event)
        if kind in _CLOSING and run_id == run.trace_id:
            self._flush_trace()

    def _flush_trace(self) -> None:
        if not _in_event_loop():
            # a synchronous caller sees its whole trace on disk when invoke() returns
            self.sink.flush()

    def _late(self, run_id: UUID) -> bool:
        """Whether this end belongs to a run already closed when its trace ended."""
        return (run_id not in self._runs and bool(self._closed_early)
                and self._closed_early.pop(run_id, False) is None)

    def _end(self, kind: str, run_id: UUID, parent_run_id: UUID | None, run_type: str,
             data: dict[str, Any]) -> None:
        if self._late(run_id):
            return
        usage = self._trace_usage.get(run_id)
        run, duration = self._finish(run_id, parent_run_id, run_type)
        data["duration_ms"] = duration
        if usage and run.trace_id == run_id:  # a root's end carries its trace's token totals
            data["usage_by_model"] = usage
        self._emit(kind, run_id, run, data)

    def _count_usage(self, run: _Run, usage: dict[str, int] | None, model: str | None) -> None:
        if not usage:
            return
        totals = self._trace_usage.setdefault(run.trace_id, {})
        entry = totals.setdefault(model or "<unknown>", {
            "input_tokens": 0, "output_tokens": 0, "total_tokens": 0, "calls": 0})
        for key in ("input_tokens", "output_tokens", "total_tokens"):
            entry[key] += usage[key]
        entry["calls"] += 1

    def abort_open_runs(self, reason: str = "the process exited before the run ended") -> None:
        """Close every run still open with an error record marked ``aborted``, deepest first.

        Called for every live handler at interpreter exit, so no log has runs that never end.
        A handler whose sink was closed records nothing.
        """
        if getattr(self.sink, "closed", False):
            return
        for run_id, run in sorted(list(self._runs.items()), key=lambda item: -item[1].depth):
            kind = _ERROR_KIND.get(run.run_type, "chain_error")
            self._end(kind, run_id, run.parent_run_id, run.run_type,
                      {"error": {"type": "Aborted", "message": reason}, "aborted": True})

    # -- starts -----------------------------------------------------------------------------

    @_guarded
    def on_chain_start(self, serialized: dict[str, Any] | None, inputs: Any, *, run_id: UUID,
                       parent_run_id: UUID | None = None, tags: list[str] | None = None,
                       metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Record a chain (or prompt, parser, graph node) starting."""
        run = self._start(run_id, parent_run_id, run_name(serialized, kwargs),
                          kwargs.get("run_type") or "chain", tags, metadata)
        data: dict[str, Any] = {"inputs": inputs}
        if kwargs.get("defers_inputs"):  # a stream: the real inputs come with chain_end
            data["defers_inputs"] = True
        self._emit("chain_start", run_id, run, data)

    @_guarded
    def on_llm_start(self, serialized: dict[str, Any] | None, prompts: list[str], *,
                     run_id: UUID, parent_run_id: UUID | None = None,
                     tags: list[str] | None = None, metadata: dict[str, Any] | None = None,
                     **kwargs: Any) -> None:
        """Record a text-completion model call starting, with its prompts."""
        run = self._start(run_id, parent_run_id, run_name(serialized, kwargs), "llm", tags,
                          metadata, _model_of(kwargs, metadata))
        data: dict[str, Any] = {"prompts": prompts}
        if kwargs.get("invocation_params"):
            data["invocation_params"] = kwargs["invocation_params"]
        self._emit("llm_start", run_id, run, data)

    @_guarded
    def on_chat_model_start(self, serialized: dict[str, Any] | None, messages: list[list[Any]],
                            *, run_id: UUID, parent_run_id: UUID | None = None,
                            tags: list[str] | None = None,
                            metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Record a chat model call starting, with its messages."""
        run = self._start(run_id, parent_run_id, run_name(serialized, kwargs), "llm", tags,
                          metadata, _model_of(kwargs, metadata))
        data: dict[str, Any] = {"messages": messages}
        if kwargs.get("invocation_params"):
            data["invocation_params"] = kwargs["invocation_params"]
        self._emit("chat_model_start", run_id, run, data)

    @_guarded
    def on_tool_start(self, serialized: dict[str, Any] | None, input_str: str, *,
                      run_id: UUID, parent_run_id: UUID | None = None,
                      tags: list[str] | None = None, metadata: dict[str, Any] | None = None,
                      inputs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Record a tool call starting, with its input."""
        run = self._start(run_id, parent_run_id, run_name(serialized, kwargs), "tool", tags,
                          metadata)
        data: dict[str, Any] = {"input_str": input_str}
        if inputs is not None:
            data["inputs"] = inputs
        self._emit("tool_start", run_id, run, data)

    @_guarded
    def on_retriever_start(self, serialized: dict[str, Any] | None, query: str, *,
                           run_id: UUID, parent_run_id: UUID | None = None,
                           tags: list[str] | None = None,
                           metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Record a retriever query starting."""
        run = self._start(run_id, parent_run_id, run_name(serialized, kwargs), "retriever",
                          tags, metadata)
        self._emit("retriever_start", run_id, run, {"query": query})

    # -- ends and errors --------------------------------------------------------------------

    @_guarded
    def on_chain_end(self, outputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                     **kwargs: Any) -> None:
        """Record a chain ending, with its outputs (and its inputs when they came late)."""
        data: dict[str, Any] = {"outputs": outputs}
        if "inputs" in kwargs:  # streamed chains only know their input at the end
            data["inputs"] = kwargs["inputs"]
        self._end("chain_end", run_id, parent_run_id, "chain", data)

    @_guarded
    def on_llm_end(self, response: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                   **kwargs: Any) -> None:
        """Record a model call ending, with its generations, token usage and model name."""
        if self._late(run_id):
            return
        usage, model = _usage_and_model(response)
        open_run = self._runs.get(run_id)
        if open_run is not None:  # count before _finish: a root model call frees its trace
            model = model or open_run.model
            if open_run.trace_id != run_id:
                self._count_usage(open_run, usage, model)
        run, duration = self._finish(run_id, parent_run_id, "llm")
        model = model or run.model
        self._emit("llm_end", run_id, run, {"outputs": response, "usage": usage,
                                            "model": model, "duration_ms": duration})

    @_guarded
    def on_tool_end(self, output: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                    color: str | None = None, observation_prefix: str | None = None,
                    llm_prefix: str | None = None, **kwargs: Any) -> None:
        """Record a tool call ending, with its output."""
        data: dict[str, Any] = {"outputs": output}
        if color is not None or observation_prefix is not None or llm_prefix is not None:
            data["display"] = {"color": color, "observation_prefix": observation_prefix,
                               "llm_prefix": llm_prefix}
        self._end("tool_end", run_id, parent_run_id, "tool", data)

    @_guarded
    def on_retriever_end(self, documents: Any, *, run_id: UUID,
                         parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        """Record a retriever returning its documents."""
        self._end("retriever_end", run_id, parent_run_id, "retriever",
                  {"outputs": {"documents": documents}})

    @_guarded
    def on_chain_error(self, error: BaseException, *, run_id: UUID,
                       parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        """Record a chain failing."""
        self._end("chain_error", run_id, parent_run_id, "chain", _error_data(error))

    @_guarded
    def on_llm_error(self, error: BaseException, *, run_id: UUID,
                     parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        """Record a model call failing."""
        self._end("llm_error", run_id, parent_run_id, "llm", _error_data(error))

    @_guarded
    def on_tool_error(self, error: BaseException, *, run_id: UUID,
                      parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        """Record a tool call failing."""
        self._end("tool_error", run_id, parent_run_id, "tool", _error_data(error))

    @_guarded
    def on_retriever_error(self, error: BaseException, *, run_id: UUID,
                           parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        """Record a retriever failing."""
        self._end("retriever_error", run_id, parent_run_id, "retriever", _error_data(error))

    # -- events inside a run ----------------------------------------------------------------

    def on_llm_new_token(self, token: str | list[str | dict[str, Any]], *, run_id: UUID,
                         parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        """Record one streamed token."""
        # the hottest callback: guarded inline, and a plain string token of a known run goes
        # straight from the formatter's per-run renderer to the sink when every processor
        # would pass it unchanged (see _token_path)
        try:
            if (self._kinds is not None and "llm_new_token" not in self._kinds) or (
                    self._accepts is not None and not self._accepts("llm_new_token")):
                return
            last = self._last_token  # tokens of one run come in a row, with one UUID object
            if last is not None and last[0] is run_id:
                path: _TokenPath | None = last[1]
            else:
                run = self._runs.get(run_id)
                path = None if run is None else run.token_path or self._token_path(run_id, run)
                if path is not None:
                    self._last_token = (run_id, path)
            if path is not None and type(token) is str and len(token) <= path.max_chars:
                for reject in path.rejects:
                    if reject.search(token) is not None:
                        break
                else:
                    try:
                        line = path.line(_now(), token)  # type: ignore[misc]
                    except Exception:  # noqa: BLE001 - e.g. a lone surrogate: full path
                        line = None
                    if line is not None:
                        path.write(line)  # type: ignore[misc]
                        return
            self._emit("llm_new_token", run_id, self._open_run(run_id, parent_run_id, "llm"),
                       {"token": token})
        except Exception as exc:
            if self.raise_error:
                raise
            self._report(type(exc).__name__, exc, "on_llm_new_token")

    def _token_path(self, run_id: UUID, run: _Run) -> _TokenPath:
        """Build (once per run) the shortcut on_llm_new_token takes for the run's tokens.

        It exists when the formatter renders tokens straight to bytes (``token_line``), the
        sink takes bytes (``write_bytes``) and every processor states a :class:`TokenRule`
        for the run; otherwise tokens take the full path, event by event.
        """
        path = _NO_TOKEN_PATH
        line_for = getattr(self.formatter, "token_line", None)
        write = getattr(self.sink, "write_bytes", None)
        if line_for is not None and write is not None:
            template = Event("llm_new_token", 0.0, run_id, run.parent_run_id, run.trace_id,
                             run.depth, run.name, run.run_type, run.tags, run.metadata, {})
            rules: list[TokenRule] = []
            for process in self.processors:
                rule_for = getattr(process, "token_rule", None)
                rule = rule_for(template) if rule_for is not None else None
                if rule is None:
                    break
                rules.append(rule)
            else:
                line = line_for(template)
                if line is not None:
                    path = _TokenPath(
                        min((rule.max_chars for rule in rules), default=sys.maxsize),
                        tuple(rule.reject for rule in rules if rule.reject is not None),
                        line, write)
        run.token_path = path
        return path

    @_guarded
    def on_agent_action(self, action: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                        color: str | None = None, **kwargs: Any) -> None:
        """Record an agent choosing a tool."""
        self._emit("agent_action", run_id, self._open_run(run_id, parent_run_id),
                   {"tool": getattr(action, "tool", None),
                    "tool_input": getattr(action, "tool_input", None),
                    "log": getattr(action, "log", ""), "display": {"color": color}})

    @_guarded
    def on_agent_finish(self, finish: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                        color: str | None = None, **kwargs: Any) -> None:
        """Record an agent's final answer."""
        self._emit("agent_finish", run_id, self._open_run(run_id, parent_run_id),
                   {"return_values": getattr(finish, "return_values", None),
                    "log": getattr(finish, "log", ""), "display": {"color": color}})

    @_guarded
    def on_text(self, text: str, *, run_id: UUID, parent_run_id: UUID | None = None,
                color: str | None = None, end: str = "", **kwargs: Any) -> None:
        """Record free text a chain printed (LLMChain's formatted prompt, an agent's steps)."""
        self._emit("text", run_id, self._open_run(run_id, parent_run_id),
                   {"text": text, "display": {"color": color, "end": end}})

    @_guarded
    def on_retry(self, retry_state: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                 **kwargs: Any) -> None:
        """Record a retry (tenacity's RetryCallState), with the attempt and its failure."""
        data: dict[str, Any] = {"attempt": getattr(retry_state, "attempt_number", None)}
        outcome = getattr(retry_state, "outcome", None)
        if outcome is not None and getattr(outcome, "failed", False):
            data["error"] = _error(outcome.exception())
        self._emit("retry", run_id, self._open_run(run_id, parent_run_id), data)

    @_guarded
    def on_custom_event(self, name: str, data: Any, *, run_id: UUID,
                        tags: list[str] | None = None, metadata: dict[str, Any] | None = None,
                        **kwargs: Any) -> None:
        """Record an event sent with ``dispatch_custom_event`` (progress, milestones, ...)."""
        self._emit("custom_event", run_id, self._open_run(run_id, kwargs.get("parent_run_id")),
                   {"event_name": name, "data": data})


def _abort_all_at_exit(reason: str = "the process exited before the run ended") -> None:
    for handler in list(_live_handlers):
        try:
            handler.abort_open_runs(reason)
            handler.sink.flush()
        except Exception:  # noqa: BLE001, S110 - at exit, each handler on its own
            pass


# registered after the sinks' own exit flush, so it runs before it (atexit is LIFO)
atexit.register(_abort_all_at_exit)

_sigterm_installed = False


def _on_sigterm(signum: int, frame: Any) -> None:
    # close what is open and write what is queued, then die of SIGTERM as before
    _abort_all_at_exit("the process was terminated (SIGTERM) before the run ended")
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_sigterm_hook() -> None:
    """Flush logs on SIGTERM, but only where nobody else handles it (still SIG_DFL)."""
    global _sigterm_installed  # noqa: PLW0603 - once per process
    if _sigterm_installed or threading.current_thread() is not threading.main_thread():
        return
    _sigterm_installed = True
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError, AttributeError):  # no signals here (embedded, Windows)
        pass
