"""``chainsink.FileCallbackHandler``: a drop-in for langchain-core's, plus ANSI, JSONL and HTML."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from chainsink.formatters import ConsoleFormatter, Formatter, HtmlFormatter, JsonlFormatter
from chainsink.handlers._adapter import CallbackHandler
from chainsink.sinks import FileSink, RotatingFileSink, file_header
from chainsink.typing import Processor

FORMATS = ("text", "ansi", "jsonl", "html")


def file_style(format: str, style: str | None) -> str:  # noqa: A002 - the public name
    """``style``, or the default for ``format``: ``"classic"`` (langchain-core's own file
    output, which ``text`` and ``ansi`` are a drop-in for), ``"detailed"`` for ``html`` (a page
    has no LangChain counterpart to match; it is there to read the whole run)."""
    if style is not None:
        return style
    return "detailed" if format == "html" else "classic"


def file_formatter(format: str, color: str | None = None,  # noqa: A002 - the public name
                   style: str | None = None) -> Formatter:
    """The formatter for a file ``format`` (``text``, ``ansi``, ``jsonl`` or ``html``).

    Raises:
        ValueError: For an unknown format or style.
    """
    if format == "jsonl":
        return JsonlFormatter()
    if format in ("text", "ansi"):
        return ConsoleFormatter(file_style(format, style), color=color, ansi=format == "ansi",
                                like="file")
    if format == "html":
        return HtmlFormatter(file_style(format, style), color=color)
    raise ValueError(f"format must be one of {FORMATS}, not {format!r}")


class FileCallbackHandler(CallbackHandler):
    """Write a run to a file; a drop-in for langchain-core's ``FileCallbackHandler``.

    Same positional arguments as langchain-core's. Works with or without ``with`` and never
    warns: the path is made absolute when the handler is made (a later ``os.chdir`` does not
    move the log); ``"w"`` truncates and ``"x"`` checks the file right then, once, in the
    process that made the handler (never again in forked workers); otherwise the file is
    opened on the first record. Records are flushed when each trace ends (in synchronous code)
    and a few times a second otherwise, and the file is closed by :meth:`close`, on ``with``
    exit, or at interpreter exit.

    ``copy.copy`` and ``copy.deepcopy`` (of the handler, or of a config or model holding it)
    give back the handler itself, as langchain-core's tracers do, so a copy writes whole records
    to the same file through the same sink (langchain-core's own handler cannot be deep-copied
    at all). ``pickle`` rebuilds the handler from its arguments on the same path, appending
    (never truncating again, whatever ``mode`` was), beside the original if both live on.

    Args:
        filename: The log file.
        mode: ``"a"`` (append, the default), ``"w"`` (truncate) or ``"x"`` (must not exist).
        color: LangChain's default text colour for agent text, as in langchain-core.
        format: ``"text"``: langchain-core's file output with no ANSI codes at all (LangChain's
            own leaks colour codes from ``LLMChain`` and agents); ``"ansi"``: langchain-core's
            output exactly; ``"jsonl"``: one JSON record per event (see the README's schema);
            ``"html"``: a page showing what the console shows, coloured, every string escaped,
            scripts and network refused, valid while it grows (open it mid-run, reload to see
            more; see :class:`~chainsink.formatters.HtmlFormatter`). Its head is written when
            the file is new or empty, never when appending to one with content.
        style: For ``text``/``ansi``/``html``: ``"classic"`` (LangChain's lines) or
            ``"detailed"`` (every event, as the detailed console shows it). Default:
            ``"classic"``, and ``"detailed"`` for ``html``.
        processors: Event processors; default: secrets masked, sizes capped
            (:func:`chainsink.processors.default_processors`); ``()`` for none.
        raise_error: Let failures inside the handler propagate into the run.

    Example:
        >>> with FileCallbackHandler("run.jsonl", format="jsonl") as handler:  # doctest: +SKIP
        ...     chain.invoke(inputs, config={"callbacks": [handler]})
    """

    def __init__(self, filename: str | os.PathLike[str], mode: str = "a",
                 color: str | None = None, *, format: str = "text",  # noqa: A002
                 style: str | None = None, processors: Iterable[Processor] | None = None,
                 raise_error: bool = False) -> None:
        formatter = file_formatter(format, color, style)
        given = None if processors is None else tuple(processors)
        sink = FileSink(filename, mode, header=file_header(formatter, filename))
        CallbackHandler.__init__(self, sink, formatter, processors=given,
                                 raise_error=raise_error)
        self.filename = os.fspath(filename)
        self.mode = mode
        self.color = color
        self.format = format
        self.style = file_style(format, style)
        self._given_processors = given  # what pickling rebuilds with (None: the defaults)

    def __reduce__(self) -> tuple[Any, ...]:
        # the arguments, not the state: an open descriptor and its lock cannot travel, and the
        # records still queued here are this handler's to write
        # the absolute path the handler writes, so unpickling elsewhere writes the same file
        return _rebuild, (type(self), getattr(self.sink, "path", self.filename), {
            "color": self.color, "format": self.format, "style": self.style,
            "processors": self._given_processors, "raise_error": self.raise_error})

    def __enter__(self) -> FileCallbackHandler:
        return self


def _rebuild(cls: type[FileCallbackHandler], filename: str,
             kwargs: dict[str, Any]) -> FileCallbackHandler:
    """Unpickle a handler of ``cls`` on ``filename``, appending."""
    handler = cls.__new__(cls)
    FileCallbackHandler.__init__(handler, filename, "a", **kwargs)
    return handler


class RotatingFileCallbackHandler(CallbackHandler):
    """Write a run to a size-rotated file, like CPython's ``RotatingFileHandler``.

    ``filename`` rotates to ``filename.1`` ... ``filename.{backup_count}`` before a record
    would take it past ``max_bytes``; a record is never split between files, and several
    processes may write (and rotate) the same file safely (an ``flock`` on
    ``filename.lock``).

    Args:
        filename: The log file.
        max_bytes: Rotate before the file would exceed this many bytes.
        backup_count: How many rotated files to keep (at least 1).
        format: ``"jsonl"`` (default), ``"text"``, ``"ansi"`` or ``"html"``, as for
            FileCallbackHandler; with ``html`` every file (the current one and each rotated
            one) is a page of its own, starting with the page's head (a browser opens a
            backup such as ``run.html.1`` as a page once its name ends in ``.html``).
        style: For ``text``/``ansi``/``html``, as for FileCallbackHandler.
        compress: Gzip rotated files.
        processors: Event processors; default: secrets masked, sizes capped
            (:func:`chainsink.processors.default_processors`); ``()`` for none.
        raise_error: Let failures inside the handler propagate into the run.

    Raises:
        ValueError: For a bad size, count or format (checked here, not at the first write).
    """

    def __init__(self, filename: str | os.PathLike[str], *, max_bytes: int,
                 backup_count: int, format: str = "jsonl",  # noqa: A002 - the public name
                 style: str | None = None, compress: bool = False,
                 processors: Iterable[Processor] | None = None,
                 raise_error: bool = False) -> None:
        formatter = file_formatter(format, style=style)
        sink = RotatingFileSink(filename, max_bytes=max_bytes, backup_count=backup_count,
                                compress=compress, header=file_header(formatter, filename))
        super().__init__(sink, formatter, processors=processors, raise_error=raise_error)
        self.filename = os.fspath(filename)
        self.format = format
        self.style = file_style(format, style)
