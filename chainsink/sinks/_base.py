"""The sink interface."""

from __future__ import annotations

import abc
from typing import Any


class Sink(abc.ABC):
    """What a handler writes to: subclass it (or ``Sink.register`` a class) for your own sink.

    A text stream is not a sink by accident: :func:`chainsink.sinks.make_sink` wraps streams.
    """

    @abc.abstractmethod
    def write(self, text: str, event: Any = None) -> None:
        """Accept one formatted record; report I/O failures instead of raising them."""

    @abc.abstractmethod
    def flush(self) -> None:
        """Write out anything buffered."""

    @abc.abstractmethod
    def close(self) -> None:
        """Flush and release resources; safe to call twice."""
