"""The callback end of the pipeline.

LangChain callback -> Event -> processors -> formatter -> sink.
"""

from __future__ import annotations

import _thread
import asyncio
import atexit
import contextlib
import functools
import inspect
import os
import re
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from types import CodeType, FrameType
from typing import Any, Literal, NamedTuple, TypeVar
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.callbacks import manager as _lc_manager

from chainsink._schema import END_KINDS, ERROR_KINDS, Event
from chainsink._stderr import Reporter
from chainsink.formatters import Formatter, JsonlFormatter
from chainsink.processors import TokenRule, default_processors
from chainsink.sinks import Sink, flush_all, make_sink

Processor = Callable[[Event], "Event | tuple[Event, ...] | None"]
"""Takes an event and returns it, a changed copy, None to drop it, or a tuple of events: ones
it held back before (such as streamed tokens that may start a secret) released with it."""

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
    exactly what the full path would. ``max_chars`` is -1 when the run has no shortcut
    (``line`` kept, if built, for the next time it is asked for) and -2 when it must be asked
    for again: a token took the full path, and a processor may be holding it back.
    """

    max_chars: int
    rejects: tuple[re.Pattern[str], ...] = ()
    line: Callable[[float, str], bytes] | None = None
    write: Callable[[bytes], None] | None = None
    #: A processor's TokenRule.step (one holding text back decides each record's text), and
    #: the index of the processors after it: a decided text they must see goes to them.
    step: Callable[[str], str | Literal[False] | None] | None = None
    after: int = 0


_NO_TOKEN_PATH = _TokenPath(-1)
#: Ends of runs whose streamed tokens a processor may still hold.
_LLM_CLOSING = frozenset({"llm_end", "llm_error"})


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


#: Exceptions that stop a run without it having failed, by class name (langgraph is optional),
#: and what an error record's ``interrupt`` says about each (the first name in the MRO wins).
_INTERRUPTS = {
    "KeyboardInterrupt": "keyboard_interrupt",  # Ctrl-C
    "CancelledError": "cancelled",  # asyncio (or concurrent.futures) cancelled the task
    "GeneratorExit": "stream_closed",  # the consumer stopped reading a stream early
    "SystemExit": "exit",  # sys.exit(), e.g. a service's graceful SIGTERM handler
    "GraphInterrupt": "graph_interrupt",  # LangGraph interrupt(): paused for input, resumable
    "ParentCommand": "handoff",  # LangGraph Command(graph=Command.PARENT): control moved up
    "GraphDrained": "drained",  # LangGraph stopped at a step boundary on request, resumable
    "GraphBubbleUp": "graph_control",  # the base of LangGraph's control-flow exceptions
}
#: Runs still open when their trace's root ended are tracked until they end; past this many,
#: the oldest is closed as aborted (and its own late end dropped) so memory stays bounded.
_MAX_OUTLIVING = 10_000


def _error(exc: BaseException) -> dict[str, str]:
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - an exception whose __str__ raises
        message = f"<unprintable {type(exc).__name__}>"
    return {"type": type(exc).__name__, "message": message}


def _interrupt_kind(exc: BaseException) -> str | None:
    """What kind of stop ``exc`` is (see :data:`_INTERRUPTS`), or None for a failure."""
    for cls in type(exc).__mro__:
        kind = _INTERRUPTS.get(cls.__name__)
        if kind is not None:
            return kind
    return None


def _error_data(exc: BaseException) -> dict[str, Any]:
    """An error event's fields; a run stopped without failing (interrupted, cancelled, handed
    off, its stream closed) says so with ``interrupted`` and ``interrupt``, so that nothing
    counts it as a failure."""
    data: dict[str, Any] = {"error": _error(exc)}
    kind = _interrupt_kind(exc)
    if kind is not None:
        data["interrupted"] = True
        data["interrupt"] = kind
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


# -- run_inline: called inline, without hiding other handlers -------------------------------
# langchain-core's AsyncCallbackManager.on_llm_start (1.0 to 1.8 at least) sends on_llm_start
# to the inline handlers alone when its list has any, and to the others only when it has none.
# A chainsink handler always saying ``run_inline = True`` would silently take every async
# completion-model start away from the user's own handlers. So the answer depends on who reads
# it (see CallbackHandler.run_inline); the readers are told apart by their code object.


def _codes(*functions: Any) -> tuple[CodeType, ...]:
    """The code of each function (unwrapped) and of the comprehensions inside it: on Python
    3.11 a comprehension reads ``run_inline`` in a frame of its own."""
    found: list[CodeType] = []
    todo = [getattr(inspect.unwrap(f), "__code__", None) for f in functions if f is not None]
    while todo:
        code = todo.pop()
        if isinstance(code, CodeType):
            found.append(code)
            todo.extend(const for const in code.co_consts if isinstance(const, CodeType))
    return tuple(found)


_getframe = sys._getframe  # noqa: SLF001 - the caller's code object is the whole point
_lc_async_manager = getattr(_lc_manager, "AsyncCallbackManager", None)
#: Dispatch that only decides whether to call a handler inline: True there costs nobody.
_INLINE_CODES = _codes(getattr(_lc_manager, "_ahandle_event_for_handler", None),
                       getattr(_lc_manager, "ahandle_event", None),
                       getattr(_lc_async_manager, "on_chat_model_start", None))
#: The dispatch that skips the non-inline handlers when any handler is inline.
_SPLIT_CODES = _codes(getattr(_lc_async_manager, "on_llm_start", None))
# ids of code objects kept alive by the tuples above, so a set lookup is all a read costs
_INLINE_READERS = frozenset(map(id, _INLINE_CODES))
_SPLIT_READERS = frozenset(map(id, _SPLIT_CODES))
_LC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(_lc_manager.__file__ or ""))) + os.sep
#: Whether any handler's ``run_inline`` was ever set; until then reads skip looking for it.
_pinned = False


def _inline_for(handler: BaseCallbackHandler, reader: FrameType) -> bool:
    """``run_inline`` as read by anything but langchain-core's per-event dispatch (or when
    some handler's answer was pinned)."""
    pin = handler.__dict__.get("run_inline")
    if pin is not None:
        return bool(pin)
    code = reader.f_code
    if id(code) in _INLINE_READERS:
        return True
    if id(code) in _SPLIT_READERS:
        return _llm_start_answer(handler, reader)
    # a reader elsewhere in langchain-core (a later version's new dispatch) gets False: at worst
    # an executor hop for chainsink, never a callback taken from another handler
    return not code.co_filename.startswith(_LC_DIR)


