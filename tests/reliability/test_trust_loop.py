"""A handler never freezes the event loop, and still writes everything, in order.

When stdout (or the stderr a logger writes to) is a pipe nobody reads, a write blocks. chainsink's
handlers run inline on the event loop's thread, so the console and logger sinks hand such
records to a writer thread: a ticker task keeps ticking while ``ainvoke`` runs, the process
still ends (at exit, or on SIGTERM) with bounded waits, and once the reader reads again every
record arrives. With an ordinary stdout, an async run's output is complete and in order after
``flush()`` and at exit, classic output byte for byte langchain-core's.

Each test tallies under "signals" (the process-level group): ``lost`` counts missing records.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import chaos
import pytest
from langchain_core.callbacks import StdOutCallbackHandler as CoreStdOut
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.prompts import PromptTemplate

from chainsink import LoggingCallbackHandler, StdOutCallbackHandler

GROUP = "signals"
#: How long the child's ticker runs, and its tick, in seconds.
RUN, TICK = 2.0, 0.02

CHILD = textwrap.dedent('''
    import asyncio, fcntl, logging, os, sys, time
    kind, result, mode = sys.argv[1:4]
    import chainsink
    from langchain_core.language_models.fake import FakeListLLM
    from langchain_core.prompts import PromptTemplate
    if kind == "classic":
        h = chainsink.StdOutCallbackHandler()
    elif kind == "detailed":
        h = chainsink.StdOutCallbackHandler(style="detailed")
    elif kind == "logging":
        logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
        h = chainsink.LoggingCallbackHandler()
    elif kind == "loguru":
        from loguru import logger
        logger.remove(); logger.add(sys.stderr, format="{message}")
        h = chainsink.LoguruCallbackHandler(logger)
    else:
        import structlog
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stdout))
        h = chainsink.StructlogCallbackHandler()
    for fd in (1, 2):  # a reader that fell behind: the next write blocks
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        try:
            while True:
                os.write(fd, b"." * 4096)
        except BlockingIOError:
            pass
        fcntl.fcntl(fd, fcntl.F_SETFL, flags)
    chain = PromptTemplate.from_template("Q {q}") | FakeListLLM(responses=["answer"])
    async def main():
        ticks = 0
        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(TICK)
        beat = asyncio.ensure_future(ticker())
        await asyncio.sleep(0.1)
        before = ticks
        job = asyncio.ensure_future(chain.ainvoke({"q": "x"}, config={"callbacks": [h]}))
        await asyncio.sleep(RUN)
        with open(result + ".tmp", "w") as f:
            f.write(f"{ticks - before} {job.done()}")
        os.replace(result + ".tmp", result)
        if mode == "sigterm":
            await asyncio.sleep(60)  # killed here
        beat.cancel()
    asyncio.run(main())
''').replace("TICK", repr(TICK)).replace("RUN", repr(RUN))

#: What each kind writes for the chain's end once its stream is read again.
FINISHED = {"classic": b"> Finished chain.", "detailed": b"> Finished RunnableSequence chain.",
            "logging": b"> Finished RunnableSequence chain.",
            "loguru": b"> Finished RunnableSequence chain.",
            "structlog": b"> Finished RunnableSequence chain."}


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float) -> str | None:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if path.exists():
            return path.read_text()
        if proc.poll() is not None:
            return None
        time.sleep(0.05)
    return None


@pytest.mark.parametrize("mode", ["drain", "sigterm"])
@pytest.mark.parametrize("kind", list(FINISHED))
def test_a_stuck_stdout_never_freezes_the_loop(kind: str, mode: str, tmp_path: Path) -> None:
    """stdout and stderr are full pipes nobody reads: the loop ticks through ``ainvoke``, the
    chain finishes; read again, the child writes every record and exits; on SIGTERM it dies
    within a bounded time."""
    result = tmp_path / "result.txt"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, kind, str(result), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        said = _wait_for(result, proc, timeout=30)
        assert said is not None, "the child froze or died before its ticker reported"
        ticks, done = said.split()
        # a frozen loop ticks a handful of times at most; a live one about RUN / TICK
        assert int(ticks) > 0.5 * RUN / TICK, said
        assert done == "True", said
        if mode == "sigterm":
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
            assert proc.returncode == -signal.SIGTERM
            chaos.count(GROUP, inputs=1, faults=1)
            return
        out, err = proc.communicate(timeout=30)  # the reader is back
        assert proc.returncode == 0, err[-2000:]
        written = out + err
        found = written.count(FINISHED[kind])
        chaos.count(GROUP, inputs=1, faults=1, records=1, lost=max(0, 1 - found))
        assert found >= 1, written[-3000:]
        assert b"chainsink:" not in err, err[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


# -- with a stdout that takes everything: complete and in order ---------------------------------


def _chain() -> Any:
    return PromptTemplate.from_template("Q {q}") | FakeListLLM(responses=["a1", "a2", "a3"])


class _PipeStdout:
    """A text stream over a real pipe (so the writer thread is used), read by a thread."""

    def __init__(self) -> None:
        read, write = os.pipe()
        self.stream = open(write, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._read = read
        self._data = bytearray()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while chunk := os.read(self._read, 65536):
            self._data += chunk

    def close(self) -> str:
        self.stream.close()
        self._thread.join(timeout=10)
        os.close(self._read)
        return self._data.decode("utf-8")


def _core_text(questions: list[str]) -> str:
    """What langchain-core's StdOutCallbackHandler prints for the same runs."""
    out = io.StringIO()
    chain = _chain()
    with contextlib.redirect_stdout(out):
        for q in questions:
            chain.invoke({"q": q}, config={"callbacks": [CoreStdOut()]})
    return out.getvalue()


