"""Recording runs with no callbacks passed: ``capture()``, ``usage()`` and ``CHAINSINK_LOG``.

langchain-core asks every registered configure hook (a ContextVar) for a handler whenever it
builds a run's callback manager; that is how LangSmith's ``tracing_v2_enabled`` works. chainsink
registers a few such slots once. ``capture()`` puts its handler in the first free slot of the
current context, so it sees every run started in this task or thread and in the tasks and
executor threads they spawn (they copy the context), and nothing else. Nested blocks take the
next slot, so captures nest and an inner run is recorded by every enclosing capture.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tracers.context import register_configure_hook

from chainsink.handlers._adapter import CallbackHandler
from chainsink.handlers._langchain import usage_and_model

#: How deeply ``capture()``/``usage()`` blocks may nest.
MAX_NESTING = 8

_SLOTS: tuple[ContextVar[BaseCallbackHandler | None], ...] = tuple(
    ContextVar(f"chainsink_capture_{i}", default=None) for i in range(MAX_NESTING))
for _slot in _SLOTS:
    register_configure_hook(_slot, inheritable=True)


@contextlib.contextmanager
def _attached(handler: BaseCallbackHandler) -> Iterator[None]:
    for slot in _SLOTS:
        if slot.get() is None:
            token = slot.set(handler)
            break
    else:
        raise RuntimeError(f"chainsink captures nest at most {MAX_NESTING} deep")
    try:
        yield
    finally:
        slot.reset(token)


@contextlib.contextmanager
def capture(target: Any) -> Iterator[CallbackHandler]:
    """Record every LangChain run started inside the block, with no callbacks passed anywhere.

    Runs started in this task or thread, and in the asyncio tasks and LangChain executor
    threads started from it, are recorded; a concurrent task outside the block is not. A
    plain ``threading.Thread`` does not inherit context on Python < 3.14: start it with
    ``contextvars.copy_context().run`` to capture its runs too. Captures nest.

    Args:
        target: A path (recorded as JSONL, appended) or any chainsink handler
            (:class:`~chainsink.CallbackHandler` and its subclasses).

    Yields:
        The handler recording the block. A handler made here from a path is flushed when the
        block exits, and keeps recording the runs that tasks and threads started in the block
        go on with after it, each trace on disk as it ends; its file is closed once nothing
        can start a run on it any more, or at exit (where a run still open gets an aborted
        end). A handler passed in stays open.

    Example:
        >>> with chainsink.capture("runs.jsonl"):  # doctest: +SKIP
        ...     chain.invoke({"question": "..."})
    """
    if isinstance(target, CallbackHandler):
        handler, owned = target, False
    elif isinstance(target, (str, os.PathLike)):
        from chainsink.handlers._file_handlers import FileCallbackHandler

        handler, owned = FileCallbackHandler(target, format="jsonl"), True
    else:
        raise TypeError(f"capture() takes a path or a chainsink handler, not "
                        f"{type(target).__name__}")
    try:
        with _attached(handler):
            yield handler
    finally:
        if owned:
            # not close(): a task or thread started in the block may still be running (or not
            # even started) and record to it; the sink closes when the handler is collected
            handler._flush_when_idle = True  # noqa: SLF001
            handler.flush()


class UsageTotals(BaseCallbackHandler):
    """Running token totals for the runs inside a :func:`usage` block.

    Attributes:
        input_tokens: Prompt tokens reported so far.
        output_tokens: Completion tokens reported so far.
        total_tokens: All tokens reported so far.
        calls: Model calls that ended (with or without reported usage).
        by_model: The same four counts per model name.
    """

    # inline like chainsink's handlers, and like them never at another handler's expense
    run_inline = CallbackHandler.run_inline

    def __copy__(self) -> UsageTotals:
        # one set of totals per block: a copied config (LangChain deep-copies some) counts
        # into the same totals, as chainsink's handlers share their sink
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> UsageTotals:
        return self

    def __init__(self) -> None:
        self.input_tokens = 0
        self.output_tokens = 0
        self.total_tokens = 0
        self.calls = 0
        self.by_model: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Add one model call's reported usage."""
        usage, model = usage_and_model(response)
        with self._lock:
            self.calls += 1
            entry = self.by_model.setdefault(model or "<unknown>", {
                "input_tokens": 0, "output_tokens": 0, "total_tokens": 0, "calls": 0})
            entry["calls"] += 1
            if usage:
                for key in ("input_tokens", "output_tokens", "total_tokens"):
                    setattr(self, key, getattr(self, key) + usage[key])
                    entry[key] += usage[key]

    def as_dict(self) -> dict[str, Any]:
        """The totals as a plain dict."""
        with self._lock:
            return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                    "total_tokens": self.total_tokens, "calls": self.calls,
                    "by_model": {k: dict(v) for k, v in self.by_model.items()}}

    def __repr__(self) -> str:
        return (f"UsageTotals(total_tokens={self.total_tokens}, input_tokens="
                f"{self.input_tokens}, output_tokens={self.output_tokens}, calls={self.calls})")


@contextlib.contextmanager
def usage() -> Iterator[UsageTotals]:
    """Count the tokens of every model call inside the block, like ``get_openai_callback()``.

    Correct under ``asyncio.gather`` and LangChain's threads; calls outside the block (even
    concurrent ones) are not counted. Works with any provider that reports
    ``usage_metadata`` (or ``llm_output["token_usage"]``).

    Example:
        >>> with chainsink.usage() as u:  # doctest: +SKIP
        ...     chain.invoke(...)
        >>> u.total_tokens, u.by_model  # doctest: +SKIP
    """
    totals = UsageTotals()
    with _attached(totals):
        yield totals


_process_handler: CallbackHandler | None = None


def capture_process(path: str | os.PathLike[str]) -> CallbackHandler:
    """Record every LangChain run of this process to ``path`` (what ``CHAINSINK_LOG`` does).

    Idempotent: a second call returns the handler of the first.
    """
    global _process_handler  # noqa: PLW0603 - one per process
    if _process_handler is None:
        from chainsink.handlers._file_handlers import FileCallbackHandler

        handler = FileCallbackHandler(path, format="jsonl")
        var: ContextVar[BaseCallbackHandler | None] = ContextVar(
            "chainsink_process", default=handler)
        register_configure_hook(var, inheritable=True)
        _process_handler = handler
    return _process_handler
