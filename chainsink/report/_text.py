"""ANSI or plain text logs (``FileCallbackHandler`` ``ansi``/``text``, any ANSI log) as HTML.

Only colour is rendered: before ansi2html sees the text, every escape but an SGR colour code,
and every other control character, is turned into visible text (``\\x1b]8;;...``), in one
linear pass. So a log's OSC 8 hyperlink is never a live link, a cursor move or ``\\r`` never
erases another line, and ansi2html's slow handling of unterminated OSC sequences is never
reached.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from chainsink.formatters import VISIBLE_CONTROLS

_SGR = re.compile("\x1b\\[([\\d;:]*)m")
#: An SGR code (kept for ansi2html), a CRLF line end, or one control character (shown as text).
_CONTROL = re.compile("\x1b\\[[0-9;:]*m|\r\n|[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: What may be the start of an SGR code (or of a CRLF) cut at the end of a chunk.
_CUT = re.compile("(?:\x1b(?:\\[[0-9;:]{0,60})?|\r)\\Z")
#: Style codes carried from one chunk to the next at most (a log never stacks more).
_MAX_CARRY = 16


def ansi_css() -> str:
    """The ``<style>`` element the fragments of :func:`ansi_to_html` need (no external URL)."""
    from ansi2html import Ansi2HTMLConverter  # ~40 ms of imports: only when a page is made

    return str(Ansi2HTMLConverter(dark_bg=True).produce_headers())


def ansi_to_html(chunks: Iterable[str]) -> Iterator[str]:
    """Convert ANSI text to HTML fragments with ansi2html, one fragment per chunk.

    Every character of the text is escaped; colours and bold/italic become ansi2html's CSS
    classes; any other escape or control character shows as text (:func:`inert_text`), and a
    byte order mark at the start is dropped. Chunks should end at line ends; a style still open
    at the end of a chunk (LangChain colours whole multi-line blocks) is carried into the next
    one, so memory stays bounded by the chunk size whatever the log's length.
    """
    from ansi2html import Ansi2HTMLConverter

    converter = Ansi2HTMLConverter(dark_bg=True)
    carry = cut = ""
    first = True
    for chunk in chunks:
        text = cut + chunk
        if first and text:
            text = text.removeprefix("\ufeff")  # an encoding mark, not text
            first = False
        found = _CUT.search(text, max(0, len(text) - 64))  # a code cut in two: finish it first
        cut = found.group() if found else ""
        text = inert_text(text[:len(text) - len(cut)])
        yield str(converter.convert(carry + text, full=False))
        carry = _open_styles(carry + text)
    if cut:
        yield str(converter.convert(carry + inert_text(cut), full=False))


def inert_text(text: str) -> str:
    """``text`` with SGR colour codes kept and every other control character shown as text.

    An escape sequence other than ``ESC[...m`` keeps its characters, its ESC shown as
    ``\\x1b`` (a C1 control as ``\\x9b``, a lone ``\\r`` as ``\\r``; ``\\r\\n`` becomes a
    line end). Linear in the length of ``text``.
    """
    def one(match: re.Match[str]) -> str:
        found = match.group()
        if len(found) == 1:
            return VISIBLE_CONTROLS[found]
        return "\n" if found == "\r\n" else found

    return _CONTROL.sub(one, text)


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
