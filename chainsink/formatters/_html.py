"""HTML: the console's view of each event as one self-contained fragment of a growing page."""

from __future__ import annotations

import base64
import hashlib
from html import escape as _escape

from chainsink._schema import Event
from chainsink.formatters._console import ConsoleFormatter

#: The styles an HTML log can show: the console's, except ``"line"`` (a line per streamed
#: token, which would bury the page in fragments).
HTML_STYLES = ("classic", "detailed")

#: LangChain's palette (``chainsink.formatters._styles.LANGCHAIN_COLORS``) by SGR colour code:
#: the only colours coloured console output keeps (see :func:`~chainsink.formatters.inert`).
_FG = {"31": "fg-red", "32": "fg-green", "33": "fg-yellow", "36": "fg-blue"}
_FG256 = {"200": "fg-pink"}

_CSS = """\
:root{color-scheme:dark light}
body{margin:0;padding:12px 16px;background:#15171c;color:#d6d9de;\
font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;\
white-space:pre-wrap;overflow-wrap:anywhere;tab-size:4}
.b{font-weight:bold}.i{font-style:italic}.dim{opacity:.62}
.fg-red{color:#ff6b6b}.fg-green{color:#5fd787}.fg-yellow{color:#f0c04f}\
.fg-blue{color:#4fd1e8}.fg-pink{color:#ff5fd2}
@media (prefers-color-scheme:light){body{background:#fbfbfa;color:#24292f}\
.fg-red{color:#c62828}.fg-green{color:#1b7f3b}.fg-yellow{color:#8a6100}\
.fg-blue{color:#00798f}.fg-pink{color:#b0008a}}
"""
# The page allows no script, no network and no plugin; only this exact stylesheet (pinned by
# its hash, so not even an inline style could apply should markup ever slip through).
_CSP = ("default-src 'none'; style-src 'sha256-"
        + base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
        + "'; base-uri 'none'; form-action 'none'")
_HEAD_START = ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
               f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
               '<meta name="referrer" content="no-referrer">\n'
               '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
               '<title>')
# nothing after <body>: the body keeps white space as the console does, so a line end there
# would show as an empty line
_HEAD_END = f"</title>\n<style>{_CSS}</style>\n</head>\n<body>"


def escape(text: str) -> str:
    """``html.escape`` for text content: ``&``, ``<`` and ``>``. Log text only ever stands
    between tags, never in an attribute, so quotes need no escaping (and a JSON value stays
    legible in the file)."""
    return _escape(text, quote=False)


#: A state of the SGR attributes: (colour class or "", bold, dim, italic).
_State = tuple[str, bool, bool, bool]
_PLAIN: _State = ("", False, False, False)

#: (state, SGR parameters) -> next state, and state -> the tag opening its span ("" for none);
#: both small, since console output only holds the handful of codes in its palette.
_NEXT: dict[tuple[_State, str], _State] = {}
_TAGS: dict[_State, str] = {_PLAIN: ""}
_MAX_CACHED = 4096


def _apply(state: _State, params: str) -> _State:
    """The attributes after SGR ``ESC[{params}m`` in ``state``."""
    fg, bold, dim, italic = state
    parts = params.split(";")
    i = 0
    while i < len(parts):
        code = parts[i]
        if code in ("", "0"):
            fg, bold, dim, italic = _PLAIN
        elif code == "1":
            bold = True
        elif code == "2":
            dim = True
        elif code == "3":
            italic = True
        elif code == "22":
            bold = dim = False
        elif code == "23":
            italic = False
        elif code == "39":
            fg = ""
        elif code in ("38", "48") and i + 2 < len(parts) and parts[i + 1] == "5":
            if code == "38":
                fg = _FG256.get(parts[i + 2], fg)
            i += 2
        else:
            fg = _FG.get(code, fg)  # a colour outside the palette shows as the text around it
        i += 1
    return fg, bold, dim, italic


def _next(state: _State, params: str) -> _State | None:
    """:func:`_apply`, remembered; None if ``params`` are not an SGR code's."""
    if params and not params.replace(";", "").isdigit():
        return None
    after = _apply(state, params)
    if after not in _TAGS:  # a few dozen states at most: kept for good
        fg, bold, dim, italic = after
        names = " ".join(name for name, on in ((fg, bool(fg)), ("b", bold), ("dim", dim),
                                               ("i", italic)) if on)
        _TAGS[after] = f'<span class="{names}">' if names else ""
    if len(_NEXT) >= _MAX_CACHED:
        _NEXT.clear()
    _NEXT[state, params] = after  # after its tag: another thread may use it at once
    return after


