"""The pipeline a handler drives: processors -> formatter -> sink, and its token shortcut.

:class:`Pipeline` knows nothing of LangChain or runs: it is given events and writes what its
processors let through. For streamed tokens it offers a :class:`TokenPath`, a shortcut that
writes a run's tokens without building events when every part agrees (see
:meth:`Pipeline.token_path`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple

from chainsink._schema import Event
from chainsink.typing import (
    AcceptsKinds,
    Formatter,
    HoldsEvents,
    Processor,
    RendersBytes,
    RendersKinds,
    RendersTokenLines,
    Sink,
    StatesTokenRule,
    TokenRule,
    WritesBytes,
)


class TokenPath(NamedTuple):
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

    def fits(self, text: str) -> bool:
        """Whether a decided text passes the processors' rules as a token would."""
        if len(text) > self.max_chars:
            return False
        return not self.rejects or all(reject.search(text) is None for reject in self.rejects)


def _together(obj: object, method: str, shortcut: str) -> bool:
    """Whether ``obj``'s ``shortcut`` comes from the class that defines its ``method`` (so it
    does what that method does), not from a class the method was overridden below."""
    def owner(name: str) -> type | None:
        return next((cls for cls in type(obj).__mro__ if name in cls.__dict__), None)

    return owner(method) is owner(shortcut)


#: A run whose tokens take the full path.
NO_TOKEN_PATH = TokenPath(-1)


class Pipeline:
    """Processors, then a formatter, then a sink, for one handler.

    Args:
        sink: Where text goes.
        formatter: Renders each event that got through the processors.
        processors: Applied in order (see :class:`chainsink.typing.Processor`).
    """

    __slots__ = ("_bytes", "_releasers", "_rules", "_token_line", "_write_bytes", "accepts",
                 "formatter", "kinds", "processors", "sink")

    def __init__(self, sink: Sink, formatter: Formatter, processors: Sequence[Processor]) -> None:
        self.sink = sink
        self.formatter = formatter
        self.processors = processors
        kinds = formatter.kinds if isinstance(formatter, RendersKinds) else None
        #: The kinds the formatter renders (None: all).
        self.kinds: frozenset[str] | None = None if kinds is None else frozenset(kinds)
        #: The sink's say on which kinds it takes right now, if it has one.
        self.accepts: Callable[[str], bool] | None = (
            sink.accepts if isinstance(sink, AcceptsKinds) else None)
        # the optional hooks, looked up once (a Protocol isinstance check is not cheap); a
        # shortcut is taken only where the class that offers it also defines what it stands
        # for: a subclass overriding __call__ or write (to mask one more thing, say) is called
        self._token_line = (formatter.token_line if isinstance(formatter, RendersTokenLines)
                            and _together(formatter, "__call__", "token_line") else None)
        self._write_bytes = (sink.write_bytes if isinstance(sink, WritesBytes)
                             and _together(sink, "write", "write_bytes") else None)
        #: the formatter's bytes renderer, when the sink takes bytes (records go as rendered)
        self._bytes = (formatter.render_bytes if self._write_bytes is not None
                       and isinstance(formatter, RendersBytes)
                       and _together(formatter, "__call__", "render_bytes") else None)
        self._rules = [process.token_rule if isinstance(process, StatesTokenRule) else None
                       for process in processors]
        self._releasers = [(index, process.release_all)
                           for index, process in enumerate(processors, 1)
                           if isinstance(process, HoldsEvents)]

    def takes(self, kind: str) -> bool:
        """Whether the formatter and sink take events of ``kind`` now."""
        return (self.kinds is None or kind in self.kinds) and (
            self.accepts is None or self.accepts(kind))

    def send(self, event: Event) -> None:
        """Process, format and write one event."""
        out: Any = event  # an Event, until a processor drops it (None) or releases a tuple
        for index, process in enumerate(self.processors, 1):
            out = process(out)
            if out is None:
                return
            if type(out) is tuple:  # records it held back, released with this one
                self.send_from(out, index)
                return
        self._write(out)

    def _write(self, event: Event) -> None:
        """Format ``event`` and hand it to the sink (as bytes, when both sides can)."""
        render = self._bytes
        if render is not None:
            data = render(event)
            if data:
                self._write_bytes(data)  # type: ignore[misc]  # set whenever render is
            return
        text = self.formatter(event)
        if text:
            self.sink.write(text, event)

    def send_from(self, events: tuple[Event, ...], start: int) -> None:
        """Send ``events`` (a processor's tuple) through the processors from index ``start``
        on, and write those of kinds this pipeline takes."""
        processors = self.processors
        for event in events:
            out: Any = event
            for index in range(start, len(processors)):
                out = processors[index](out)
                if out is None:
                    break
                if type(out) is tuple:
                    self.send_from(out, index + 1)
                    out = None
                    break
            if out is not None and self.takes(out.event):
                self._write(out)

    def release_held(self) -> None:
        """Write what processors still hold of streams that never ended (a model run cut off
        by close): see :class:`chainsink.typing.HoldsEvents`."""
        for after, release_all in self._releasers:
            held = tuple(release_all())
            if held:
                self.send_from(held, after)

    def token_path(self, template: Event, known: TokenPath | None) -> TokenPath:
        """The shortcut for the streamed tokens of ``template``'s run (a token event of it,
        with empty data); ``known`` is the run's previous one, whose renderer is reused.

        It exists when the formatter renders tokens straight to bytes
        (:class:`~chainsink.typing.RendersTokenLines`), the sink takes bytes
        (:class:`~chainsink.typing.WritesBytes`) and every processor states a
        :class:`TokenRule` for the run; otherwise tokens take the full path, event by event.
        """
        line = known.line if known is not None else None
        line_for, write = self._token_line, self._write_bytes
        if line_for is None or write is None:
            return NO_TOKEN_PATH
        rules: list[TokenRule] = []
        for rule_for in self._rules:
            rule = rule_for(template) if rule_for is not None else None
            if rule is None:
                return TokenPath(-1, (), line, write)  # may be asked for again
            rules.append(rule)
        steps = [(index, rule.step) for index, rule in enumerate(rules, 1)
                 if rule.step is not None]
        if line is None:
            line = line_for(template)
        if len(steps) > 1:  # two processors deciding the records: no shortcut
            return TokenPath(-1, (), line, write)
        if line is None:
            return NO_TOKEN_PATH
        after, step = steps[0] if steps else (0, None)
        return TokenPath(min((rule.max_chars for rule in rules), default=sys.maxsize),
                         tuple(rule.reject for rule in rules if rule.reject is not None),
                         line, write, step, after)
