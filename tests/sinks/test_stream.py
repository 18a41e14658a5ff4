"""Stream sinks share one lock per stream: records from several sinks never interleave."""

from __future__ import annotations

import contextlib
import io
import itertools
import threading
import time
from typing import Any

import workloads

from chainsink import CallbackHandler, StdOutCallbackHandler
from chainsink.formatters import ConsoleFormatter, JsonlFormatter
from chainsink.sinks import CallableSink, StreamSink, stream_lock


class PartialWriteStream(io.TextIOBase):
    """A text stream that takes each write in small pieces, letting other threads run between
    them, as a pipe or socket taking partial writes does; it remembers which ``write`` call
    each piece came from."""

    def __init__(self, piece: int = 5) -> None:
        self.piece = piece
        self.parts: list[tuple[int, str]] = []
        self._calls = itertools.count()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        call = next(self._calls)
        for start in range(0, len(text), self.piece):
            self.parts.append((call, text[start:start + self.piece]))
            time.sleep(0)  # another thread may write now
        return len(text)

    def text(self) -> str:
        return "".join(part for _, part in self.parts)

    def interleaved(self) -> int:
        """How many write calls had their pieces split by another call's pieces."""
        calls = [call for call, _ in itertools.groupby(call for call, _ in self.parts)]
        return len(calls) - len(set(calls))


def test_two_handlers_on_one_stream_never_interleave() -> None:
    """A stdout handler and a JSONL handler on the same stream, fed by eight threads at once,
    write every record whole: one lock per stream, not per sink."""
    stream = PartialWriteStream()
    handlers: list[Any] = [StdOutCallbackHandler(style="detailed"),
                           CallbackHandler(stream, JsonlFormatter()),
                           CallbackHandler(StreamSink(stream), ConsoleFormatter("line"))]
    with contextlib.redirect_stdout(stream):  # StdOutCallbackHandler writes to sys.stdout
        workloads.batch_lcel_threaded(handlers)
    assert stream.interleaved() == 0
    text = stream.text()
    assert text.count('"event":"chain_start"') >= workloads.N_BATCH  # the JSONL records
    assert text.count("> Chat model") >= workloads.N_BATCH  # the detailed console's


def test_a_callable_sink_of_a_streams_write_shares_its_lock() -> None:
    """``make_sink(stream.write)`` (a CallableSink) holds the stream's lock, like a
    StreamSink of that stream; a plain function gets a lock of its own."""
    stream = PartialWriteStream()
    by_method, by_stream = CallableSink(stream.write), StreamSink(stream)
    lines = ["a" * 40 + "\n", "b" * 40 + "\n"]

    def write(sink: Any, line: str) -> None:
        for _ in range(200):
            sink.write(line)

    threads = [threading.Thread(target=write, args=(sink, line))
               for sink, line in ((by_method, lines[0]), (by_stream, lines[1]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stream.interleaved() == 0
    assert sorted(stream.text().splitlines(keepends=True)) == sorted(lines * 200)
    assert stream_lock(stream) is stream_lock(stream)
    assert stream_lock(io.StringIO()) is not stream_lock(stream)


def test_the_lock_table_keeps_no_stream_alive_nor_passes_a_lock_on() -> None:
    """The lock table does not keep streams alive, and a new stream (perhaps at a dead one's
    address) never inherits that one's lock."""
    import gc
    import weakref

    stream = io.StringIO()
    old = stream_lock(stream)
    gone = weakref.ref(stream)
    del stream
    gc.collect()
    assert gone() is None
    assert all(stream_lock(io.StringIO()) is not old for _ in range(100))
