"""``chainsink.FileCallbackHandler``: a drop-in for langchain-core's, plus ANSI and JSONL."""

from __future__ import annotations

import os
from collections.abc import Iterable

from chainsink._handler import CallbackHandler, Processor
from chainsink.formatters import ConsoleFormatter, Formatter, JsonlFormatter
from chainsink.sinks import FileSink

FORMATS = ("text", "ansi", "jsonl")


def file_formatter(format: str, color: str | None = None,  # noqa: A002 - the public name
                   style: str = "classic") -> Formatter:
    """The formatter for a file ``format`` (``text``, ``ansi`` or ``jsonl``).

    Raises:
        ValueError: For an unknown format or style.
    """
    if format == "jsonl":
        return JsonlFormatter()
    if format in ("text", "ansi"):
        return ConsoleFormatter(style, color=color, ansi=format == "ansi", like="file")
    raise ValueError(f"format must be one of {FORMATS}, not {format!r}")


class FileCallbackHandler(CallbackHandler):
    """Write a run to a file; a drop-in for langchain-core's ``FileCallbackHandler``.

    Same positional arguments as langchain-core's. Works with or without ``with`` and never
    warns: the file is opened on the first record, flushed when each trace ends (in
    synchronous code) and a few times a second otherwise, and closed by :meth:`close`, on
    ``with`` exit, or at interpreter exit.

    Args:
        filename: The log file.
        mode: ``"a"`` (append, the default), ``"w"`` (truncate) or ``"x"`` (must not exist).
        color: LangChain's default text colour for agent text, as in langchain-core.
        format: ``"text"``: langchain-core's file output with no ANSI codes at all (LangChain's
            own leaks colour codes from ``LLMChain`` and agents); ``"ansi"``: langchain-core's
            output exactly; ``"jsonl"``: one JSON record per event (see the README's schema).
        style: For ``text``/``ansi``: ``"classic"`` (LangChain's lines) or ``"detailed"``
            (every event, as the detailed console shows it).
        processors: Event processors; default: secrets masked, sizes capped
            (:func:`chainsink.processors.default_processors`); ``()`` for none.
        raise_error: Let failures inside the handler propagate into the run.

    Example:
        >>> with FileCallbackHandler("run.jsonl", format="jsonl") as handler:  # doctest: +SKIP
        ...     chain.invoke(inputs, config={"callbacks": [handler]})
    """

    def __init__(self, filename: str | os.PathLike[str], mode: str = "a",
                 color: str | None = None, *, format: str = "text",  # noqa: A002
                 style: str = "classic", processors: Iterable[Processor] | None = None,
                 raise_error: bool = False) -> None:
        formatter = file_formatter(format, color, style)
        CallbackHandler.__init__(self, FileSink(filename, mode), formatter,
                                 processors=processors, raise_error=raise_error)
        self.filename = os.fspath(filename)
        self.mode = mode
        self.color = color
        self.format = format

    def __enter__(self) -> FileCallbackHandler:
        return self
