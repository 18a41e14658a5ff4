"""Formatters: callables that turn a :class:`chainsink.Event` into text.

A formatter never does I/O. The console (classic and detailed), plain text, JSONL and HTML
outputs are all formatters over the same event; pair any of them with any sink in
:class:`chainsink.CallbackHandler`.
"""

from __future__ import annotations

from chainsink.formatters._console import ConsoleFormatter
from chainsink.formatters._html import HtmlFormatter
from chainsink.formatters._jsonl import JsonlFormatter, json_record, record
from chainsink.formatters._logline import LogFormatter, LogLine
from chainsink.formatters._payload import generation_lines, message_lines, tool_output
from chainsink.formatters._styles import (
    ANSI,
    PLAIN,
    VISIBLE_CONTROLS,
    Styles,
    color_enabled,
    inert,
    strip_ansi,
)
from chainsink.typing import Formatter

__all__ = [
    "ANSI",
    "ConsoleFormatter",
    "Formatter",
    "HtmlFormatter",
    "JsonlFormatter",
    "LogFormatter",
    "LogLine",
    "PLAIN",
    "Styles",
    "VISIBLE_CONTROLS",
    "color_enabled",
    "generation_lines",
    "inert",
    "json_record",
    "message_lines",
    "record",
    "strip_ansi",
    "tool_output",
]
