"""Trust in a process's lifecycle: forks, signals, late tasks, logs that block, start-up cost.

- A process records only the runs it started, once: a fork pool's workers neither truncate the
  parent's log again nor write ends for the parent's runs; a log stays where it was named.
- Signals never hang the process, whatever its handlers were doing when SIGTERM landed.
- Every run captured by ``capture(path)`` ends in the log, even when it ends after the block.
- A log that cannot be written (a FIFO nobody reads) never stalls the caller.
- ``CHAINSINK_LOG`` costs nothing in a process that never imports LangChain.

Signals, exits and start-up hooks need processes of their own: those tests run a small script
in a child interpreter and wait for it with a bound, so a hang fails the test instead of the run.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import fcntl
import multiprocessing
import os
import select
import signal
import struct
import subprocess
import termios
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chaos
import pytest
import workloads
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda

import chainsink
from chainsink import FileCallbackHandler
from chainsink.cli._run import hook_installed
from chainsink.sinks import _file

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")

#: A bound on a child that should exit at once: only a hang comes near it.
HANG = 20


def answer_chain(i: int) -> Any:
    """prompt | fake chat model | parser, answering ``answer {i}``."""
    model = GenericFakeChatModel(messages=iter([AIMessage(content=f"answer {i}")]))
    return ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()


def question_roots(records: list[dict[str, Any]]) -> list[str]:
    """The question of every root run's start, one entry per record."""
    return [r["inputs"]["q"] for r in records
            if r["event"] == "chain_start" and r["parent_run_id"] is None
            and isinstance(r.get("inputs"), dict) and "q" in r["inputs"]]


def require_hook() -> None:
    """Skip (or fail, under CHAINSINK_STRICT) where the start-up .pth is not installed."""
    if not hook_installed():
        if os.environ.get("CHAINSINK_STRICT"):
            pytest.fail("chainsink-startup.pth is not installed: pip install '.[dev]'")
        pytest.skip("editable install: the start-up hook needs a regular `pip install .`")


@contextlib.contextmanager
def child(script: str, *args: str, env: dict[str, str] | None = None, **popen: Any
          ) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``script`` in a new interpreter; kill it if it is still running at the end."""
    proc = subprocess.Popen([chaos.PY, "-c", textwrap.dedent(script), *args],
                            env=env or chaos.python_env(), **popen)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def read_line(stream: Any, timeout: float = HANG) -> bytes:
    """One line from a child's pipe, or b"" if none comes within ``timeout`` (a hang)."""
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else b""


# -- a process records only the runs it started, once -------------------------------------------

#: The parent's handler, inherited by the fork pool's workers.
_INHERITED: Any = None


def _trace_in_worker(i: int) -> str:
    result: str = answer_chain(i).invoke({"q": f"question {i}"},
                                         config={"callbacks": [_INHERITED]})
    return result


def _square(x: int) -> int:
    return x * x


@needs_fork
@pytest.mark.parametrize(("mode", "parent_first"), [("w", False), ("x", False), ("w", True)],
                         ids=["w", "x", "w-parent-queued"])
