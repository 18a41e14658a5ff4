"""``chainsink.StdOutCallbackHandler``: LangChain's console output, or every event in detail."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

from langchain_core.callbacks import StdOutCallbackHandler as _LangChainStdOut

from chainsink.formatters import ConsoleFormatter, color_enabled
from chainsink.handlers._adapter import CallbackHandler
from chainsink.sinks import StreamSink
from chainsink.typing import Processor


# CallbackHandler's callbacks deliberately replace langchain-core's (keyword-only run ids)
class StdOutCallbackHandler(CallbackHandler, _LangChainStdOut):  # type: ignore[misc]
    """Print a run to ``sys.stdout``; a drop-in for langchain-core's ``StdOutCallbackHandler``.

    It subclasses langchain-core's handler, so LangChain's ``verbose`` sees it and does not add
    a second one. ``copy.copy`` and ``copy.deepcopy`` (of the handler, or of a config or model
    holding it) give back the handler itself, as langchain-core's tracers do; ``pickle`` rebuilds
    it from its arguments, printing to the ``sys.stdout`` of wherever it is unpickled.

    Args:
        color: LangChain's default text colour (``"green"``, ``"blue"``, ...) for agent and
            tool text, as in langchain-core.
        style: ``"classic"`` prints byte for byte what langchain-core's handler prints
            (including its ANSI codes; only ``NO_COLOR`` turns them off), except that control
            characters in the run's content show as text (``\\x1b``) instead of reaching the
            terminal, as in every style. ``"detailed"`` adds
            LLM, chat model, tool, retriever, error and custom events, nested by run depth, with
            durations, token usage and the end of each failure's traceback; once traces
            interleave, each line starts with a ``[tag]`` of its trace, as in
            ``chainsink tail``. Its colour follows ``NO_COLOR``, ``FORCE_COLOR`` and
            whether stdout is a terminal.
        processors: Event processors; default: secrets masked, sizes capped
            (:func:`chainsink.processors.default_processors`); ``()`` for none.
        raise_error: Let failures inside the handler propagate into the run.

    Example:
        >>> from chainsink import StdOutCallbackHandler
        >>> chain.invoke(inputs, config={"callbacks": [StdOutCallbackHandler()]})  # doctest: +SKIP
    """

    def __init__(self, color: str | None = None, *, style: str = "classic",
                 processors: Iterable[Processor] | None = None,
                 raise_error: bool = False) -> None:
        # classic keeps langchain-core's codes (byte-identical output) unless NO_COLOR asks
        ansi = not os.environ.get("NO_COLOR") if style == "classic" else color_enabled(sys.stdout)
        # several traces printing at once (a batch, concurrent requests) get a [tag] per line
        # in the detailed style; the classic style stays langchain-core's, byte for byte
        formatter = ConsoleFormatter(style, color=color, ansi=ansi, like="stdout",
                                     trace_tags=style == "detailed")
        given = None if processors is None else tuple(processors)
        CallbackHandler.__init__(self, StreamSink(), formatter, processors=given,
                                 raise_error=raise_error)
        self.color = color
        self.style = style
        self._given_processors = given  # what pickling rebuilds with (None: the defaults)

    def __reduce__(self) -> tuple[Any, ...]:
        # the arguments, not the state: the stream and its lock cannot travel, nor should the
        # runs open in this process
        return _rebuild, (type(self), {"color": self.color, "style": self.style,
                                       "processors": self._given_processors,
                                       "raise_error": self.raise_error})


def _rebuild(cls: type[StdOutCallbackHandler], kwargs: dict[str, Any]) -> StdOutCallbackHandler:
    """Unpickle a handler of ``cls`` (a subclass may take fewer arguments, as the verbose one
    does, so it is built through this class's ``__init__``)."""
    handler = cls.__new__(cls)
    StdOutCallbackHandler.__init__(handler, **kwargs)
    return handler
