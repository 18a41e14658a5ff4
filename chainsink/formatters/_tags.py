"""Trace tags: a ``[tag]`` before each console line once the lines of several traces mix.

One implementation for every console that can show several traces at once: the detailed
stdout console (:class:`~chainsink.formatters.ConsoleFormatter` with ``trace_tags=True``) and
``chainsink tail``.
"""

from __future__ import annotations

import contextlib

from chainsink._schema import short_id
from chainsink.formatters._styles import Styles, inert

#: Colours of the trace tags (never red: red means an error).
TAG_COLORS = ("\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m", "\033[96m",
              "\033[93m", "\033[95m")
#: Ended traces remembered while tagging is off, so that a run outliving its root (a stream
#: closed after its chain ended) does not read as a new trace.
_MAX_ENDED = 1024


class TraceTags:
    """Starts console lines with a ``[tag]`` of their trace once several traces share them.

    The tag is the last 8 hex digits of the trace id, coloured by trace (when the styles are).
    Tagging is off until :attr:`on` is set: by the owner (``chainsink tail`` sets it when a
    second trace appears in a log) or by :meth:`note` (a live console sets it when traces
    interleave: one starts while another is still open). Once on, it stays on.

    Args:
        styles: The console's styles; with colour off the tags are plain.
    """

    def __init__(self, styles: Styles) -> None:
        self.styles = styles
        #: Whether lines are tagged.
        self.on = False
        self._open: set[str] = set()
        self._ended: dict[str, None] = {}
        self._line_start = True
        self._last: str | None = None
        self._last_tag = ("", "")

    def note(self, trace: str, root_end: bool) -> None:
        """Watch an event of ``trace`` (``root_end``: its root run's end or error) and turn
        tagging on if the trace starts while another one is open."""
        if self.on:
            return
        opened = self._open
        if trace not in opened and trace not in self._ended:
            if opened:  # interleaved: from now on every line says its trace
                self.on = True
                opened.clear()
                self._ended.clear()
                return
            if not root_end:
                opened.add(trace)
        if root_end:
            opened.discard(trace)
            ended = self._ended
            ended[trace] = None
            if len(ended) > _MAX_ENDED:
                with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                    del ended[next(iter(ended))]  # another thread may get there first

    def tag(self, trace: str) -> str:
        """The ``[tag] `` that starts a line of ``trace``."""
        last = self._last_tag
        if last[0] == trace:
            return last[1]
        tag = inert(short_id(trace))  # a trace id from a log is data, like the rest of it
        try:
            color = TAG_COLORS[int(tag, 16) % len(TAG_COLORS)]
        except ValueError:
            color = TAG_COLORS[sum(map(ord, tag)) % len(TAG_COLORS)]
        text = self.styles.wrap(color if self.styles.enabled else "", f"[{tag}]") + " "
        self._last_tag = (trace, text)
        return text

    def apply(self, text: str, trace: str) -> str:
        """``text`` (console output of ``trace``) with a tag at each line's start when tagging
        is on. Text may stop mid-line (the classic style does): a line another trace left open
        is ended first."""
        if not self.on:
            if text:
                self._line_start = text.endswith("\n")
            return text
        if not text:
            return text
        out = []
        if not self._line_start and trace != self._last:
            out.append("\n")  # classic text may stop mid-line; another trace starts anew
            self._line_start = True
        self._last = trace
        tag = self.tag(trace)
        for i, part in enumerate(text.split("\n")):
            if i:
                out.append("\n")
                self._line_start = True
            if part:
                if self._line_start:
                    out.append(tag)
                out.append(part)
                self._line_start = False
        return "".join(out)

    def end(self) -> str:
        """What ends the output: a line end if its last line is still open, else ``""``."""
        if self._line_start:
            return ""
        self._line_start = True
        return "\n"
