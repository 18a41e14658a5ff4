"""Colour: decided once from the stream and the environment, applied through one styles object."""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

#: LangChain's own palette (``langchain_core.utils.input._TEXT_COLOR_MAPPING``).
LANGCHAIN_COLORS = {
    "blue": "36;1",
    "yellow": "33;1",
    "pink": "38;5;200",
    "green": "32;1",
    "red": "31;1",
}

_ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
#: What :func:`inert` looks at: an SGR code, a CRLF line end, or one control character (C0 but
#: newline and tab, DEL, C1).
_INERT_RE = re.compile("\x1b\\[[0-9;]*m|\r\n|[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: How each control character is shown: ``\xNN`` (``\r`` for a carriage return).
VISIBLE_CONTROLS = {chr(c): "\\r" if c == 0x0D else f"\\x{c:02x}"
                    for c in (*range(0x20), *range(0x7F, 0xA0)) if c not in (0x09, 0x0A)}


def strip_ansi(text: str) -> str:
    """Remove ANSI escape sequences from ``text``."""
    # sequences first (so their parameters go too), then any ESC left over (ESC c, ESC 7, ...)
    return _ANSI_RE.sub("", text).replace("\x1b", "") if "\x1b" in text else text


def inert(text: str, keep: frozenset[str] = frozenset()) -> str:
    """``text`` made safe to print on a terminal: it can colour, but never control it.

    Every control character (C0 but newline and tab, DEL, C1) is shown as text: ``\\x1b``,
    ``\\x9b``, ``\\x07`` (a carriage return as ``\\r``; ``\\r\\n`` stays a line end). SGR colour
    codes (``ESC[...m``) in ``keep`` stay as they are; any other SGR code is dropped, since it
    only styles (and may hide) text. So an OSC 52 clipboard write, a title, a screen clear,
    a cursor move or a ``\\r`` overwrite prints as the characters it is made of.

    Args:
        text: Text from a run (or whole console output made of it).
        keep: The SGR codes allowed through (:data:`STYLE_CODES` for coloured output).
    """
    if text.isprintable():  # every character looked at below is a control character
        return text

    def one(match: re.Match[str]) -> str:
        found = match.group()
        if len(found) == 1:
            return VISIBLE_CONTROLS[found]
        if found[0] == "\r":  # CRLF
            return found
        return found if found in keep else ""

    return _INERT_RE.sub(one, text)


def color_enabled(stream: Any = None) -> bool:
    """Whether to colour output for ``stream``: ``NO_COLOR`` and ``FORCE_COLOR`` win over isatty.

    Follows https://no-color.org and the ``FORCE_COLOR`` convention: a non-empty ``NO_COLOR``
    turns colour off, a ``FORCE_COLOR`` other than ``""``/``"0"`` turns it on, otherwise colour
    is used when ``stream`` is a terminal.
    """
    if os.environ.get("NO_COLOR"):
        return False
    force = os.environ.get("FORCE_COLOR")
    if force is not None and force not in ("", "0"):
        return True
    try:
        return bool(stream is not None and stream.isatty())
    except Exception:  # noqa: BLE001 - a closed or odd stream
        return False


@dataclasses.dataclass(frozen=True)
class Styles:
    """The escape codes a console formatter uses; :data:`PLAIN` has them all empty.

    "No colour" is this same object with empty strings, not a second code path.
    """

    bold: str = "\033[1m"
    reset: str = "\033[0m"
    dim: str = "\033[2m"
    red: str = "\033[31;1m"
    enabled: bool = True

    def colored(self, text: str, color: str | None) -> str:
        """Colour ``text`` exactly as LangChain's ``get_colored_text`` does (bold italic)."""
        if not color or not self.enabled:
            return text
        code = LANGCHAIN_COLORS.get(color)
        if code is None:
            return text
        return f"\u001b[{code}m\033[1;3m{text}\u001b[0m"

    def wrap(self, code: str, text: str) -> str:
        """``text`` between ``code`` and a reset, or bare when colour is off."""
        return f"{code}{text}{self.reset}" if code else text


ANSI = Styles()
PLAIN = Styles(bold="", reset="", dim="", red="", enabled=False)

#: Every code :data:`ANSI` can emit (LangChain's palette in bold italic, bold, dim, red, reset):
#: the only escape codes coloured console output lets through from a run's content, where
#: LangChain itself puts them (LLMChain prompts, agent logs).
STYLE_CODES = frozenset({ANSI.bold, ANSI.reset, ANSI.dim, ANSI.red, "\033[1;3m",
                         *(f"\u001b[{code}m" for code in LANGCHAIN_COLORS.values())})