def _llm_start_answer(handler: BaseCallbackHandler, reader: FrameType) -> bool:
    """``run_inline`` for the on_llm_start dispatch: False only if that hides nobody.

    If another handler of the manager is inline, langchain-core skips the non-inline ones
    whatever chainsink answers, and chainsink answers True to get the call itself. If only
    non-inline handlers are beside chainsink's, False puts every handler on the branch that
    calls them all (where ahandle_event still calls chainsink inline). With chainsink's handlers
    alone, True keeps the cheaper inline branch.
    """
    frame: FrameType | None = reader
    while frame is not None and frame.f_code is not _SPLIT_CODES[0]:  # up from a comprehension
        frame = frame.f_back
    manager = None if frame is None else frame.f_locals.get("self")
    handlers = getattr(manager, "handlers", None)
    if not isinstance(handlers, list):
        return False  # cannot tell: better chainsink than the others miss the call
    ours = vars(CallbackHandler)["run_inline"]
    hidden = False
    for other in handlers:
        if other is handler or (getattr(type(other), "run_inline", None) is ours
                                and "run_inline" not in other.__dict__):
            continue  # chainsink's own handlers all answer alike
        try:
            inline = bool(other.run_inline)
        except Exception:  # noqa: BLE001 - a handler that cannot say is not inline
            inline = False
        if inline:
            return True
        hidden = True
    return not hidden


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

    @property
    def run_inline(self) -> bool:
        """Whether LangChain may call this handler on the event loop's thread (no executor hop).

        True, except to the one dispatch where an inline handler hides the others
        (langchain-core's ``AsyncCallbackManager.on_llm_start``): there it is True only if
        another handler on that manager is inline anyway, so chainsink never changes which
        handlers get a callback, and still gets every one itself. Setting it pins the answer.
        """
        reader = _getframe(1)  # the hot path: read for every event under asyncio
        if id(reader.f_code) in _INLINE_READERS and not _pinned:
            return True
        return _inline_for(self, reader)

    @run_inline.setter
    def run_inline(self, value: bool) -> None:
        global _pinned  # noqa: PLW0603 - one flag, so unpinned reads never look
        self.__dict__["run_inline"] = bool(value)
        _pinned = True

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
        # runs still open when their trace's root ended, oldest first (see _end_trace)
        self._outliving: dict[UUID, None] = {}
        self._max_outliving = _MAX_OUTLIVING
        self._report = Reporter(type(self).__name__)
        _live_handlers.add(self)
        _install_sigterm_hook()

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Flush and close the sink. Safe to call more than once."""
        if not getattr(self.sink, "closed", False):
            try:
                self._release_held()
            except Exception as exc:
                if self.raise_error:
                    raise
                self._report(type(exc).__name__, exc, "close")
        self.sink.close()

    def _release_held(self) -> None:
        """Write what processors still hold of streams that never ended (a model run cut off
        by close): a processor holding streamed text back offers ``release_all()``."""
        for index, process in enumerate(self.processors):
            release_all = getattr(process, "release_all", None)
            if release_all is not None:
                held = tuple(release_all())
                if held:
                    self._write_all(held, index + 1)

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
            else:  # started under a run that outlived its trace's root: tracked with it
                self._runs[run_id] = run
                self._outlive(run_id)
                return run
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

    def _finish(self, run_id: UUID, parent_run_id: UUID | None, run_type: str,
                stop: dict[str, Any] | None = None) -> tuple[_Run, float | None]:
        """Forget an ending run; return it (a stand-in if never started) and its duration.

        ``stop`` is the run's error data when it was interrupted (see :func:`_error_data`).
        """
        self._last_token = None
        run = self._runs.pop(run_id, None)
        if run is None:  # an end without a start: record it, with what we can know
            return self._open_run(run_id, parent_run_id, run_type), None
        if run.trace_id == run_id:
            self._end_trace(run_id, stop)
        elif self._outliving:
            self._outliving.pop(run_id, None)
        return run, round((_clock() - run.started) * 1000.0, 3)

    def _end_trace(self, root_id: UUID, stop: dict[str, Any] | None) -> None:
        """The root ended: forget the trace, but not its runs that are still open.

        A run can outlive its root: an async branch still running when its parallel root
        failed, a model whose stream is closed after the chain reading it ended. Such runs
        stay tracked, in the trace, until their own end comes (or :meth:`abort_open_runs`),
        so a run that succeeds is recorded as succeeding. When the root itself was stopped
        (cancelled, interrupted, its stream closed), its open runs were stopped with it
        (LangChain never closes a cancelled tool): they are closed now, flagged the same way,
        and their own late ends are dropped.
        """
        self._trace_usage.pop(root_id, None)
        for child in reversed(self._trace_runs.pop(root_id, ())):
            left = self._runs.get(child)
            if left is None:
                continue
            if stop is None:
                self._outlive(child)
                continue
            del self._runs[child]
            error = stop.get("error") or {}
            self._close_early(child, left, {
                "error": {"type": error.get("type"),
                          "message": f"its trace was stopped ({stop.get('interrupt')}) "
                                     "before it ended"},
                "interrupted": True, "interrupt": stop.get("interrupt")})

    def _outlive(self, run_id: UUID) -> None:
        """Track an open run whose trace's root has ended; past the cap, abort the oldest."""
        outliving = self._outliving
        outliving[run_id] = None
        if len(outliving) > self._max_outliving:
            oldest = next(iter(outliving), run_id)
            outliving.pop(oldest, None)  # another thread may have ended it meanwhile
            left = self._runs.pop(oldest, None)
            if left is not None:
                self._close_early(oldest, left, {
                    "error": {"type": "Aborted",
                              "message": f"more than {self._max_outliving} runs outlived "
                                         "their trace; chainsink stopped waiting for this one"},
                    "aborted": True})

    def _close_early(self, run_id: UUID, run: _Run, data: dict[str, Any]) -> None:
        """Record an open run's end on LangChain's behalf; its own end, if it comes, is dropped."""
        if len(self._closed_early) >= 10_000:
            self._closed_early.clear()
        self._closed_early[run_id] = None
        data["duration_ms"] = round((_clock() - run.started) * 1000.0, 3)
        self._emit(_ERROR_KIND.get(run.run_type, "chain_error"), run_id, run, data)

    def _emit(self, kind: str, run_id: UUID, run: _Run, data: dict[str, Any]) -> None:
        if not self._takes(kind):
            if kind in _LLM_CLOSING and self._takes("llm_new_token"):
                # not written, but processors holding the run's tokens back release them
                self._write_all((Event(kind, _now(), run_id, run.parent_run_id, run.trace_id,
                                       run.depth, run.name, run.run_type, run.tags,
                                       run.metadata, data),), 0)
            if kind in _CLOSING and run_id == run.trace_id:
                self._flush_trace()
            return
        # an Event, until a processor drops it (None) or releases held ones with it (tuple)
        event: Any = Event(kind, _now(), run_id, run.parent_run_id, run.trace_id, run.depth,
                           run.name, run.run_type, run.tags, run.metadata, data)
        for index, process in enumerate(self.processors, 1):
            event = process(event)
            if event is None:
                return
            if type(event) is tuple:  # records it held back, released with this one
                self._write_all(event, index)
                break
        else:
            text = self.formatter(event)
            if text:
                self.sink.write(text, event)
        if kind in _CLOSING and run_id == run.trace_id:
            self._flush_trace()

    def _takes(self, kind: str) -> bool:
        """Whether this handler's formatter and sink take events of ``kind`` now."""
        return (self._kinds is None or kind in self._kinds) and (
            self._accepts is None or self._accepts(kind))

    def _write_all(self, events: tuple[Event, ...], start: int) -> None:
        """Send ``events`` (a processor's tuple) through the processors from ``start`` on and
        write those of kinds this handler takes."""
        processors = self.processors
        for event in events:
            out: Any = event
            for index in range(start, len(processors)):
                out = processors[index](out)
                if out is None:
                    break
                if type(out) is tuple:
                    self._write_all(out, index + 1)
                    out = None
                    break
            if out is not None and self._takes(out.event):
                text = self.formatter(out)
                if text:
                    self.sink.write(text, out)

    def _flush_trace(self) -> None:
        if not _in_event_loop() or (self._flush_when_idle and not self._runs):
            # a synchronous caller sees its whole trace on disk when invoke() returns, and so
            # does the awaiter of the last run a capture() block left behind
            self.sink.flush()

    def _late(self, run_id: UUID) -> bool:
        """Whether this end belongs to a run chainsink already closed (see _close_early)."""
        return (run_id not in self._runs and bool(self._closed_early)
                and self._closed_early.pop(run_id, False) is None)

    def _end(self, kind: str, run_id: UUID, parent_run_id: UUID | None, run_type: str,
             data: dict[str, Any]) -> None:
        if self._late(run_id):
            return
        usage = self._trace_usage.get(run_id)
        outlived = bool(self._outliving) and run_id in self._outliving
        run, duration = self._finish(run_id, parent_run_id, run_type,
                                     data if data.get("interrupted") else None)
        data["duration_ms"] = duration
        if usage and run.trace_id == run_id:  # a root's end carries its trace's token totals
            data["usage_by_model"] = usage
        self._emit(kind, run_id, run, data)
        if outlived:  # the late end of a trace already written goes to disk at once too
            self._flush_trace()

    def _count_usage(self, run: _Run, usage: dict[str, int] | None, model: str | None) -> None:
        if not usage or run.trace_id not in self._trace_runs:  # none, or its root has ended
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

    def _disown_runs(self) -> None:
        """Forget the runs open at ``fork()``: in the child they are the parent's to end.

        A forked worker that exits or is terminated must not write ends for them; an end the
        child still sees (it went on with the parent's chain) is dropped, like a late one.
        """
        for run_id in self._runs:
            self._closed_early[run_id] = None
        self._runs.clear()
        self._trace_runs.clear()
        self._trace_usage.clear()
        self._outliving.clear()
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
                        if step is None or self._fits(path, text):
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
            if path is not None and path is not _NO_TOKEN_PATH:
                # a processor may hold this token back, and then refuse the shortcut until it
                # lets it go: ask the processors again for the next token
                self._last_token = None
                open_run = self._runs.get(run_id)
                if open_run is not None:
                    open_run.token_path = path._replace(max_chars=-2, rejects=())
            self._emit("llm_new_token", run_id, self._open_run(run_id, parent_run_id, "llm"),
                       {"token": token})
        except Exception as exc:
            if self.raise_error:
                raise
            self._report(type(exc).__name__, exc, "on_llm_new_token")

    @staticmethod
    def _fits(path: _TokenPath, text: str) -> bool:
        """Whether a decided text passes the processors' rules as a token would."""
        if len(text) > path.max_chars:
            return False
        return all(reject.search(text) is None for reject in path.rejects)

    def _decided(self, run_id: UUID, parent_run_id: UUID | None, text: str, after: int) -> None:
        """Send a token record whose text a processor's step decided through the processors
        after it."""
        run = self._open_run(run_id, parent_run_id, "llm")
        self._write_all((Event("llm_new_token", _now(), run_id, run.parent_run_id, run.trace_id,
                               run.depth, run.name, run.run_type, run.tags, run.metadata,
                               {"token": text}),), after)

    def _token_path(self, run_id: UUID, run: _Run) -> _TokenPath:
        """Build the shortcut on_llm_new_token takes for the run's tokens: once per run, and
        again (reusing its line renderer) after a token that took the full path.

        It exists when the formatter renders tokens straight to bytes (``token_line``), the
        sink takes bytes (``write_bytes``) and every processor states a :class:`TokenRule`
        for the run; otherwise tokens take the full path, event by event.
        """
        path = _NO_TOKEN_PATH
        known = run.token_path.line if run.token_path is not None else None
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
                    path = _TokenPath(-1, (), known, write)  # may be asked for again
                    break
                rules.append(rule)
            else:
                steps = [(index, rule.step) for index, rule in enumerate(rules, 1)
                         if rule.step is not None]
                line = known if known is not None else line_for(template)
                if len(steps) > 1:  # two processors deciding the records: no shortcut
                    path = _TokenPath(-1, (), line, write)
                elif line is not None:
                    after, step = steps[0] if steps else (0, None)
                    path = _TokenPath(
                        min((rule.max_chars for rule in rules), default=sys.maxsize),
                        tuple(rule.reject for rule in rules if rule.reject is not None),
                        line, write, step, after)
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