def ansi_to_html(text: str) -> str:
    """Console text with SGR colour codes as HTML: every character escaped, each styled stretch
    in a ``<span class="...">`` (``fg-red``/``green``/``yellow``/``blue``/``pink``, ``b``,
    ``dim``, ``i``), every other escape sequence shown as the text it is made of (``\\x1b``).

    Meant for :class:`ConsoleFormatter` output, whose only escapes are its palette's codes: the
    text is escaped whole, then split at its codes; no regular expression, and no span left
    open, so each result stands on its own.
    """
    text = escape(text)  # touches no code: they are made of ESC, [, digits, ; and m
    if "\x1b" not in text:
        return text
    parts = text.split("\x1b[")
    out = [parts[0]]
    state = _PLAIN
    for part in parts[1:]:
        end = part.find("m")
        after = _NEXT.get((state, part[:end])) if end >= 0 else None
        if after is None:
            after = _next(state, part[:end]) if end >= 0 else None
            if after is None:  # not an SGR code: shown as text (below)
                tag = _TAGS[state]
                out.append(f"{tag}\x1b[{part}</span>" if tag else "\x1b[" + part)
                continue
        state = after
        if end + 1 < len(part):
            tag = _TAGS[state]
            out.append(f"{tag}{part[end + 1:]}</span>" if tag else part[end + 1:])
    html = "".join(out)
    # what is left of an ESC was not part of a colour code
    return html.replace("\x1b", "\\x1b") if "\x1b" in html else html


class HtmlFormatter:
    """Render an event as a fragment of an HTML page: what the console shows, coloured by CSS.

    Each event becomes one closed ``<span class="ev KIND">`` holding the text
    :class:`ConsoleFormatter` gives it in ``style``, escaped with ``html.escape``, its colours
    as CSS classes. The page's head (doctype, charset, a Content-Security-Policy allowing no
    script and no network, the stylesheet) comes from :meth:`header`, which a file sink writes
    once at the top of each file it starts (see :class:`chainsink.typing.WritesHeader`). So a
    log file is a valid page at every moment, open it mid-run and reload to see more: HTML5
    needs no closing ``</body></html>``.

    Streamed tokens render as ``""``, as in the console: each model run's output shows whole
    with its end. ``FileCallbackHandler(..., format="html")`` pairs it with a file sink given
    its header; a sink given no header (a stream, a bare ``FileSink``) gets the fragments
    alone.

    Args:
        style: ``"detailed"`` (every event, nested by run depth, with durations and token
            usage; the default) or ``"classic"`` (langchain-core's console lines).
        color: LangChain's default text colour name where a callback gives none, as for
            :class:`ConsoleFormatter`.

    Raises:
        ValueError: For another style or colour.

    Example:
        >>> from chainsink import CallbackHandler
        >>> from chainsink.sinks import FileSink
        >>> html = HtmlFormatter()
        >>> sink = FileSink("run.html", header=html.header("run.html"))  # doctest: +SKIP
        >>> handler = CallbackHandler(sink, html)  # doctest: +SKIP
    """

    def __init__(self, style: str = "detailed", *, color: str | None = None) -> None:
        if style not in HTML_STYLES:
            raise ValueError(f"style must be one of {HTML_STYLES}, not {style!r}")
        self.style = style
        self.color = color
        # colours kept as codes, then turned into classes: one renderer for console and page
        self._console = ConsoleFormatter(style, color=color, ansi=True, like="stdout")
        #: The event kinds this formatter renders; handlers skip the others early.
        self.kinds = self._console.kinds
        self._open = {kind: f'<span class="ev {kind}">' for kind in self.kinds}

    def header(self, name: str) -> str:
        """The page head a file of these fragments starts with, titled after ``name`` (the
        log file's name, escaped); ends with the opening ``<body>`` tag."""
        return f"{_HEAD_START}{_escape(name)} - chainsink{_HEAD_END}"

    def __call__(self, event: Event) -> str:
        """Return the fragment for ``event`` (``""`` when its style shows nothing for it)."""
        text = self._console(event)
        if not text:
            return ""
        return self._open.get(event.event, '<span class="ev">') + ansi_to_html(text) + "</span>"
