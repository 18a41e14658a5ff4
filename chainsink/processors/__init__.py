"""Processors: callables that take an event and return it, a changed copy, or None to drop it.

They run in order between the callback and the formatter, so what they change reaches every
sink. Every handler runs :func:`default_processors` (redaction, then truncation) unless given
``processors=`` of its own.
"""

from __future__ import annotations

from chainsink.processors._redact import DEFAULT_KEYS, DEFAULT_PATTERNS, Redactor
from chainsink.processors._scan import TokenRule
from chainsink.processors._truncate import Truncator


def default_processors() -> tuple[Redactor, Truncator]:
    """A fresh ``(Redactor(), Truncator())``: secrets masked, sizes capped."""
    return Redactor(), Truncator()


__all__ = [
    "DEFAULT_KEYS",
    "DEFAULT_PATTERNS",
    "Redactor",
    "TokenRule",
    "Truncator",
    "default_processors",
]