def test_fork_pool_keeps_every_trace_once(mode: str, parent_first: bool, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A mode="w"/"x" handler made in the parent, a fork Pool(4) running 40 traces: 40 in the
    log, each once (and a trace the parent had queued when the pool forked, once)."""
    global _INHERITED  # noqa: PLW0603 - what the forked workers inherit
    path = tmp_path / "pool.jsonl"
    if mode == "w":
        path.write_text("old content, to be truncated once\n")
    monkeypatch.setattr(_file, "FLUSH_INTERVAL", 3600.0)  # only chainsink's own flushes
    handler = FileCallbackHandler(path, mode, format="jsonl")
    _INHERITED = handler
    try:
        if parent_first:  # queued, not written (async: no flush at a trace's end) at fork
            asyncio.run(workloads.ainvoke_lcel([handler]))
        with multiprocessing.get_context("fork").Pool(4) as pool:
            answers = pool.map(_trace_in_worker, range(40), chunksize=1)
            pool.close()
            pool.join()
        handler.close()
    finally:
        _INHERITED = None
    assert answers == [f"answer {i}" for i in range(40)]
    records = chaos.read_jsonl(path)  # strict: an "old content" line would fail here
    expected = [f"question {i}" for i in range(40)]
    found = question_roots(records)
    missing = chaos.lost(expected, found)
    chaos.count("fork pools", inputs=40, faults=0, records=len(expected), lost=missing)
    assert missing == 0, f"{missing} of 40 traces are not in the log"
    assert collections.Counter(found) == collections.Counter(expected)
    chaos.assert_runs_closed(records)
    parent_roots = [r for r in records if r["event"] == "chain_start"
                    and r["parent_run_id"] is None and r["inputs"] == {"topic": "parrots"}]
    assert len(parent_roots) == int(parent_first)


def test_mode_x_is_checked_at_construction(tmp_path: Path) -> None:
    """mode="x" on an existing file fails when the handler is built, as open(path, "x") does."""
    path = tmp_path / "exists.jsonl"
    path.write_text("")
    with pytest.raises(FileExistsError):
        FileCallbackHandler(path, "x", format="jsonl")


def _busy(marker: str) -> None:
    Path(marker).touch()
    threading.Event().wait(120)  # until terminated


@needs_fork
def test_pool_terminate_writes_no_end_for_the_parents_runs(tmp_path: Path) -> None:
    """A fork pool created inside a run and terminated while its workers are busy: the workers
    (SIGTERM'd, each holding a copy of the parent's open runs) write no end for those runs;
    each run ends once, as it really ended."""
    path = tmp_path / "terminate.jsonl"
    handler = FileCallbackHandler(path, format="jsonl")
    markers = [str(tmp_path / f"busy-{i}") for i in range(4)]
    exitcodes: list[int | None] = []

    def pool_step(x: int) -> int:
        pool = multiprocessing.get_context("fork").Pool(4)
        pool.map_async(_busy, markers, chunksize=1)
        gate = threading.Event()
        for _ in range(1200):  # every worker is inside a task (a bound, not a timing check)
            if all(os.path.exists(m) for m in markers):
                break
            gate.wait(0.05)
        pool.terminate()  # SIGTERM to every worker
        pool.join()
        exitcodes.extend(p.exitcode for p in pool._pool)  # type: ignore[attr-defined]
        return x

    chain = RunnableLambda(lambda x: x, name="first") | RunnableLambda(pool_step,
                                                                      name="pool_step")
    assert chain.invoke(3, config={"callbacks": [handler]}) == 3
    handler.close()
    assert exitcodes == [-signal.SIGTERM] * 4
    records = chaos.read_jsonl(path)
    aborted = [r for r in records if r.get("aborted")]
    chaos.count("fork pools", inputs=1, faults=4, records=len(records), lost=len(aborted))
    assert not aborted, aborted
    chaos.assert_runs_closed(records)
    assert len(records) == 6  # 3 runs, a start and an end each


CHILD_TERMINATED_AT_BIRTH = """
    import os, signal, sys, time
    # runs in the child before chainsink gives it a signal pipe of its own: the child's
    # SIGTERM is reported on the pipe it shares with the parent
    os.register_at_fork(after_in_child=lambda: os.kill(os.getpid(), signal.SIGTERM))
    from chainsink import FileCallbackHandler
    from langchain_core.runnables import RunnableLambda

    handler = FileCallbackHandler(sys.argv[1], format="jsonl")

    def fork_one(x):
        pid = os.fork()
        if pid == 0:
            time.sleep(30)  # never reached: the SIGTERM is handled first
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        print("child", -os.WTERMSIG(status) if os.WIFSIGNALED(status) else status, flush=True)
        time.sleep(1.0)  # the parent's watcher has seen the child's report by now
        return x

    RunnableLambda(fork_one, name="fork_one").invoke(1, config={"callbacks": [handler]})
    print("parent alive", flush=True)
"""


@needs_fork
def test_a_child_terminated_at_birth_leaves_the_parent_alone(tmp_path: Path) -> None:
    """A forked child SIGTERM'd before it has its own signal pipe: the child dies of it, the
    parent (whose pipe reported the child's signal) goes on and finishes its run."""
    path = tmp_path / "parent.jsonl"
    with child(CHILD_TERMINATED_AT_BIRTH, str(path), stdout=subprocess.PIPE,
               stderr=subprocess.PIPE) as proc:
        out, err = proc.communicate(timeout=HANG)
    assert proc.returncode == 0, err
    assert out.decode().split("\n")[:2] == [f"child {-signal.SIGTERM}", "parent alive"]
    records = chaos.read_jsonl(path)
    chaos.count("fork pools", inputs=1, faults=1, records=len(records),
                lost=sum(1 for r in records if r.get("aborted")))
    assert [r["event"] for r in records] == ["chain_start", "chain_end"]


def test_relative_log_path_is_fixed_at_construction(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A handler made with a relative path keeps writing there after os.chdir."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)
    handler = FileCallbackHandler("run.jsonl", format="jsonl")
    monkeypatch.chdir(second)
    workloads.invoke_lcel([handler])
    handler.close()
    assert not (second / "run.jsonl").exists()
    records = chaos.read_jsonl(first / "run.jsonl")
    chaos.assert_runs_closed(records)
    chaos.count("fork pools", inputs=1, records=len(records))


# -- signals never hang the process -------------------------------------------------------------

STREAM_FOREVER = """
    import contextvars, os, sys, threading, time
    import chainsink
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnableLambda

    how, target = sys.argv[1], sys.argv[2]

    def stream_forever(callbacks):
        # a request still running on another thread: SIGTERM has runs to close
        started = threading.Event()
        stuck = RunnableLambda(lambda x: started.set() or time.sleep(3600), name="stuck")
        threading.Thread(target=contextvars.copy_context().run, daemon=True,
                         args=(stuck.invoke, 1, {"callbacks": callbacks})).start()
        started.wait(60)
        os.write(2, b"STARTED\\n")
        while True:
            model = GenericFakeChatModel(messages=iter([AIMessage(content="word " * 300)]))
            chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model
            chain = chain | StrOutputParser()
            for _ in chain.stream({"q": "x" * 4000}, config={"callbacks": callbacks}):
                pass

    if how == "stdout":
        stream_forever([chainsink.StdOutCallbackHandler(style="detailed")])
    elif how == "file":
        stream_forever([chainsink.FileCallbackHandler(target, format="text", style="detailed")])
    else:
        with chainsink.capture(target):
            stream_forever([])
"""


def pipe_bytes(fd: int) -> int:
    """Bytes waiting in a pipe (FIONREAD)."""
    return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])


def wait_until_full(fd: int, proc: subprocess.Popen[bytes]) -> bool:
    """Wait until the child's writes into the pipe behind ``fd`` stop: its main thread sits
    in a pipe write (Linux's wchan says so), or the pipe stays unchanged for a second."""
    tick = threading.Event()
    last, same = -1, 0
    for _ in range(1200):  # a bound of about a minute, not a timing check
        if proc.poll() is not None:
            return False
        with contextlib.suppress(OSError):
            if "pipe_write" in Path(f"/proc/{proc.pid}/wchan").read_text():
                return True
        now = pipe_bytes(fd)
        same = same + 1 if now == last and now > 0 else 0
        if same >= 20:
            return True
        last = now
        tick.wait(0.05)
    return False


def terminate_and_wait(proc: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM the child; its exit status, or None if it hung."""
    threading.Event().wait(0.3)  # let the writer sit in its blocked write
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=HANG)
    except subprocess.TimeoutExpired:
        return None


def settle_signal(status: int | None, records: int = 0) -> None:
    hung = status != -signal.SIGTERM
    chaos.count("signals", inputs=1, faults=1, records=records, lost=int(hung))
    assert status is not None, "the process hung after SIGTERM"
    assert status == -signal.SIGTERM, status


def test_sigterm_while_stdout_is_blocked_on_a_full_pipe() -> None:
    """StdOutCallbackHandler writing into a pipe nobody reads: SIGTERM still ends the process
    (the flush must not wait for the stream lock the interrupted write holds)."""
    with child(STREAM_FOREVER, "stdout", "-", stdout=subprocess.PIPE,
               stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert read_line(proc.stderr, 60) == b"STARTED\n"
        assert wait_until_full(proc.stdout.fileno(), proc), "stdout never filled"
        settle_signal(terminate_and_wait(proc))


def fill_fifo(path: Path) -> tuple[int, int]:
    """Open ``path`` (a FIFO) for reading and writing, and fill it with whole pages, so no
    later write fits; return both descriptors."""
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # there, but never reading
    writer = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(writer, b"#" * 4095 + b"\n")
    return reader, writer


@needs_fifo
@pytest.mark.parametrize("how", ["file", "capture"])
def test_sigterm_while_the_log_is_a_full_fifo(how: str, tmp_path: Path) -> None:
    """A FileCallbackHandler (or capture()) writing into a full FIFO whose reader never reads:
    SIGTERM ends the process."""
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    reader, writer = fill_fifo(fifo)
    try:
        with child(STREAM_FOREVER, how, str(fifo), stderr=subprocess.PIPE,
                   stdout=subprocess.DEVNULL) as proc:
            assert proc.stderr is not None
            assert read_line(proc.stderr, 60) == b"STARTED\n"
            assert wait_until_full(reader, proc), "the child never got to write"
            settle_signal(terminate_and_wait(proc))
    finally:
        os.close(reader)
        os.close(writer)


HELD_LOCK = """
    import sys, threading, time
    from chainsink import FileCallbackHandler
    from langchain_core.runnables import RunnableLambda

    handler = FileCallbackHandler(sys.argv[1], format="jsonl")
    held = threading.Event()

    def hold():  # a flusher stuck in a write to a stalled disk holds the file's lock so
        with handler.sink._io_lock:
            held.set()
            time.sleep(3600)

    def slow(x):
        threading.Thread(target=hold, daemon=True).start()
        held.wait()
        print("STARTED", flush=True)
        time.sleep(600)

    chain = RunnableLambda(lambda x: x, name="first") | RunnableLambda(slow, name="slow")
    chain.invoke(1, config={"callbacks": [handler]})
"""


def test_sigterm_while_another_thread_holds_the_file_lock(tmp_path: Path) -> None:
    """SIGTERM while the file's I/O lock is held by a thread that never lets go: the flush
    gives up after a bounded wait and the process dies of SIGTERM."""
    with child(HELD_LOCK, str(tmp_path / "held.jsonl"), stdout=subprocess.PIPE,
               stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        assert read_line(proc.stdout, 60) == b"STARTED\n"
        settle_signal(terminate_and_wait(proc))


# -- every captured run ends in the log ---------------------------------------------------------


def settle_late(path: Path, roots: int) -> list[dict[str, Any]]:
    records = chaos.read_jsonl(path)
    starts = [r["run_id"] for r in records if r["event"].endswith("_start")]
    ends = [r["run_id"] for r in records if r["event"].endswith(("_end", "_error"))]
    missing = chaos.lost(starts, ends)
    chaos.count("late task ends", inputs=roots, records=len(starts), lost=missing)
    assert missing == 0, f"{missing} captured runs have no end in the log"
    chaos.assert_runs_closed(records)
    assert sum(1 for r in records if r["parent_run_id"] is None
               and r["event"].endswith("_start")) == roots
    return records


async def test_tasks_started_in_capture_end_in_the_log(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """asyncio tasks created inside capture(path), one already running and one not yet started
    when the block exits, both finish after it: their runs are in the log, start and end."""
    path = tmp_path / "tasks.jsonl"
    release = asyncio.Event()

    async def wait_for_release(x: Any) -> Any:
        await release.wait()
        return x

    def slow_chain() -> Any:
        return RunnableLambda(lambda x: x, name="first") | RunnableLambda(wait_for_release,
                                                                          name="late")

    with chainsink.capture(path):
        running = asyncio.create_task(slow_chain().ainvoke(1))
        await asyncio.sleep(0.05)  # its run has started inside the block
        not_started = asyncio.create_task(answer_chain(7).ainvoke({"q": "question 7"}))
    release.set()
    assert await asyncio.gather(running, not_started) == [1, "answer 7"]
    records = settle_late(path, roots=2)
    assert any(r["name"] == "late" and r["event"] == "chain_end" for r in records)
    assert chaos.chainsink_lines(capsys.readouterr().err) == []


def test_thread_started_in_capture_ends_in_the_log(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A thread started inside capture(path) with copy_context, ending after the block: its
    run is in the log, start and end."""
    path = tmp_path / "thread.jsonl"
    started, release = threading.Event(), threading.Event()

    def wait_for_release(x: Any) -> Any:
        started.set()
        release.wait(60)
        return x

    chain = RunnableLambda(lambda x: x, name="first") | RunnableLambda(wait_for_release,
                                                                      name="late")
    with chainsink.capture(path):
        thread = threading.Thread(target=contextvars.copy_context().run,
                                  args=(chain.invoke, 5))
        thread.start()
        assert started.wait(60)
    release.set()
    thread.join(60)
    records = settle_late(path, roots=1)
    assert any(r["name"] == "late" and r["event"] == "chain_end" for r in records)
    assert chaos.chainsink_lines(capsys.readouterr().err) == []


LATE_AT_EXIT = """
    import contextvars, sys, threading, time
    import chainsink
    from langchain_core.runnables import RunnableLambda

    started = threading.Event()

    def stuck(x):
        started.set()
        time.sleep(600)

    chain = RunnableLambda(lambda x: x, name="first") | RunnableLambda(stuck, name="stuck")
    with chainsink.capture(sys.argv[1]):
        ctx = contextvars.copy_context()
        threading.Thread(target=ctx.run, args=(chain.invoke, 1), daemon=True).start()
        started.wait(60)
    print("EXITING", flush=True)
"""


def test_captured_run_open_at_exit_gets_an_aborted_end(tmp_path: Path) -> None:
    """A run from a thread started in capture(path), still running when the process exits:
    the log closes it with an aborted end."""
    path = tmp_path / "exit.jsonl"
    with child(LATE_AT_EXIT, str(path), stdout=subprocess.PIPE,
               stderr=subprocess.PIPE) as proc:
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and b"EXITING" in out, err
    records = settle_late(path, roots=1)
    stuck = [r for r in records if r["name"] == "stuck" and r["event"] == "chain_error"]
    assert stuck and stuck[0]["aborted"] is True
    assert chaos.chainsink_lines(err.decode()) == []


# -- a log that cannot be written never stalls the caller --------------------------------------

FIFO_APP = """
    import sys
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    callbacks = []
    if sys.argv[1] == "handler":
        from chainsink import FileCallbackHandler
        callbacks.append(FileCallbackHandler(sys.argv[2], format="jsonl"))
    for i in range(3):
        model = GenericFakeChatModel(messages=iter([AIMessage(content=f"answer {i}")]))
        chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()
        chain.invoke({"q": f"question {i}"}, config={"callbacks": callbacks})
    print("INVOKED", flush=True)
    sys.stdin.readline()  # the test opens the FIFO for reading, then lets us exit
"""


@needs_fifo
@pytest.mark.parametrize("how", ["handler", "CHAINSINK_LOG"])
def test_a_fifo_with_no_reader_never_blocks_invoke(how: str, tmp_path: Path) -> None:
    """A log that is a FIFO with no reader: invoke() returns, stderr gets one chainsink line,
    and once a reader appears the records arrive and the process exits."""
    if how == "CHAINSINK_LOG":
        require_hook()
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    env = chaos.python_env(**({"CHAINSINK_LOG": str(fifo)} if how == "CHAINSINK_LOG" else {}))
    with child(FIFO_APP, how, str(fifo), env=env, stdin=subprocess.PIPE,
               stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stdin is not None
        invoked = read_line(proc.stdout)
        chaos.count("faults", inputs=1, faults=1, lost=int(invoked != b"INVOKED\n"))
        assert invoked == b"INVOKED\n", "invoke() waited for a FIFO nobody reads"
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        try:
            proc.stdin.write(b"go\n")
            proc.stdin.close()
            assert proc.wait(timeout=HANG) == 0
            data = b""
            with contextlib.suppress(BlockingIOError):
                while chunk := os.read(reader, 1 << 16):
                    data += chunk
        finally:
            os.close(reader)
        err = proc.stderr.read().decode() if proc.stderr else ""
    lines = chaos.chainsink_lines(err)
    assert len(lines) == 1 and "fifo" in lines[0], err
    records = chaos.parse_jsonl(data)
    assert question_roots(records) == [f"question {i}" for i in range(3)]
    chaos.assert_runs_closed(records)


# -- zero-code capture costs nothing where it is unused ----------------------------------------


def test_chainsink_log_leaves_a_process_without_langchain_alone(tmp_path: Path) -> None:
    """With CHAINSINK_LOG set, a Python process that never imports LangChain does not import
    it (nor write a log)."""
    require_hook()
    path = tmp_path / "unused.jsonl"
    proc = subprocess.run(
        [chaos.PY, "-c", "import sys; print('langchain_core' in sys.modules, "
                         "'chainsink.handlers._adapter' in sys.modules)"],
        env=chaos.python_env(CHAINSINK_LOG=str(path)), capture_output=True, text=True,
        timeout=60, check=True)
    assert proc.stdout.split() == ["False", "False"], proc.stderr
    assert proc.stderr == "" and not path.exists()


LATE_IMPORT = """
    import os, sys
    os.chdir(sys.argv[1])  # after start-up: a relative CHAINSINK_LOG stays where it was named
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.output_parsers import StrOutputParser
    for i in range(2):
        model = GenericFakeChatModel(messages=iter([AIMessage(content=f"answer {i}")]))
        chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()
        print(chain.invoke({"q": f"question {i}"}))
    print(any(type(f).__module__.startswith("chainsink") for f in sys.meta_path))
"""


def test_chainsink_log_records_a_process_once_it_imports_langchain(tmp_path: Path) -> None:
    """With CHAINSINK_LOG set (relative), a process that imports langchain_core after changing
    directory has its runs recorded, in the file named at start-up."""
    require_hook()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run([chaos.PY, "-c", textwrap.dedent(LATE_IMPORT), str(elsewhere)],
                          env=chaos.python_env(CHAINSINK_LOG="env.jsonl"), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.split() == ["answer", "0", "answer", "1", "False"], proc.stderr
    assert not (elsewhere / "env.jsonl").exists()
    records = chaos.read_jsonl(tmp_path / "env.jsonl")
    assert question_roots(records) == ["question 0", "question 1"]
    chaos.assert_runs_closed(records)
