"""The contracts of chainsink's building blocks, as Protocols (like ``structlog.typing``).

A handler is a :class:`Formatter` plus a :class:`Sink` after :class:`Processor` s. Each may
offer optional hooks, each declared here as a Protocol of its own; a handler looks for them
once (when it is made, or once per run) and works without them. Write your own sink or
processor against these; nothing in the handler's internals needs reading.

    >>> from chainsink import CallbackHandler
    >>> def shout(event):                       # a Formatter
    ...     return f"{event.event.upper()} {event.name}\\n"
    >>> handler = CallbackHandler(print, shout, processors=())  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

from chainsink._schema import Event

__all__ = [
    "AcceptsKinds",
    "Formatter",
    "HoldsEvents",
    "KnowsClosed",
    "Processor",
    "RendersBytes",
    "RendersKinds",
    "RendersTokenLines",
    "Sink",
    "StatesTokenRule",
    "TokenRule",
    "WritesBytes",
    "WritesHeader",
]


class TokenRule(NamedTuple):
    """How a processor treats the streamed tokens of one run, so handlers can skip calling it.

    A token passes through the processor unchanged when it is a ``str`` of at most
    ``max_chars`` characters that ``reject`` (if set) does not match; any other token must
    go through the processor's ``__call__``. Processors offer a rule with a
    ``token_rule(event)`` method (``event`` being a token event of the run, with empty
    ``data``), or ``None`` when every token of that run needs them.

    A processor may hold tokens back (returning an empty tuple) and release them later with
    another event (a tuple of events): it then gives no rule while it holds any of the run's
    tokens, and ``reject`` matches every token that may start a hold. Handlers ask for the
    rule again after a token went through ``__call__``.
    """

    max_chars: int
    reject: re.Pattern[str] | None = None
    #: A processor that decides what each token's record carries (one holding back text)
    #: gives this: ``step(token)`` takes the token and returns the text of the record to
    #: write now (one record per token, each a token late: False for a run's first token,
    #: whose record comes with the next one), when that needs nothing more of the processor;
    #: else it returns None, having taken nothing, and the token goes through ``__call__``.
    step: Callable[[str], str | Literal[False] | None] | None = None


@runtime_checkable
class Formatter(Protocol):
    """Turns an event into text (``""`` to write nothing); never does I/O. A plain function
    ``(event) -> str`` is one."""

    def __call__(self, event: Event, /) -> str: ...


@runtime_checkable
class RendersKinds(Protocol):
    """Optional formatter hook: the event kinds it renders (None: every kind). A handler is
    not even called by LangChain for kinds none of its formatter's kinds need (its
    ``ignore_llm``, ``ignore_retriever``, ... switches), and drops other kinds before
    processing them."""

    kinds: Collection[str] | None


@runtime_checkable
class RendersBytes(Protocol):
    """Optional formatter hook: ``render_bytes(event)`` returns what ``__call__`` would, as
    UTF-8 bytes (``b""`` to write nothing). With a sink that :class:`WritesBytes`, handlers
    write those bytes as they are: a record with kilobytes of payload is not decoded to text
    only to be encoded again.
    """

    def render_bytes(self, event: Event, /) -> bytes: ...


@runtime_checkable
class RendersTokenLines(Protocol):
    """Optional formatter hook: a fast renderer for one run's streamed tokens.

    ``token_line(event)`` (``event`` a token event of the run, with empty ``data``) returns
    ``line(ts, token) -> bytes``, the UTF-8 text ``__call__`` would render for that run's
    ``llm_new_token`` event at ``ts`` carrying ``token`` (or None: no fast renderer). With a
    sink that :class:`WritesBytes` and processors that each state a :class:`TokenRule`, the
    handler writes tokens without building events.
    """

    def token_line(self, event: Event) -> Callable[[float, str], bytes] | None: ...


@runtime_checkable
class WritesHeader(Protocol):
    """Optional formatter hook: the text every file of its records starts with (an HTML
    page's head: doctype, charset, security policy, styles), so the file reads as one document
    made of the records appended after it.

    ``header(name)`` returns it, ``name`` naming the log (for a title). A file sink given it
    (``FileSink(path, header=...)``; ``FileCallbackHandler`` and
    ``RotatingFileCallbackHandler`` pass their formatter's) writes it just before the first
    record of each file it starts: a new or empty file, a file replaced under it, each file
    rotation starts; never when appending to a file that already has content. The formatter
    decides the text; the sink only decides when.
    """

    def header(self, name: str) -> str: ...


@runtime_checkable
class Sink(Protocol):
    """Where formatted text goes. Write your own by subclassing ``chainsink.sinks.Sink`` (the
    abstract base class that follows this Protocol), or by registering your class with
    ``chainsink.sinks.Sink.register``: :func:`chainsink.sinks.make_sink`, which turns what a
    handler is given into a sink, tells sinks from text streams by that class (a stream has
    ``write``, ``flush`` and ``close`` too, and is wrapped)."""

    def write(self, text: str, event: Any = None) -> None:
        """Accept one formatted record (and the event it came from); report failures on
        stderr instead of raising them into the run."""

    def flush(self) -> None:
        """Write out anything buffered."""

    def close(self) -> None:
        """Flush and release resources; safe to call twice."""


@runtime_checkable
class AcceptsKinds(Protocol):
    """Optional sink hook: whether it takes events of a kind right now (a logger at INFO
    takes no streamed tokens). Asked before an event is built or processed; for streamed
    tokens, at a run's first token (and again after another run started or ended)."""

    def accepts(self, kind: str) -> bool: ...


@runtime_checkable
class KnowsClosed(Protocol):
    """Optional sink hook: ``closed`` is True once the sink was closed; a handler then
    records nothing more (not even the aborted ends of its open runs at exit)."""

    closed: bool


@runtime_checkable
class WritesBytes(Protocol):
    """Optional sink hook: take one already-encoded UTF-8 record (see
    :class:`RendersTokenLines`)."""

    def write_bytes(self, data: bytes) -> None: ...


@runtime_checkable
class Processor(Protocol):
    """Takes an event and returns it, a changed copy (``event.replace(...)``), None to drop
    it, or a tuple of events: ones it held back before (such as streamed tokens that may
    start a secret) released with it, each then seen by the processors after it. Events are
    never changed in place."""

    def __call__(self, event: Event, /) -> Event | tuple[Event, ...] | None: ...


@runtime_checkable
class StatesTokenRule(Protocol):
    """Optional processor hook: ``token_rule(event)`` returns the :class:`TokenRule` the
    processor follows for the streamed tokens of ``event``'s run (None: every token must go
    through ``__call__``). Asked once per run, and again after a token took the full path."""

    def token_rule(self, event: Event) -> TokenRule | None: ...


@runtime_checkable
class HoldsEvents(Protocol):
    """Optional processor hook: ``release_all()`` returns the events it still holds back
    (streams that never ended); the handler writes them when it is closed."""

    def release_all(self) -> Iterable[Event]: ...
