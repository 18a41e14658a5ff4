"""Processors: callables that take an event and return it, a changed copy, or None to drop it.

They run in order between the callback and the formatter, so what they change reaches every
sink. Every handler runs :func:`default_processors` (redaction, then truncation) unless given
``processors=`` of its own. A processor may also return a tuple of events: ones it held back
(the :class:`Redactor` holds streamed tokens that may start a secret), released with this one;
the processors after it see each. Such a processor keeps state per run: give each handler its
own (``default_processors()`` makes new ones).
"""

from __future__ import annotations

from chainsink.processors._redact import Redactor
from chainsink.processors._secrets import DEFAULT_KEYS, DEFAULT_PATTERNS
from chainsink.processors._truncate import Truncator
from chainsink.typing import TokenRule


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