def test_async_classic_output_is_complete_in_order_and_core_identical() -> None:
    """Async runs through the writer thread, then a synchronous run: after ``flush()`` the pipe
    holds langchain-core's bytes, in order."""
    questions = ["one", "two", "three", "four"]
    pipe = _PipeStdout()
    handler = StdOutCallbackHandler()
    chain = _chain()

    async def runs() -> None:
        for q in questions[:3]:
            await chain.ainvoke({"q": q}, config={"callbacks": [handler]})

    with contextlib.redirect_stdout(pipe.stream):
        asyncio.run(runs())
        chain.invoke({"q": questions[3]}, config={"callbacks": [handler]})  # after the queue
        handler.flush()
    text = pipe.close()
    expected = _core_text(questions)
    chaos.count(GROUP, inputs=1, records=expected.count("\n"),
                lost=max(0, expected.count("> Finished chain.") - text.count("> Finished chain.")))
    assert text == expected


EXIT_CHILD = textwrap.dedent('''
    import asyncio, sys
    import chainsink
    from langchain_core.language_models.fake import FakeListLLM
    from langchain_core.prompts import PromptTemplate
    chain = PromptTemplate.from_template("Q {q}") | FakeListLLM(responses=["a1", "a2", "a3"])
    h = chainsink.StdOutCallbackHandler()
    async def runs():
        for q in sys.argv[1:4]:
            await chain.ainvoke({"q": q}, config={"callbacks": [h]})
    asyncio.run(runs())
    chain.invoke({"q": sys.argv[4]}, config={"callbacks": [h]})
    async def last():
        await chain.ainvoke({"q": sys.argv[5]}, config={"callbacks": [h]})
    asyncio.run(last())  # left in the writer at exit: the exit drains it
''')


def test_async_classic_output_is_complete_at_exit() -> None:
    """stdout a pipe the parent reads: without any flush, everything is there at exit, in
    order, byte for byte langchain-core's."""
    questions = ["one", "two", "three", "four", "five"]
    proc = subprocess.run([sys.executable, "-c", EXIT_CHILD, *questions],
                          capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    expected = _core_text(questions)
    text = proc.stdout.decode("utf-8")
    chaos.count(GROUP, inputs=1, records=expected.count("\n"),
                lost=max(0, expected.count("> Finished chain.") - text.count("> Finished chain.")))
    assert text == expected
    assert not chaos.chainsink_lines(proc.stderr.decode("utf-8", "replace"))


def test_async_logging_records_keep_their_order_and_caller_thread() -> None:
    """Records logged from an event loop to a pipe arrive after ``flush()``, in order, with
    the loop's thread (not the writer's) and the same message and level as a sync run's."""
    pipe = _PipeStdout()
    logger = logging.getLogger("chainsink.test_trust_loop")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    stream_handler = logging.StreamHandler(pipe.stream)
    stream_handler.setFormatter(logging.Formatter("%(threadName)s|%(levelname)s|%(message)s"))
    logger.addHandler(stream_handler)
    handler = LoggingCallbackHandler(logger)
    chain = _chain()
    try:
        async def runs() -> None:
            for q in ("one", "two", "three"):
                await chain.ainvoke({"q": q}, config={"callbacks": [handler]})

        asyncio.run(runs())
        handler.flush()
        stream_handler.flush()
        chain.invoke({"q": "one"}, config={"callbacks": [handler]})
        stream_handler.flush()
    finally:
        logger.removeHandler(stream_handler)
    lines = [line for line in pipe.close().splitlines() if "|" in line]
    threads = {line.split("|", 1)[0] for line in lines}
    assert threads == {threading.current_thread().name}, threads
    starts = [i for i, line in enumerate(lines) if "> Entering new RunnableSequence" in line]
    ends = [i for i, line in enumerate(lines) if "> Finished RunnableSequence" in line]
    chaos.count(GROUP, inputs=1, records=len(lines), lost=max(0, 4 - len(ends)))
    assert len(starts) == len(ends) == 4, lines
    assert all(s < e for s, e in zip(starts, ends, strict=True)), lines
    assert all(e < s for e, s in zip(ends, starts[1:], strict=False)), lines
    per_run = len(lines) // 4

    def body(line: str) -> str:
        return re.sub(r" \(\d+\.\d ms\)", "", line.split("|", 1)[1])

    # async and sync alike: message and level
    assert list(map(body, lines[:per_run])) == list(map(body, lines[-per_run:]))
