"""chainsink.typing: the built-in blocks follow the Protocols they claim, and a user's own
block written to them works."""

from __future__ import annotations

import io
from typing import Any

import pytest
from langchain_core.runnables import RunnableLambda

from chainsink import CallbackHandler, Event
from chainsink import typing as t
from chainsink.formatters import ConsoleFormatter, HtmlFormatter, JsonlFormatter, LogFormatter
from chainsink.processors import Redactor, Truncator
from chainsink.sinks import FileSink, RotatingFileSink, Sink, StreamSink


def test_builtin_blocks_follow_their_protocols(tmp_path: Any) -> None:
    """Each built-in formatter, sink and processor is an instance of the Protocols of the hooks
    it offers (the handler finds them that way)."""
    for formatter in (JsonlFormatter(), ConsoleFormatter("detailed"), LogFormatter(),
                      HtmlFormatter()):
        assert isinstance(formatter, t.Formatter) and isinstance(formatter, t.RendersKinds)
    assert isinstance(JsonlFormatter(), t.RendersTokenLines)
    assert isinstance(HtmlFormatter(), t.WritesHeader)
    assert not isinstance(HtmlFormatter(), t.RendersTokenLines)  # tokens make no fragment
    assert not isinstance(JsonlFormatter(), t.WritesHeader)
    assert not isinstance(ConsoleFormatter(), t.WritesHeader)
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


def test_a_users_formatter_with_a_header_starts_each_file_with_it(tmp_path: Any) -> None:
    """A user's formatter offering ``header(name)`` is a WritesHeader, and a FileSink given
    its header writes it once, before the first record, however many handlers append."""
    class Csv:
        def header(self, name: str) -> str:
            return f"# {name}\nevent,name\n"

        def __call__(self, event: Event) -> str:
            return f"{event.event},{event.name}\n"

    csv = Csv()
    assert isinstance(csv, t.WritesHeader)
    path = tmp_path / "runs.csv"
    for _ in range(2):
        handler = CallbackHandler(FileSink(path, header=csv.header(path.name)), csv,
                                  processors=())
        RunnableLambda(lambda x: x, name="step").invoke(1, {"callbacks": [handler]})
        handler.close()
    assert path.read_text() == "# runs.csv\nevent,name\n" + "chain_start,step\nchain_end,step\n" * 2


@pytest.mark.parametrize("name", sorted(t.__all__))
def test_every_contract_is_documented(name: str) -> None:
    """Every name in chainsink.typing says what it is for."""
    assert (getattr(t, name).__doc__ or "").strip()
