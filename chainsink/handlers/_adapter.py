"""The LangChain adapter: every callback becomes an :class:`~chainsink.Event`.

:class:`CallbackHandler` is the one LangChain callback handler all of chainsink's handlers are.
It turns each callback into an event (with :mod:`._langchain` reading LangChain's arguments and
:class:`~._runs.RunTracker` placing the run in its trace) and hands it to its
:class:`~._pipeline.Pipeline` (processors -> formatter -> sink); :mod:`._lifecycle` looks after
it at exit, on SIGTERM and at fork.

Adding a key to every record: an :class:`~chainsink.Event` field (``chainsink/_schema.py``)
filled in :meth:`CallbackHandler._event` here. Adding an event kind: the schema's kinds, an
``on_...`` callback here, and its look in ``chainsink/formatters/_console.py``.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from chainsink._schema import END_KINDS, ERROR_KINDS, Event
from chainsink._stderr import Reporter
from chainsink.formatters import JsonlFormatter
from chainsink.handlers import _lifecycle
from chainsink.handlers._langchain import (
    RUN_INLINE,
    error_data,
    error_fields,
    model_of,
    run_name,
    usage_and_model,
)
from chainsink.handlers._pipeline import NO_TOKEN_PATH, Pipeline, TokenPath
from chainsink.handlers._runs import Run, RunTracker, error_kind
from chainsink.processors import default_processors
from chainsink.sinks import make_sink
from chainsink.typing import Formatter, KnowsClosed, Processor, Sink

_F = TypeVar("_F", bound=Callable[..., None])
_CLOSING = END_KINDS | ERROR_KINDS
#: What ``_last_token`` holds for a run whose tokens the pipeline does not take.
_NOT_TAKEN: Any = TokenPath(-3)
#: Ends of runs whose streamed tokens a processor may still hold.
_LLM_CLOSING = frozenset({"llm_end", "llm_error"})
_now = time.time

# which of BaseCallbackHandler's ignore_* switches silences which event kinds
_IGNORE_SWITCHES = {
    "ignore_llm": frozenset({"llm_start", "llm_new_token", "llm_end", "llm_error"}),
    "ignore_chat_model": frozenset({"chat_model_start"}),
    "ignore_retriever": frozenset({"retriever_start", "retriever_end", "retriever_error"}),
    "ignore_retry": frozenset({"retry"}),
    "ignore_custom_event": frozenset({"custom_event"}),
}


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

    run_inline = RUN_INLINE  # True, except where answering True would hide other handlers

    # LangChain and pydantic copy configs and models (``model_copy(deep=True)``); a handler
    # holds a sink and the runs it has open, so, like langchain-core's own run-tracking
    # handlers (BaseTracer, the astream_events handler), a copy is the handler itself: it
    # writes to the same sink, knows the same runs, and is not called twice by one manager.
    def __copy__(self) -> CallbackHandler:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> CallbackHandler:
        return self

    # plain attributes shadowing BaseCallbackHandler's properties, so that a handler whose
    # formatter renders no LLM (or retriever, ...) events is not even called for them
    ignore_llm = False
    ignore_chat_model = False
    ignore_retriever = False
    ignore_retry = False
    ignore_custom_event = False
    # set by capture() when its block ends with runs that may go on in its tasks and threads:
    # each trace is then on disk as it ends, in an event loop too (see _flush_trace)
    _flush_when_idle = False

    def __init__(self, sink: Any, formatter: Formatter | None = None, *,
                 processors: Iterable[Processor] | None = None,
                 raise_error: bool = False) -> None:
        formatter = formatter if formatter is not None else JsonlFormatter()
        self._pipeline = Pipeline(
            make_sink(sink, formatter), formatter,
            default_processors() if processors is None else tuple(processors))
        self.raise_error = raise_error
        self._ignore_unrendered()
        self._tracker = RunTracker(self._closed_for_langchain)
        # the run the last token belonged to and its shortcut; forgotten when any run starts
        # or ends, so it always names an open run
        self._last_token: tuple[UUID, TokenPath] | None = None
        self._report = Reporter(type(self).__name__)
        _lifecycle.register(self)

    # -- the pipeline's parts, replaceable ----------------------------------------------------

    @property
    def sink(self) -> Sink:
        """Where the text goes (setting it rebuilds the pipeline)."""
        return self._pipeline.sink

    @sink.setter
    def sink(self, value: Any) -> None:
        self._replace_part(sink=make_sink(value, self.formatter))

    @property
    def formatter(self) -> Formatter:
        """Turns each event into text (setting it rebuilds the pipeline)."""
        return self._pipeline.formatter

    @formatter.setter
    def formatter(self, value: Formatter) -> None:
        self._replace_part(formatter=value)

    @property
    def processors(self) -> Sequence[Processor]:
        """Applied to each event before formatting (setting them rebuilds the pipeline)."""
        return self._pipeline.processors

    @processors.setter
    def processors(self, value: Iterable[Processor]) -> None:
        self._replace_part(processors=tuple(value))

    def _replace_part(self, **part: Any) -> None:
        old = self.__dict__.get("_pipeline")
        if old is None:  # set by a subclass before __init__: __init__ decides
            return
        parts = {"sink": old.sink, "formatter": old.formatter, "processors": old.processors}
        self._pipeline = Pipeline(**{**parts, **part})
        # every cached token shortcut names the old parts
        self._last_token = None
        for run in list(self._tracker.runs.values()):
            run.token_path = None
        self._ignore_unrendered()

    def _ignore_unrendered(self) -> None:
        """Have LangChain skip calling this handler for kinds its formatter renders none of."""
        kinds = self._pipeline.kinds
        for switch, silenced in _IGNORE_SWITCHES.items():
            if kinds is not None and kinds.isdisjoint(silenced):
                setattr(self, switch, True)
            else:
                self.__dict__.pop(switch, None)

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Flush and close the sink. Safe to call more than once."""
        if not self._sink_closed():
            try:
                self._pipeline.release_held()
            except Exception as exc:
                if self.raise_error:
                    raise
                self._report(type(exc).__name__, exc, "close")
        self.sink.close()

    def _sink_closed(self) -> bool:
        sink = self.sink
        return isinstance(sink, KnowsClosed) and bool(sink.closed)

    def flush(self) -> None:
        """Write out anything the sink still buffers."""
        self.sink.flush()

    def __enter__(self) -> CallbackHandler:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start(self, run_id: UUID, parent_run_id: UUID | None, name: str, run_type: str,
               tags: list[str] | None, metadata: dict[str, Any] | None,
               model: str | None = None) -> Run:
        self._last_token = None
        if parent_run_id is None:  # a trace starts (cheap: a thread check off the main thread)
            _lifecycle.rearm_watcher()
        return self._tracker.start(run_id, parent_run_id, name, run_type, tags, metadata, model)

    def _open_run(self, run_id: UUID, parent_run_id: UUID | None,
                  run_type: str = "chain") -> Run:
        return self._tracker.open_run(run_id, parent_run_id, run_type)

    def _closed_for_langchain(self, run_id: UUID, run: Run, data: dict[str, Any]) -> None:
        """Record the end of a run the tracker closed on LangChain's behalf."""
        self._emit(error_kind(run.run_type), run_id, run, data)

    @staticmethod
    def _event(kind: str, run_id: UUID, run: Run, data: dict[str, Any]) -> Event:
        """The event of a callback of ``kind`` about ``run``: the one place events are made."""
        return Event(kind, _now(), run_id, run.parent_run_id, run.trace_id, run.depth,
                     run.name, run.run_type, run.tags, run.metadata, data)

    def _emit(self, kind: str, run_id: UUID, run: Run, data: dict[str, Any]) -> None:
        pipeline = self._pipeline
        if pipeline.takes(kind):
            pipeline.send(self._event(kind, run_id, run, data))
        elif kind in _LLM_CLOSING and pipeline.takes("llm_new_token"):
            # not written, but processors holding the run's tokens back release them
            pipeline.send_from((self._event(kind, run_id, run, data),), 0)
        if kind in _CLOSING and run_id == run.trace_id:
            self._flush_trace()

    def _flush_trace(self) -> None:
        if not _in_event_loop() or (self._flush_when_idle and not self._tracker.runs):
            # a synchronous caller sees its whole trace on disk when invoke() returns, and so
            # does the awaiter of the last run a capture() block left behind
            self.sink.flush()

    def _end(self, kind: str, run_id: UUID, parent_run_id: UUID | None, run_type: str,
             data: dict[str, Any]) -> None:
        tracker = self._tracker
        if tracker.late(run_id):
            return
        usage = tracker.trace_usage.get(run_id)
        outlived = bool(tracker.outliving) and run_id in tracker.outliving
        self._last_token = None
        run, duration = tracker.finish(run_id, parent_run_id, run_type,
                                       data if data.get("interrupted") else None)
        data["duration_ms"] = duration
        if usage and run.trace_id == run_id:  # a root's end carries its trace's token totals
            data["usage_by_model"] = usage
        self._emit(kind, run_id, run, data)
        if outlived:  # the late end of a trace already written goes to disk at once too
            self._flush_trace()

    def has_open_runs(self) -> bool:
        """Whether any run this handler saw start has not ended yet."""
        return bool(self._tracker.runs)

    def abort_open_runs(self, reason: str = "the process exited before the run ended") -> None:
        """Close every run still open with an error record marked ``aborted``, deepest first.

        Called for every live handler at interpreter exit, so no log has runs that never end.
        A handler whose sink was closed records nothing. A run that still ends afterwards (on a
        daemon thread, say) gets no second closing record.
        """
        if self._sink_closed():
            return
        if self._tracker.pid != os.getpid():  # a forked child, before its fork hook ran
            self.disown_runs()
        for run_id, run in self._tracker.deepest_first():
            # no traceback: nothing was raised here, chainsink closes the run (as the tracker
            # closes a run stopped with its trace, or one it gave up waiting for)
            self._end(error_kind(run.run_type), run_id, run.parent_run_id, run.run_type,
                      {"error": {"type": "Aborted", "message": reason}, "aborted": True})
            self._tracker.drop_later_end(run_id)  # the run may still end (a daemon thread)

    def disown_runs(self) -> None:
        """Forget the runs open at ``fork()``: in the child they are the parent's to end.

        A forked worker that exits or is terminated must not write ends for them; an end the
        child still sees (it went on with the parent's chain) is dropped, like a late one.
        """
        self._tracker.disown()
        self._last_token = None

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
                          metadata, model_of(kwargs, metadata))
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
                          metadata, model_of(kwargs, metadata))
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
        if isinstance(kwargs.get("tool_call_id"), str):  # the model's id for this call
            data["tool_call_id"] = kwargs["tool_call_id"]
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
        tracker = self._tracker
        if tracker.late(run_id):
            return
        usage, model = usage_and_model(response)
        open_run = tracker.runs.get(run_id)
        if open_run is not None:  # count before finish: a root model call frees its trace
            model = model or open_run.model
            if open_run.trace_id != run_id:
                tracker.count_usage(open_run, usage, model)
        self._last_token = None
        run, duration = tracker.finish(run_id, parent_run_id, "llm")
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
        self._end("chain_error", run_id, parent_run_id, "chain", error_data(error))

    @_guarded
    def on_llm_error(self, error: BaseException, *, run_id: UUID,
                     parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        """Record a model call failing."""
        self._end("llm_error", run_id, parent_run_id, "llm", error_data(error))

    @_guarded
    def on_tool_error(self, error: BaseException, *, run_id: UUID,
                      parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        """Record a tool call failing."""
        self._end("tool_error", run_id, parent_run_id, "tool", error_data(error))

    @_guarded
    def on_retriever_error(self, error: BaseException, *, run_id: UUID,
                           parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        """Record a retriever failing."""
        self._end("retriever_error", run_id, parent_run_id, "retriever", error_data(error))

    # -- events inside a run ----------------------------------------------------------------

    def on_llm_new_token(self, token: str | list[str | dict[str, Any]], *, run_id: UUID,
                         parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        """Record one streamed token."""
        # the hottest callback: guarded inline, and a plain string token of a known run goes
        # straight from the formatter's per-run renderer to the sink when every processor
        # would pass it unchanged (see _token_path)
        try:
            last = self._last_token  # tokens of one run come in a row, with one UUID object
            if last is not None and last[0] is run_id:
                path: TokenPath | None = last[1]
                if path is _NOT_TAKEN:
                    return  # the sink said no at the run's first token (a logger's level)
            else:
                pipeline = self._pipeline
                if (pipeline.kinds is not None and "llm_new_token" not in pipeline.kinds) or (
                        pipeline.accepts is not None and not pipeline.accepts("llm_new_token")):
                    # asked once per streamed run: a logger's level is a few us to read
                    self._last_token = (run_id, _NOT_TAKEN)
                    return
                run = self._tracker.runs.get(run_id)
                path = None if run is None else run.token_path
                if run is not None and (path is None or path.max_chars == -2):
                    path = self._token_path(run_id, run)
                if path is not None:
                    self._last_token = (run_id, path)
            if path is not None and type(token) is str and len(token) <= path.max_chars:
                for reject in path.rejects:
                    if reject.search(token) is not None:
                        break
                else:
                    step = path.step
                    # the text this token's record carries (None: the processors decide)
                    text = token if step is None else step(token)
                    if text is False:
                        return  # the run's first token: its record comes with the next one
                    if text is not None:
                        if step is None or (not path.rejects and len(text)
                                             <= path.max_chars) or path.fits(text):
                            try:
                                line = path.line(_now(), text)  # type: ignore[misc]
                            except Exception:  # noqa: BLE001 - e.g. a lone surrogate
                                line = None
                            if line is not None:
                                path.write(line)  # type: ignore[misc]
                                return
                        if step is not None:  # taken: the rest of the way from the step on
                            self._decided(run_id, parent_run_id, text, path.after)
                            return
            if path is not None and path is not NO_TOKEN_PATH:
                # a processor may hold this token back, and then refuse the shortcut until it
                # lets it go: ask the processors again for the next token
                self._last_token = None
                open_run = self._tracker.runs.get(run_id)
                if open_run is not None:
                    open_run.token_path = path._replace(max_chars=-2, rejects=())
            self._emit("llm_new_token", run_id, self._open_run(run_id, parent_run_id, "llm"),
                       {"token": token})
        except Exception as exc:
            if self.raise_error:
                raise
            self._report(type(exc).__name__, exc, "on_llm_new_token")

    def _decided(self, run_id: UUID, parent_run_id: UUID | None, text: str, after: int) -> None:
        """Send a token record whose text a processor's step decided through the processors
        after it."""
        run = self._open_run(run_id, parent_run_id, "llm")
        self._pipeline.send_from((self._event("llm_new_token", run_id, run, {"token": text}),),
                                 after)

    def _token_path(self, run_id: UUID, run: Run) -> TokenPath:
        """The shortcut on_llm_new_token takes for the run's tokens: built once per run, and
        again (reusing its line renderer) after a token that took the full path."""
        template = self._event("llm_new_token", run_id, run, {})
        path = self._pipeline.token_path(template, run.token_path)
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
            # no traceback: the attempt is retried; the run's error record, if it fails, has one
            data["error"] = error_fields(outcome.exception())
        self._emit("retry", run_id, self._open_run(run_id, parent_run_id), data)

    @_guarded
    def on_custom_event(self, name: str, data: Any, *, run_id: UUID,
                        tags: list[str] | None = None, metadata: dict[str, Any] | None = None,
                        **kwargs: Any) -> None:
        """Record an event sent with ``dispatch_custom_event`` (progress, milestones, ...)."""
        self._emit("custom_event", run_id, self._open_run(run_id, kwargs.get("parent_run_id")),
                   {"event_name": name, "data": data})
