"""What chainsink knows about LangChain: its types, its callbacks' arguments, its dispatch.

Everything here reads langchain-core objects or code; the rest of chainsink sees only events.
On import it teaches JSON conversion (:func:`chainsink._jsonable.register`) LangChain's
messages, documents, generations, prompt values and agent steps.
"""

from __future__ import annotations

import inspect
import os
import sys
import traceback
from types import CodeType, FrameType
from typing import Any

from langchain_core.agents import AgentAction, AgentFinish
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.callbacks import manager as _lc_manager
from langchain_core.documents import Document
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, Generation, LLMResult
from langchain_core.prompt_values import ChatPromptValue, StringPromptValue

from chainsink._jsonable import register
from chainsink._schema import TOKEN_KEYS, add_usage

# -- LangChain's types as JSON ------------------------------------------------------------------


def _message(msg: BaseMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"type": msg.type, "content": msg.content}
    # pydantic keeps fields in __dict__; getattr of a field a message type lacks would go
    # through pydantic's slow __getattr__ and an AttributeError
    fields = getattr(msg, "__dict__", None) or {}
    for key in ("name", "id", "tool_call_id", "tool_calls", "invalid_tool_calls",
                "usage_metadata", "additional_kwargs", "response_metadata"):
        value = fields.get(key)
        if value:
            out[key] = value
    return out


def _generation(gen: Generation) -> dict[str, Any]:
    out: dict[str, Any] = {"text": gen.text}
    if isinstance(gen, ChatGeneration):
        out["message"] = gen.message
    if gen.generation_info:
        out["generation_info"] = gen.generation_info
    return out


def _document(doc: Document) -> dict[str, Any]:
    out: dict[str, Any] = {"page_content": doc.page_content, "metadata": doc.metadata}
    if doc.id:
        out["id"] = doc.id
    return out


def _agent_step(step: AgentAction | AgentFinish) -> dict[str, Any]:
    return {k: v for k, v in step.__dict__.items() if k != "type"}


register(BaseMessage, _message)
register(Document, _document)
register(Generation, _generation)
register(LLMResult, lambda result: {"generations": result.generations,
                                    "llm_output": result.llm_output})
register(ChatPromptValue, lambda value: {"messages": value.messages})
register(StringPromptValue, lambda value: {"text": value.text})
register(AgentAction, _agent_step)
register(AgentFinish, _agent_step)

# -- what a callback's arguments say ------------------------------------------------------------


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


def model_of(kwargs: dict[str, Any], metadata: dict[str, Any] | None) -> str | None:
    """The model a model run's start names (invocation params, then ``ls_model_name``)."""
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


def _class_name(cls: type) -> str:
    """A class's name, or ``"<unknown>"`` when even that raises (a hostile metaclass)."""
    try:
        name = cls.__name__
    except Exception:  # noqa: BLE001 - a metaclass whose __name__ raises
        return "<unknown>"
    return name if isinstance(name, str) else "<unknown>"


def error_fields(exc: BaseException) -> dict[str, str]:
    """An exception as a record's ``error`` value: ``{type, message}``; never raises."""
    name = _class_name(type(exc))
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - an exception whose __str__ raises
        message = f"<unprintable {name}>"
    return {"type": name, "message": message}


#: Frames a recorded traceback keeps (the innermost ones, nearest the raise), per exception of
#: a chain: Python's ``limit=-N``.
TRACEBACK_FRAMES = 50
#: Longest recorded traceback, in characters: a longer one keeps its end (the frame that
#: raised and the exception line), which the truncation processor, cutting strings from
#: their end, would lose. Below the Truncator's default ``max_chars``.
TRACEBACK_CHARS = 16_000


def traceback_text(exc: BaseException) -> str | None:
    """``exc``'s traceback as Python prints it (chained causes and contexts, notes), keeping
    the last :data:`TRACEBACK_FRAMES` frames of each exception and at most its last
    :data:`TRACEBACK_CHARS` characters; None when it has no ``__traceback__`` (never raised),
    is not an exception at all (a callback given anything) or cannot be formatted. Never
    raises."""
    if not isinstance(exc, BaseException) or exc.__traceback__ is None:
        return None
    try:
        text = "".join(traceback.format_exception(exc, limit=-TRACEBACK_FRAMES))
    except Exception:  # noqa: BLE001 - a hostile exception (or chain) must not stop the record
        return None
    if len(text) > TRACEBACK_CHARS:
        cut = len(text) - TRACEBACK_CHARS
        text = f"...[{cut} chars of traceback cut]\n" + text[cut:]
    return text


def interrupt_kind(exc: BaseException) -> str | None:
    """What kind of stop ``exc`` is (see :data:`_INTERRUPTS`), or None for a failure."""
    for cls in type(exc).__mro__:
        kind = _INTERRUPTS.get(_class_name(cls))
        if kind is not None:
            return kind
    return None


def error_data(exc: BaseException) -> dict[str, Any]:
    """An error event's fields; a run stopped without failing (interrupted, cancelled, handed
    off, its stream closed) says so with ``interrupted`` and ``interrupt``, so that nothing
    counts it as a failure.

    A failure's ``error`` carries its ``traceback`` (:func:`traceback_text`), formatted here,
    so only errors pay for it; a stop has none: it is control flow, not a fault to debug.
    """
    error: dict[str, Any] = error_fields(exc)
    data: dict[str, Any] = {"error": error}
    kind = interrupt_kind(exc)
    if kind is not None:
        data["interrupted"] = True
        data["interrupt"] = kind
    else:
        text = traceback_text(exc)
        if text is not None:
            error["traceback"] = text
    return data


def usage_and_model(response: Any) -> tuple[dict[str, int] | None, str | None]:
    """Token usage (as LangChain's usage_metadata) and model name from an LLMResult."""
    totals: dict[str, int] | None = None
    model: str | None = None
    for batch in getattr(response, "generations", None) or ():
        for gen in batch:
            message = getattr(gen, "message", None)
            usage = getattr(message, "usage_metadata", None)
            if usage:
                totals = totals if totals is not None else dict.fromkeys(TOKEN_KEYS, 0)
                add_usage(totals, usage)
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
    ours = RUN_INLINE
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


def _read_run_inline(handler: BaseCallbackHandler) -> bool:
    """Whether LangChain may call this handler on the event loop's thread (no executor hop).

    True, except to the one dispatch where an inline handler hides the others
    (langchain-core's ``AsyncCallbackManager.on_llm_start``): there it is True only if
    another handler on that manager is inline anyway, so chainsink never changes which
    handlers get a callback, and still gets every one itself. Setting it pins the answer.
    """
    reader = _getframe(1)  # the hot path: read for every event under asyncio
    if id(reader.f_code) in _INLINE_READERS and not _pinned:
        return True
    return _inline_for(handler, reader)


def _pin_run_inline(handler: BaseCallbackHandler, value: bool) -> None:
    global _pinned  # noqa: PLW0603 - one flag, so unpinned reads never look
    handler.__dict__["run_inline"] = bool(value)
    _pinned = True


#: chainsink's handlers' ``run_inline``: a property answering by who reads it (see above).
RUN_INLINE = property(_read_run_inline, _pin_run_inline, doc=_read_run_inline.__doc__)