#: How long closing the open runs at exit or on SIGTERM may take, in seconds: a sink stuck in a
#: write (a stdout pipe nobody reads) is left behind after that, and the process goes on exiting.
CLOSE_TIMEOUT = 2.0


def _close_runs(handler: CallbackHandler, reason: str, done: Any) -> None:
    try:
        handler.abort_open_runs(reason)
        handler.sink.flush()
    except Exception:  # noqa: BLE001, S110 - at exit, each handler on its own
        pass
    finally:
        done.release()


def _flush_sinks(handlers: list[CallbackHandler], done: Any) -> None:
    try:
        for handler in handlers:
            with contextlib.suppress(Exception):  # at exit, each handler on its own
                handler.sink.flush()
    finally:
        done.release()


def _abort_all_at_exit(reason: str = "the process exited before the run ended",
                       timeout: float = CLOSE_TIMEOUT) -> None:
    """Close every live handler's open runs as aborted and flush its sink, within ``timeout``.

    The work runs on helper threads, one per handler with open runs: the calling thread (a
    signal handler's) may have been stopped inside a sink's write, holding a lock that writing
    takes again, and a sink stuck in a write must not keep the process from exiting. Low-level
    threads, so that no lock of the ``threading`` module that the caller may hold is needed.
    """
    jobs: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
    idle = []
    for handler in list(_live_handlers):
        if handler._runs:  # noqa: SLF001 - the handlers' own module
            jobs.append((_close_runs, (handler, reason)))
        else:
            idle.append(handler)
    if idle:
        jobs.append((_flush_sinks, (idle,)))
    deadline = time.monotonic() + timeout
    waits = []
    for job, args in jobs:
        done = _thread.allocate_lock()
        done.acquire()
        try:
            _thread.start_new_thread(job, (*args, done))
        except RuntimeError:  # no new threads this late in shutdown: do it here, then
            job(*args, done)
        waits.append(done)
    for done in waits:
        done.acquire(timeout=max(0.0, deadline - time.monotonic()))


# registered after the sinks' own exit flush, so it runs before it (atexit is LIFO)
atexit.register(_abort_all_at_exit)

_sigterm_installed = False


def _on_sigterm(signum: int, frame: Any) -> None:
    # close what is open and write what is queued, then die of SIGTERM as before; every wait
    # is bounded, and a second SIGTERM meanwhile ends the process at once
    try:
        signal.signal(signum, signal.SIG_DFL)
        _abort_all_at_exit("the process was terminated (SIGTERM) before the run ended")
        # here, on the interrupted thread: a flush it was in the middle of holds the file's
        # (re-entrant) lock, which only this thread can take now
        flush_all(timeout=CLOSE_TIMEOUT)
    finally:
        os.kill(os.getpid(), signum)


def _forget_inherited_runs() -> None:
    for handler in list(_live_handlers):
        with contextlib.suppress(Exception):  # never disturb the child being born
            handler._disown_runs()  # noqa: SLF001


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited_runs)


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
