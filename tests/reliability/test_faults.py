"""Faults: a full disk, a log deleted or replaced, writes after close, a broken stdout, a sink
that raises, SIGINT and SIGTERM mid-run, and interpreter exit with records still queued.

For each: the user's run is unharmed, chainsink says so in at most one line on stderr, and every
record chainsink accepted before the fault is in the file. "Accepted" is measured, not assumed:
a reference handler beside chainsink's gets the same callbacks and writes each record at once
(to a pipe, unbuffered), so it survives the fault; the log must hold all of them.

Most faults need a process of their own (a file size limit, a signal, an exit), so a small
script runs in a child; ``PRELUDE`` gives it the reference handler and markers.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chaos
import pytest
import workloads

from chainsink import CallbackHandler, FileCallbackHandler, RotatingFileCallbackHandler
from chainsink.formatters import JsonlFormatter
from chainsink.sinks import Sink

GROUP = "faults"

PRELUDE = textwrap.dedent("""
    import asyncio, json, os, signal, sys, threading, time
    import workloads
    from chainsink import (CallbackHandler, FileCallbackHandler, RotatingFileCallbackHandler,
                           StdOutCallbackHandler)
    from chainsink.formatters import JsonlFormatter
    from chainsink.sinks import _file

    _REF_FD = 1 if os.environ.get("CHAOS_REF", "-") == "-" else os.open(
        os.environ["CHAOS_REF"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def _accepted(text):
        rec = json.loads(text)
        os.write(_REF_FD, ("REF " + json.dumps([rec["run_id"], rec["event"]]) + "\\n").encode())

    # sees every callback chainsink's handler sees, and writes it at once: what was accepted
    REF = CallbackHandler(_accepted, JsonlFormatter(), processors=())

    def mark(text):
        os.write(_REF_FD, ("MARK " + text + "\\n").encode())

    def quiet_flusher():
        # no periodic background writes: queued records reach the file only by chainsink's
        # own flushes (trace end, close, exit, signal), which is what is under test
        _file.FLUSH_INTERVAL = 3600.0
""")


@contextlib.contextmanager
def child(script: str, *args: str, ref: str = "-", stdout: Any = subprocess.PIPE,
          stdin: Any = None, shell_suffix: str = "") -> Iterator[subprocess.Popen[bytes]]:
    """Start ``PRELUDE + script`` in a new interpreter; kill it if the test fails early.

    ``ref`` is where the reference records go (``-``: the child's stdout); ``shell_suffix``
    runs the child through the shell with that redirection (``| head -2``).
    """
    env = chaos.python_env(CHAOS_REF=ref)
    argv = [chaos.PY, "-c", PRELUDE + textwrap.dedent(script), *args]
    if shell_suffix:
        proc = subprocess.Popen(" ".join(map(shlex.quote, argv)) + shell_suffix, shell=True,
                                stdout=stdout, stdin=stdin, stderr=subprocess.PIPE, env=env)
    else:
        proc = subprocess.Popen(argv, stdout=stdout, stdin=stdin, stderr=subprocess.PIPE,
                                env=env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def parse_child(out: bytes) -> tuple[list[tuple[str, str]], list[str]]:
    """The ``REF`` keys and ``MARK`` texts a child wrote."""
    accepted, marks = [], []
    for line in out.decode("utf-8", "replace").splitlines():
        if line.startswith("REF "):
            run_id, event = json.loads(line[4:])
            accepted.append((run_id, event))
        elif line.startswith("MARK "):
            marks.append(line[5:])
    return accepted, marks


def wait_for_mark(proc: subprocess.Popen[bytes], mark: str) -> bytes:
    """Read the child's stdout until ``mark``; return what was read."""
    assert proc.stdout is not None
    seen = b""
    while True:
        line = proc.stdout.readline()
        assert line, f"child ended before {mark!r}: {proc.stderr.read() if proc.stderr else ''}"
        seen += line
        if line.strip() == f"MARK {mark}".encode():
            return seen


def settle(found: list[tuple[str, str]], accepted: list[tuple[str, str]], faults: int) -> None:
    """Every accepted record is in the log, and nothing else is; tally the fault."""
    missing = chaos.lost(accepted, found)
    chaos.count(GROUP, inputs=1, faults=faults, records=len(accepted), lost=missing)
    assert accepted, "the reference handler saw nothing"
    assert missing == 0, f"{missing} of {len(accepted)} accepted records are not in the log"
    assert collections.Counter(found) == collections.Counter(accepted)


def one_line(stderr: bytes, *expected: str) -> str:
    """stderr has exactly one chainsink line (containing ``expected``) and no traceback."""
    err = stderr.decode("utf-8", "replace")
    assert "Traceback" not in err and "Exception ignored" not in err, err
    lines = chaos.chainsink_lines(err)
    assert len(lines) == 1, err
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


# -- a full disk --------------------------------------------------------------------------------

DISK_FULL = """
    import resource
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail writes with EFBIG instead of dying
    path, kind, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    quiet_flusher()
    handler = (RotatingFileCallbackHandler(path, max_bytes=1_000_000, backup_count=5)
               if kind == "rotating" else FileCallbackHandler(path, format="jsonl"))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    for i in range(15):
        assert workloads.invoke_lcel([handler, REF]) == "Parrots are colorful birds."
    async def many():
        await asyncio.gather(*(workloads.ainvoke_lcel([handler, REF]) for _ in range(10)))
    asyncio.run(many())
    handler.flush()
    mark("FULL")
    with open(path, "rb") as f:
        os.write(1, b"SNAPSHOT " + f.read().hex().encode() + b"\\n")
    if sys.argv[4] == "recover":
        resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # space is back
        for i in range(3):
            workloads.invoke_lcel([handler, REF])
    mark("DONE")
    # no close: the exit flush writes what is still queued (or fails again, quietly)
"""


def snapshot(out: bytes) -> bytes:
    for line in out.splitlines():
        if line.startswith(b"SNAPSHOT "):
            return bytes.fromhex(line[9:].decode())
    raise AssertionError("no snapshot")


def check_prefix(data: bytes, accepted: list[tuple[str, str]]) -> int:
    """The whole lines of ``data`` are the first accepted records, in order; a cut-off last
    line is the start of the next one. Returns how many whole records there are."""
    records = chaos.parse_jsonl(data, partial_tail=True)
    assert chaos.keys(records) == accepted[:len(records)]
    return len(records)


@pytest.mark.parametrize("kind", ["jsonl", "rotating"])
@pytest.mark.parametrize("after", ["recover", "stays-full"])
def test_file_size_limit_mid_run(kind: str, after: str, tmp_path: Path) -> None:
    """A file size limit mid-run: runs finish, one stderr line, nothing lost once space is back."""
    path = tmp_path / "full.jsonl"
    with child(DISK_FULL, str(path), kind, "6000", after) as proc:
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    accepted, marks = parse_child(out)
    assert marks == ["FULL", "DONE"]
    one_line(err, "File too large")
    whole = check_prefix(snapshot(out), accepted)
    assert 0 < whole < len(accepted)
    if after == "recover":
        records = chaos.read_jsonl(path)
        settle(chaos.keys(records), accepted, faults=1)
    else:  # still full at exit: nothing more, nothing broken, no hang
        final = path.read_bytes()
        assert final.startswith(snapshot(out)[: len(final)])
        check_prefix(final, accepted)
        chaos.count(GROUP, inputs=1, faults=1, records=whole)


TMPFS_WRITER = """
    path, filler = sys.argv[1], sys.argv[2]
    quiet_flusher()
    handler = FileCallbackHandler(path, format="jsonl")
    for i in range(40):
        assert workloads.invoke_lcel([handler, REF]) == "Parrots are colorful birds."
    mark("FULL")
    sys.stdin.readline()  # the test frees space, then says so
    for i in range(3):
        workloads.invoke_lcel([handler, REF])
    handler.close()
    mark("DONE")
"""


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 256 kB tmpfs mounted for the test (skipped where mounting is not allowed)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                         capture_output=True, check=False)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_no_space_left_then_space_freed(small_tmpfs: Path) -> None:
    """ENOSPC on a full tmpfs: one stderr line; once space is freed every record lands."""
    path, filler = small_tmpfs / "run.jsonl", small_tmpfs / "filler"
    filler.write_bytes(b"\0" * (200 * 1024))  # leave ~50 kB for the log
    with child(TMPFS_WRITER, str(path), str(filler), stdin=subprocess.PIPE) as proc:
        head = wait_for_mark(proc, "FULL")
        whole = check_prefix(path.read_bytes(), parse_child(head)[0])
        assert 0 < whole < len(parse_child(head)[0])
        filler.unlink()  # space is back
        out, err = proc.communicate(b"go\n", timeout=120)
    assert proc.returncode == 0, err
    accepted, marks = parse_child(head + out)
    assert marks == ["FULL", "DONE"]
    one_line(err, "No space left")
    settle(chaos.keys(chaos.read_jsonl(path)), accepted, faults=1)


# -- the log deleted, replaced, or its directory removed ----------------------------------------


def test_log_renamed_away_repeatedly_while_threads_write(tmp_path: Path) -> None:
    """logrotate-style renames under 4 writer threads: every record whole, exactly once."""
    path = tmp_path / "app.jsonl"
    handler = FileCallbackHandler(path, format="jsonl")
    reference, lines = collector()
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            workloads.invoke_lcel([handler, reference])

    writers = [threading.Thread(target=write) for _ in range(4)]
    for t in writers:
        t.start()
    renames = 0
    try:
        for i in range(40):
            stop.wait(0.01)
            with contextlib.suppress(FileNotFoundError):
                os.rename(path, f"{path}.{i}")
                renames += 1
    finally:
        stop.set()
        for t in writers:
            t.join()
    handler.close()
    found = []
    for name in sorted(tmp_path.iterdir()):
        found += chaos.keys(chaos.read_jsonl(name))
    assert renames > 10
    settle(found, accepted(lines), faults=renames)


def test_log_replaced_by_another_file(tmp_path: Path) -> None:
    """A tool swaps a new file in at the log's path: later records append to it."""
    path = tmp_path / "app.jsonl"
    handler = FileCallbackHandler(path, format="jsonl")
    reference, lines = collector()
    workloads.invoke_lcel([handler, reference])
    before = len(lines)
    new = tmp_path / "new"
    new.write_text('{"kept": "header"}\n')
    os.replace(new, path)
    workloads.invoke_lcel([handler, reference])
    asyncio.run(workloads.astream_lcel_concurrent([handler, reference], n=5))
    handler.close()
    text = path.read_text()
    assert text.startswith('{"kept": "header"}\n')
    records = chaos.parse_jsonl(text.split("\n", 1)[1].encode())
    settle(chaos.keys(records), accepted(lines)[before:], faults=1)


def test_log_directory_removed_then_restored(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The log's directory vanishes mid-run: one stderr line; restored, everything lands."""
    logs = tmp_path / "logs"
    logs.mkdir()
    path = logs / "app.jsonl"
    handler = FileCallbackHandler(path, format="jsonl")
    reference, lines = collector()
    workloads.invoke_lcel([handler, reference])
    shutil.rmtree(logs)
    before = len(lines)
    for _ in range(5):
        assert workloads.invoke_lcel([handler, reference]) == "Parrots are colorful birds."
    logs.mkdir()
    handler.close()
    one_line(capsys.readouterr().err.encode(), "No such file")
    settle(chaos.keys(chaos.read_jsonl(path)), accepted(lines)[before:], faults=1)


# -- writes after close -------------------------------------------------------------------------


def collector() -> tuple[CallbackHandler, list[str]]:
    lines: list[str] = []
    return CallbackHandler(lines.append, JsonlFormatter(), processors=()), lines


def accepted(lines: list[str]) -> list[tuple[str, str]]:
    return [(r["run_id"], r["event"]) for r in map(json.loads, list(lines))]


@pytest.mark.parametrize("kind", ["jsonl", "text", "rotating"])
def test_close_while_threads_are_writing(kind: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """close() under 4 writer threads: runs unharmed, one line, everything accepted is in."""
    path = tmp_path / "closing.log"
    handler: Any = (RotatingFileCallbackHandler(path, max_bytes=8192, backup_count=500)
                    if kind == "rotating" else FileCallbackHandler(path, format=kind))
    lines: list[str] = []
    reference = CallbackHandler(lines.append, JsonlFormatter(), processors=())
    stop, errors = threading.Event(), []

    def write() -> None:
        try:
            while not stop.is_set():
                assert workloads.invoke_lcel([handler, reference]) == \
                    "Parrots are colorful birds."
        except BaseException as exc:  # the run must never see chainsink's failure
            errors.append(exc)

    writers = [threading.Thread(target=write) for _ in range(4)]
    for t in writers:
        t.start()
    while len(lines) < 200 and not errors:
        stop.wait(0.005)
    before = accepted(lines)  # the reference comes after chainsink's handler: already accepted
    handler.close()
    while len(lines) < len(before) + 100 and not errors:  # keep writing into the closed handler
        stop.wait(0.005)
    stop.set()
    for t in writers:
        t.join()
    assert errors == []
    one_line(capsys.readouterr().err.encode(), "after close")
    if kind == "text":
        text = path.read_text()
        starts = sum(1 for k in before if k[1] == "chain_start")
        assert text.count("> Entering new") >= starts
        chaos.count(GROUP, inputs=1, faults=1, records=starts)
        return
    records = chaos.read_rotated(path) if kind == "rotating" else chaos.read_jsonl(path)
    found = chaos.keys(records)
    missing = chaos.lost(before, found)
    chaos.count(GROUP, inputs=1, faults=1, records=len(before), lost=missing)
    assert missing == 0
    assert chaos.lost(found, accepted(lines)) == 0  # nothing that was not accepted


# -- stdout closed or broken -----------------------------------------------------------------

BROKEN_STDOUT = """
    path, style = sys.argv[1], sys.argv[2]
    quiet_flusher()
    console = StdOutCallbackHandler(style=style)
    log = FileCallbackHandler(path, format="jsonl")
    for i in range(150):
        assert workloads.invoke_lcel([console, log, REF]) == "Parrots are colorful birds."
    asyncio.run(workloads.astream_lcel_concurrent([console, log, REF], n=20))
    mark("RUN-COMPLETED")
"""


@pytest.mark.parametrize("style", ["classic", "detailed"])
@pytest.mark.parametrize("how", ["| head -2", "> /dev/full", ">&-"])
def test_broken_stdout_leaves_the_file_log_whole(style: str, how: str, tmp_path: Path) -> None:
    """stdout to head, a full device or closed: one stderr line, the JSONL log is whole."""
    path, ref = tmp_path / "app.jsonl", tmp_path / "ref.txt"
    with child(BROKEN_STDOUT, str(path), style, ref=str(ref), stdout=subprocess.DEVNULL,
               shell_suffix=" " + how) as proc:
        _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    accepted_keys, marks = parse_child(ref.read_bytes())
    assert marks == ["RUN-COMPLETED"]
    one_line(err, "stdout")
    settle(chaos.keys(chaos.read_jsonl(path)), accepted_keys, faults=1)


# -- a sink, formatter or processor that raises -----------------------------------------------


class Flaky(Sink):
    """A sink that fails every third write with a different kind of error."""

    ERRORS = (OSError("disk on fire"), RuntimeError("bug in a custom sink"),
              MemoryError(), RecursionError("too deep"), UnicodeEncodeError(
                  "ascii", "\u00e9", 0, 1, "nope"))

    def __init__(self) -> None:
        self.calls = 0
        self.kept: list[str] = []

    def write(self, text: str, event: Any = None) -> None:
        self.calls += 1
        if self.calls % 3 == 0:
            raise self.ERRORS[(self.calls // 3) % len(self.ERRORS)]
        self.kept.append(text)

    def flush(self) -> None:
        raise OSError("flush failed too")

    def close(self) -> None:
        pass


def _raising_formatter(event: Any) -> str:
    if event.event.endswith("_end"):
        raise ValueError("formatter bug")
    return "x\n"


def _raising_processor(event: Any) -> Any:
    if event.event == "llm_start":
        raise KeyError("processor bug")
    return event


async def test_raising_sinks_formatters_and_processors_harm_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A raising sink, formatter and processor: results unchanged, the file log complete."""
    path = tmp_path / "ok.jsonl"
    good = FileCallbackHandler(path, format="jsonl")
    reference, lines = collector()
    flaky = CallbackHandler(Flaky(), JsonlFormatter())
    bad_formatter = CallbackHandler(lambda text: None, _raising_formatter)
    bad_processor = CallbackHandler(lambda text: None, JsonlFormatter(),
                                    processors=[_raising_processor])
    handlers = [flaky, bad_formatter, bad_processor, good, reference]
    for _ in range(10):
        assert workloads.invoke_lcel(handlers) == "Parrots are colorful birds."
        assert workloads.error_chain(handlers).args == ("boom",)
    results = await workloads.astream_lcel_concurrent(handlers, n=10)
    assert results == [f"answer {i} for you" for i in range(10)]
    assert await workloads.ainvoke_retriever(handlers) == \
        "Parrots mimic speech and live in forests."
    good.close()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    kinds = collections.Counter(line.split(":")[1].strip() + ":" + line.split(":")[3].strip()
                                for line in chaos.chainsink_lines(err))
    assert all(n == 1 for n in kinds.values()), kinds  # each kind of failure said once
    assert len(chaos.chainsink_lines(err)) >= 3
    settle(chaos.keys(chaos.read_jsonl(path)), accepted(lines), faults=3)


# -- SIGINT and SIGTERM mid-run ---------------------------------------------------------------

ASYNC_AGENT = """
    path, rotating, nap = sys.argv[1], sys.argv[2] == "rotating", float(sys.argv[3])
    quiet_flusher()
    from langchain_core.tools import tool
    from langchain.agents import create_agent

    @tool
    async def slow_lookup(query: str) -> str:
        \"\"\"Look something up slowly.\"\"\"
        mark("TOOL-STARTED")
        await asyncio.sleep(nap)
        return "never"

    model = workloads.ToolCallingFakeChatModel(messages=iter([workloads._ai(
        "", workloads.make_usage(5, 6), tool_calls=[{"name": "slow_lookup", "args": {
            "query": "x"}, "id": "c1", "type": "tool_call"}]), workloads._ai("done",
            workloads.make_usage(1, 1))]))
    agent = create_agent(model, tools=[slow_lookup], system_prompt="look it up")
    handler = (RotatingFileCallbackHandler(path, max_bytes=4096, backup_count=500)
               if rotating else FileCallbackHandler(path, format="jsonl"))
    console = StdOutCallbackHandler(style="detailed")

    async def main():
        # finished traces first, so there are records queued (async: no flush at trace end)
        await workloads.astream_lcel_concurrent([handler, REF], n=8)
        async for _ in agent.astream({"messages": [{"role": "user", "content": "q"}]},
                                     config={"callbacks": [handler, console, REF]}):
            pass

    asyncio.run(main())
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("kind", ["jsonl", "rotating"])
def test_signal_during_an_async_agent(sig: signal.Signals, kind: str, tmp_path: Path) -> None:
    """SIGTERM/SIGINT mid create_agent tool: every accepted record written, every run closed.

    Python acts on a SIGINT the kernel gives to a worker thread only when the main thread next
    wakes (CPython's rule, chainsink's or not): the tool's nap is shorter than the wait then.
    A SIGTERM wakes it at once (chainsink's watcher; see the worker-thread tests below).
    """
    path = tmp_path / "agent.jsonl"
    nap = "60" if sig == signal.SIGTERM else "20"
    with child(ASYNC_AGENT, str(path), kind, nap) as proc:
        head = wait_for_mark(proc, "TOOL-STARTED")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    if sig == signal.SIGTERM:
        assert proc.returncode == -signal.SIGTERM  # still dies of SIGTERM
    else:
        assert proc.returncode != 0
    accepted_keys, _ = parse_child(head + out)
    records = chaos.read_rotated(path) if kind == "rotating" else chaos.read_jsonl(path)
    assert chaos.chainsink_lines(err.decode()) == []
    settle(chaos.keys(records), accepted_keys, faults=1)
    chaos.assert_runs_closed(records)
    closing = [r for r in records if r.get("aborted") or r.get("interrupted")]
    assert any(r["name"] == "slow_lookup" for r in closing)


OWN_SIGTERM = """
    path = sys.argv[1]
    quiet_flusher()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # the program's own
    handler = FileCallbackHandler(path, format="jsonl")
    from langchain_core.runnables import RunnableLambda

    def slow(x):
        mark("STARTED")
        time.sleep(60)

    chain = RunnableLambda(lambda x: x, name="first") | RunnableLambda(slow, name="slow")
    async def warm():
        await workloads.astream_lcel_concurrent([handler, REF], n=5)
    asyncio.run(warm())
    chain.invoke(1, config={"callbacks": [handler, REF]})
"""


def test_sigterm_with_the_programs_own_handler(tmp_path: Path) -> None:
    """The program's own SIGTERM handler exits: chainsink still writes and closes everything."""
    path = tmp_path / "own.jsonl"
    with child(OWN_SIGTERM, str(path)) as proc:
        head = wait_for_mark(proc, "STARTED")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    accepted_keys, _ = parse_child(head + out)
    records = chaos.read_jsonl(path)
    chaos.assert_runs_closed(records)
    slow = next(r for r in records if r["name"] == "slow" and r["event"] == "chain_error")
    assert slow["error"]["type"] == "SystemExit"
    settle(chaos.keys(records), accepted_keys, faults=1)


THREAD_SIGTERM = """
    path, deaf = sys.argv[1], sys.argv[2] == "deaf"
    quiet_flusher()
    handler = FileCallbackHandler(path, format="jsonl")
    from langchain_core.runnables import RunnableLambda

    def terminate_from_a_worker():
        mark("SLEEPING")
        # thread-directed, as the kernel may deliver a process's SIGTERM to any thread
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

    worker = threading.Thread(target=lambda: (go.wait(), terminate_from_a_worker()))
    go = threading.Event()
    worker.start()  # before the main thread stops taking SIGTERM: it takes it then

    async def nap(x):
        if deaf:  # a main thread that never takes SIGTERM (as some C libraries leave it)
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        go.set()
        if deaf:
            time.sleep(60)
        await asyncio.sleep(60)  # an idle event loop: asleep in a system call

    async def main():
        await workloads.astream_lcel_concurrent([handler, REF], n=5)
        chain = RunnableLambda(lambda x: x, name="first") | RunnableLambda(nap, name="nap")
        await chain.ainvoke(1, config={"callbacks": [handler, REF]})

    asyncio.run(main())
"""


@pytest.mark.parametrize("main_thread", ["asleep", "deaf"])
def test_sigterm_caught_by_a_worker_thread(main_thread: str, tmp_path: Path) -> None:
    """A SIGTERM the kernel gives a worker thread ends the process at once, as it did before
    chainsink's handler was installed: every accepted record written, every run closed.

    With the main thread asleep, chainsink wakes it and it dies of SIGTERM; with the main
    thread never taking SIGTERM, chainsink closes and flushes from its own thread and exits
    with status 143 (128 + SIGTERM).
    """
    path = tmp_path / "thread.jsonl"
    with child(THREAD_SIGTERM, str(path), main_thread) as proc:
        head = wait_for_mark(proc, "SLEEPING")
        out, err = proc.communicate(timeout=30)  # the nap is 60 s: a hang fails here
    expected = -signal.SIGTERM if main_thread == "asleep" else 128 + signal.SIGTERM
    assert proc.returncode == expected, err
    accepted_keys, _ = parse_child(head + out)
    records = chaos.read_jsonl(path)
    assert chaos.chainsink_lines(err.decode()) == []
    chaos.assert_runs_closed(records)
    aborted = [r["name"] for r in records if r.get("aborted")]
    assert "nap" in aborted and "RunnableSequence" in aborted, aborted
    settle(chaos.keys(records), accepted_keys, faults=1)


# -- interpreter exit with records queued ------------------------------------------------------

EXIT_QUEUED = """
    path, how = sys.argv[1], sys.argv[2]
    quiet_flusher()
    jsonl = FileCallbackHandler(path, format="jsonl")
    text = FileCallbackHandler(path + ".txt", format="text")
    rotating = RotatingFileCallbackHandler(path + ".rot", max_bytes=4096, backup_count=500)
    handlers = [jsonl, text, rotating, REF]
    asyncio.run(workloads.astream_lcel_concurrent(handlers, n=15))
    from langchain_core.runnables import RunnableLambda

    def leave(x):
        if how == "sys.exit":
            sys.exit(3)
        if how == "exception":
            raise RuntimeError("uncaught")
        return x

    async def last():
        await asyncio.gather(*(workloads.ainvoke_lcel(handlers) for _ in range(5)))
        chain = RunnableLambda(lambda x: x, name="outer") | RunnableLambda(leave, name="leave")
        await chain.ainvoke(1, config={"callbacks": handlers})
    asyncio.run(last())
    mark("END-OF-SCRIPT")
"""


@pytest.mark.parametrize("how", ["normal", "sys.exit", "exception"])
def test_exit_with_records_queued(how: str, tmp_path: Path) -> None:
    """Exit (normal, sys.exit, uncaught error) with records queued: all of them are written."""
    path = tmp_path / "exit.jsonl"
    with child(EXIT_QUEUED, str(path), how) as proc:
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == {"normal": 0, "sys.exit": 3, "exception": 1}[how], err
    accepted_keys, _ = parse_child(out)
    assert chaos.chainsink_lines(err.decode()) == []
    for records in (chaos.read_jsonl(path), chaos.read_rotated(f"{path}.rot")):
        chaos.assert_runs_closed(records)
        settle(chaos.keys(records), accepted_keys, faults=1)
    text = Path(f"{path}.txt").read_text()
    assert text.count("> Entering new") == sum(1 for _, e in accepted_keys if e == "chain_start")


# -- a log that blocks: the event loop must not ------------------------------------------------

BLOCKED = """
    path, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    handler = FileCallbackHandler(path, format="jsonl")  # a FIFO that nobody reads yet
    from langchain_core.runnables import RunnableLambda

    step = RunnableLambda(lambda x: x, name="echo")

    async def main():
        payload = "p" * size
        await asyncio.gather(*(step.ainvoke({"i": i, "payload": payload},
                                            config={"callbacks": [handler, REF]})
                               for i in range(count)))
        await workloads.astream_lcel_concurrent([handler, REF], n=10)

    asyncio.run(main())
    mark("LOOP-DONE")
"""


def _read_fifo(path: Path, sink: list[bytes]) -> None:
    with open(path, "rb") as f:  # blocks until the child opens it for writing
        sink.append(f.read())  # until the child closes it (at exit)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")
@pytest.mark.parametrize(("count", "size", "bound"), [
    (100, 1000, 60), (600, 19_000, 60)],
    ids=["300 kB queued", "23 MB queued"])
def test_a_log_that_blocks_never_blocks_the_event_loop(count: int, size: int, bound: int,
                                                       tmp_path: Path) -> None:
    """A log nobody can write yet (a FIFO): the asyncio run finishes; later every record lands."""
    path = tmp_path / "blocked.jsonl"
    os.mkfifo(path)
    data: list[bytes] = []
    with child(BLOCKED, str(path), str(count), str(size)) as proc:
        finished = threading.Event()
        head: list[bytes] = []

        def watch() -> None:
            head.append(wait_for_mark(proc, "LOOP-DONE"))
            finished.set()

        threading.Thread(target=watch, daemon=True).start()
        # a deadlock detector, not a timing check: the loop finishes in a second or two unread
        loop_finished = finished.wait(bound)
        reader = threading.Thread(target=_read_fifo, args=(path, data))
        reader.start()  # now unblock the writer either way
        out, err = proc.communicate(timeout=120)
        reader.join(60)
    assert loop_finished, "the event loop waited for a log nobody was reading"
    assert proc.returncode == 0, err
    accepted_keys, _ = parse_child(head[0] + out)
    records = chaos.parse_jsonl(data[0])
    settle(chaos.keys(records), accepted_keys, faults=1)
