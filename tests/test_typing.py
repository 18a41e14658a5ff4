"""chainsink.typing: the built-in blocks follow the Protocols they claim, and a user's own
block written to them works."""

from __future__ import annotations

import io
from typing import Any

import pytest
from langchain_core.runnables import RunnableLambda

from chainsink import CallbackHandler, Event
from chainsink import typing as t
from chainsink.formatters import ConsoleFormatter, JsonlFormatter, LogFormatter
from chainsink.processors import Redactor, Truncator
from chainsink.sinks import FileSink, RotatingFileSink, Sink, StreamSink


def test_builtin_blocks_follow_their_protocols(tmp_path: Any) -> None:
    """Each built-in formatter, sink and processor is an instance of the Protocols of the hooks
    it offers (the handler finds them that way)."""
    for formatter in (JsonlFormatter(), ConsoleFormatter("detailed"), LogFormatter()):
        assert isinstance(formatter, t.Formatter) and isinstance(formatter, t.RendersKinds)
    assert isinstance(JsonlFormatter(), t.RendersTokenLines)
    file_sink = FileSink(tmp_path / "a.jsonl")
    rotating = RotatingFileSink(tmp_path / "b.jsonl", max_bytes=1000, backup_count=1)
    for sink in (file_sink, rotating):
        assert isinstance(sink, t.Sink) and isinstance(sink, t.KnowsClosed)
        assert isinstance(sink, t.WritesBytes)
        sink.close()
    redactor, truncator = Redactor(), Truncator()
    for processor in (redactor, truncator):
        assert isinstance(processor, t.Processor) and isinstance(processor, t.StatesTokenRule)
    assert isinstance(redactor, t.HoldsEvents)
    assert not isinstance(StreamSink(io.StringIO()), t.WritesBytes)


def test_a_users_blocks_written_to_the_protocols_work() -> None:
    """A plain function formatter, a Sink subclass and a processor with only __call__ are all a
    handler needs."""
    written: list[tuple[str, str]] = []

    class Collect(Sink):
        def write(self, text: str, event: Any = None) -> None:
            written.append((text, event.event))

        def flush(self) -> None:
            pass

        def close(self) -> None:
            pass

    def names(event: Event) -> str:
        return f"{event.event} {event.name}"

    def drop_starts(event: Event) -> Event | None:
        return None if event.event.endswith("_start") else event.replace(name="seen")

    formatter: t.Formatter = names
    processor: t.Processor = drop_starts
    handler = CallbackHandler(Collect(), formatter, processors=[processor])
    RunnableLambda(lambda x: x).invoke(1, {"callbacks": [handler]})
    assert written == [("chain_end seen", "chain_end")]


@pytest.mark.parametrize("name", sorted(t.__all__))
def test_every_contract_is_documented(name: str) -> None:
    """Every name in chainsink.typing says what it is for."""
    assert (getattr(t, name).__doc__ or "").strip()
