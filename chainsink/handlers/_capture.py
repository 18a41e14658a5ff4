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
from decimal import Decimal
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tracers.context import register_configure_hook

from chainsink._schema import TOKEN_KEYS
from chainsink.handlers._adapter import CallbackHandler
from chainsink.handlers._langchain import model_of, usage_and_model

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
    """Running token totals and cost for the runs inside a :func:`usage` block.

    The names of langchain's ``get_openai_callback()`` work for every provider, and
    ``print(u)`` prints its summary. Each call is priced when it ends, from its model and
    reported usage (:mod:`chainsink.cost`): the user's prices first, then genai-prices'
    table (the ``chainsink[cost]`` extra).

    Attributes:
        input_tokens: Prompt tokens reported so far (``prompt_tokens``).
        output_tokens: Completion tokens reported so far (``completion_tokens``).
        total_tokens: All tokens reported so far.
        prompt_tokens_cached: Prompt tokens read from the provider's cache
            (``input_token_details.cache_read``).
        reasoning_tokens: Completion tokens spent reasoning
            (``output_token_details.reasoning``).
        calls: Model calls that ended, with or without reported usage
            (``successful_requests``).
        by_model: The token counts and calls per model name.
        cost_by_model: Cost in USD per model name; None for a model with no known price.
    """

    # inline like chainsink's handlers, and like them never at another handler's expense
    run_inline = CallbackHandler.run_inline

    def __copy__(self) -> UsageTotals:
        # one set of totals per block: a copied config (LangChain deep-copies some) counts
        # into the same totals, as chainsink's handlers share their sink
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> UsageTotals:
        return self

    def __init__(self, prices: Any = None) -> None:
        from chainsink.cost import Pricer, load_prices

        self.input_tokens = 0
        self.output_tokens = 0
        self.total_tokens = 0
        self.prompt_tokens_cached = 0
        self.reasoning_tokens = 0
        self.calls = 0
        self.by_model: dict[str, dict[str, int]] = {}
        self._costs: dict[str, Decimal | None] = {}
        # the user's prices first, then the table (loaded when the first call ends)
        self._pricer = Pricer(load_prices(prices))
        # what a model run's start said (provider, model), until it ends
        self._started: dict[UUID, tuple[str | None, str | None]] = {}
        self._lock = threading.Lock()

    # get_openai_callback()'s names
    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens reported so far (``input_tokens``)."""
        return self.input_tokens

    @property
    def completion_tokens(self) -> int:
        """Completion tokens reported so far (``output_tokens``)."""
        return self.output_tokens

    @property
    def successful_requests(self) -> int:
        """Model calls that ended (``calls``)."""
        return self.calls

    @property
    def total_cost(self) -> float | None:
        """What the calls cost in USD; None when any model's price is unknown (see
        :attr:`unpriced_models`), never a 0 that only means "not known"."""
        with self._lock:
            costs = list(self._costs.values())
        total = Decimal(0)
        for cost in costs:
            if cost is None:
                return None
            total += cost
        return float(total)

    @property
    def priced_cost(self) -> float:
        """What the calls of the models with a known price cost in USD (a lower bound of the
        total when :attr:`unpriced_models` is not empty)."""
        with self._lock:
            return float(sum((c for c in self._costs.values() if c is not None), Decimal(0)))

    @property
    def unpriced_models(self) -> list[str]:
        """The models called in the block whose price is not known, sorted."""
        with self._lock:
            return sorted(m for m, c in self._costs.items() if c is None)

    @property
    def cost_by_model(self) -> dict[str, float | None]:
        """Cost in USD per model name; None for a model whose price is not known."""
        with self._lock:
            return {m: None if c is None else float(c) for m, c in self._costs.items()}

    def _note_start(self, run_id: UUID, kwargs: dict[str, Any]) -> None:
        metadata = kwargs.get("metadata")
        provider = metadata.get("ls_provider") if isinstance(metadata, dict) else None
        model = model_of(kwargs, metadata if isinstance(metadata, dict) else None)
        with self._lock:
            self._started[run_id] = (provider if isinstance(provider, str) else None, model)

    def on_llm_start(self, serialized: Any, prompts: Any, *, run_id: UUID,
                     **kwargs: Any) -> None:
        """Note the provider and model a completion model's run names."""
        self._note_start(run_id, kwargs)

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: UUID,
                            **kwargs: Any) -> None:
        """Note the provider and model a chat model's run names."""
        self._note_start(run_id, kwargs)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Forget a failed call's start (it is not counted)."""
        with self._lock:
            self._started.pop(run_id, None)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Add one model call's reported usage and cost."""
        usage, model = usage_and_model(response)
        with self._lock:
            provider, started_model = self._started.pop(run_id, (None, None))
        model = model or started_model
        key = model or "<unknown>"
        cost = self._pricer(model, usage, provider)  # never raises into the run
        with self._lock:
            self.calls += 1
            entry = self.by_model.setdefault(key, {
                "input_tokens": 0, "output_tokens": 0, "total_tokens": 0, "calls": 0})
            entry["calls"] += 1
            if usage:
                for name in TOKEN_KEYS:
                    setattr(self, name, getattr(self, name) + usage[name])
                    entry[name] += usage[name]
                self.prompt_tokens_cached += _detail(usage, "input_token_details", "cache_read")
                self.reasoning_tokens += _detail(usage, "output_token_details", "reasoning")
            if key not in self._costs:
                self._costs[key] = cost
            else:
                before = self._costs[key]
                self._costs[key] = None if before is None or cost is None else before + cost

    def as_dict(self) -> dict[str, Any]:
        """The totals as a plain dict."""
        total_cost, cost_by_model = self.total_cost, self.cost_by_model
        with self._lock:
            return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                    "total_tokens": self.total_tokens,
                    "prompt_tokens_cached": self.prompt_tokens_cached,
                    "reasoning_tokens": self.reasoning_tokens, "calls": self.calls,
                    "total_cost": total_cost,
                    "unpriced_models": sorted(m for m, c in cost_by_model.items() if c is None),
                    "by_model": {k: {**v, "cost": cost_by_model.get(k)}
                                 for k, v in self.by_model.items()}}

    def __str__(self) -> str:
        """The summary ``get_openai_callback()`` prints; the cost line never claims $0 for a
        model whose price is not known."""
        total = self.total_cost
        if total is not None:
            cost = f"${total}"
        else:
            unpriced = self.unpriced_models
            why = f"no price for {', '.join(unpriced)}"
            if self._pricer.missing_table:
                why += f"; {_install_hint()}"
            priced = self.priced_cost
            cost = f"unknown ({why})" if not priced else f"unknown (${priced} priced; {why})"
        return (f"Tokens Used: {self.total_tokens}\n"
                f"\tPrompt Tokens: {self.prompt_tokens}\n"
                f"\t\tPrompt Tokens Cached: {self.prompt_tokens_cached}\n"
                f"\tCompletion Tokens: {self.completion_tokens}\n"
                f"\t\tReasoning Tokens: {self.reasoning_tokens}\n"
                f"Successful Requests: {self.successful_requests}\n"
                f"Total Cost (USD): {cost}")

    def __repr__(self) -> str:
        return (f"UsageTotals(total_tokens={self.total_tokens}, input_tokens="
                f"{self.input_tokens}, output_tokens={self.output_tokens}, calls={self.calls}, "
                f"total_cost={self.total_cost!r})")


