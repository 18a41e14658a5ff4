"""ANSI or plain text logs (``FileCallbackHandler`` ``ansi``/``text``, any ANSI log) as HTML."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from ansi2html import Ansi2HTMLConverter

_SGR = re.compile("\x1b\\[([\\d;:]*)m")
#: Style codes carried from one chunk to the next at most (a log never stacks more).
_MAX_CARRY = 16


def ansi_css() -> str:
    """The ``<style>`` element the fragments of :func:`ansi_to_html` need (no external URL)."""
    return str(Ansi2HTMLConverter(dark_bg=True).produce_headers())


def ansi_to_html(chunks: Iterable[str]) -> Iterator[str]:
    """Convert ANSI text to HTML fragments with ansi2html, one fragment per chunk.

    Every character of the text is escaped; colours and bold/italic become ansi2html's CSS
    classes. Chunks should end at line ends; a style still open at the end of a chunk (LangChain
    colours whole multi-line blocks) is carried into the next one, so memory stays bounded by
    the chunk size whatever the log's length.
    """
    converter = Ansi2HTMLConverter(dark_bg=True)
    carry = ""
    for chunk in chunks:
        text = carry + chunk
        yield str(converter.convert(text, full=False))
        carry = _open_styles(text)


def _open_styles(text: str) -> str:
    """The style codes still in effect at the end of ``text`` (those after its last reset)."""
    active: list[str] = []
    for match in _SGR.finditer(text):
        params = match.group(1)
        if params in ("", "0") or params.startswith("0;"):
            active = [] if params in ("", "0") else [match.group(0)]
        else:
            active.append(match.group(0))
    return "".join(active[-_MAX_CARRY:])