def _detail(usage: dict[str, Any], group: str, name: str) -> int:
    details = usage.get(group)
    value = details.get(name) if isinstance(details, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _install_hint() -> str:
    from chainsink.cost import INSTALL_HINT

    return INSTALL_HINT


@contextlib.contextmanager
def usage(prices: Any = None) -> Iterator[UsageTotals]:
    """Count the tokens and cost of every model call inside the block, like
    ``get_openai_callback()`` but for any provider.

    Correct under ``asyncio.gather`` and LangChain's threads; calls outside the block (even
    concurrent ones) are not counted. Works with any provider that reports
    ``usage_metadata`` (or ``llm_output["token_usage"]``). Cost comes from genai-prices
    (``pip install "chainsink[cost]"``), imported when the first call ends; a model with no
    known price makes ``total_cost`` None and is listed in ``unpriced_models``.

    Args:
        prices: The user's own prices, which take precedence over the price table: a path
            to a TOML or JSON file, a mapping or a :class:`chainsink.cost.Prices` (see
            :mod:`chainsink.cost`); by default the file ``CHAINSINK_PRICES`` names, if any.

    Raises:
        ValueError: ``prices`` is malformed or its file cannot be read.

    Example:
        >>> with chainsink.usage() as u:  # doctest: +SKIP
        ...     chain.invoke(...)
        >>> print(u)  # doctest: +SKIP
        Tokens Used: 1500
        ...
        >>> u.total_cost, u.unpriced_models  # doctest: +SKIP
    """
    totals = UsageTotals(prices)
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
