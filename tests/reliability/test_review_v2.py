"""Defects an adversarial review of the reading side v2 (serve, query) and the SIGTERM watcher
found, one test each (each failed before its fix; "was:" says what happened then)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from cli._support import ctrl_c

REPO = Path(__file__).resolve().parents[2]
WAIT = 30.0  # a bound for a slow machine, never a measure


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("FORCE_COLOR", "NO_COLOR", "CHAINSINK_LOG", "CHAINSINK_DEBUG")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _record(event: str, run_id: str, name: str, ts: str, **extra: object) -> str:
    rec = {"v": 1, "ts": ts, "event": event, "run_id": run_id, "parent_run_id": None,
           "trace_id": run_id, "name": name, "run_type": "chain", "tags": [], "metadata": {},
           **extra}
    return json.dumps(rec) + "\n"


def _run(run_id: str, name: str, second: int = 0) -> str:
    return (_record("chain_start", run_id, name, f"2026-12-01T00:00:{second:02d}.000000Z",
                    inputs={"q": 1})
            + _record("chain_end", run_id, name, f"2026-12-01T00:00:{second:02d}.500000Z",
                      outputs={"a": 1}, duration_ms=500.0))


# -- chainsink serve -------------------------------------------------------------------------


def _served_at(proc: subprocess.Popen[bytes],
               deadline: float) -> tuple[tuple[str, int] | None, bytes]:
    """Where a ``chainsink serve`` child listens, read from its stderr before ``deadline``
    (None if it exited or never said), and the stderr read so far."""
    assert proc.stderr is not None
    os.set_blocking(proc.stderr.fileno(), False)
    err = b""
    while time.monotonic() < deadline and proc.poll() is None:
        select.select([proc.stderr], [], [], 0.1)
        err += proc.stderr.read() or b""
        found = re.search(rb"at http://([\d.]+):(\d+)/ \(Ctrl-C", err)
        if found:
            return (found.group(1).decode(), int(found.group(2))), err
    return None, err


def _trace_status(url: tuple[str, int], trace: str, deadline: float) -> int:
    """The status of ``GET /trace?id=TRACE``, asked again until 200 or ``deadline``."""
    status = 0
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection(*url, timeout=WAIT)
        conn.request("GET", f"/trace?id={trace}", headers={"Host": f"127.0.0.1:{url[1]}"})
        status = conn.getresponse().status
        conn.close()
        if status == 200:
            break
        time.sleep(0.2)
    return status


def test_serve_fifo_among_inputs_does_not_stop_indexing_the_other_logs(tmp_path: Path) -> None:
    """A FIFO named beside a log is refused or read, but the log is still indexed and served:
    was: ``_read_once`` takes the FIFO (no size) for gzip data, fails with "Illegal seek",
    and the index thread stops, so the log's traces are never listed."""
    log = tmp_path / "app.jsonl"
    log.write_text(_run("good-trace", "good"))
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)

    def feed() -> None:  # the writer the FIFO's open waits for
        # a server that refuses the FIFO leaves it to the clean-up's reader, gone at once
        with contextlib.suppress(BrokenPipeError), open(fifo, "w") as f:
            f.write(_run("fifo-trace", "fifo", 1))

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    proc = subprocess.Popen([sys.executable, "-m", "chainsink", "serve", "--port", "0",
                             str(log), str(fifo)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
    try:
        deadline = time.monotonic() + WAIT
        url, err = _served_at(proc, deadline)
        if url is None:  # refused outright is a fix too, if it said why in one line
            assert proc.poll() is not None, err
            assert b"Traceback" not in err and b"pipe.jsonl" in err, err
            return
        status = _trace_status(url, "good-trace", deadline)
        assert proc.stderr is not None
        with_more = proc.stderr.read() or b""
        assert status == 200, (err + with_more).decode(errors="replace")
        assert b"indexing stopped" not in err + with_more
    finally:
        ctrl_c(proc, WAIT)
        if writer.is_alive():  # the server never opened the FIFO: let the writer's open return
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
            writer.join(5)
            os.close(fd)


def test_serve_a_directory_of_many_rotated_logs_within_the_usual_descriptor_limit(
        tmp_path: Path) -> None:
    """``chainsink serve DIR`` on a directory with more rotated generations than the process
    may hold descriptors (400 files under ``ulimit -n 256``) still listens and serves the
    newest traces: was: every file is opened up front and kept open (a ``Segment`` each), so
    it prints a "Too many open files" line per file and then cannot even listen."""
    import resource

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.jsonl").write_text(_run("r0", "n"))
    for i in range(1, 401):
        (logs / f"app.jsonl.{i}").write_text(_run(f"r{i}", "n"))

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    proc = subprocess.Popen([sys.executable, "-m", "chainsink", "serve", "--port", "0",
                             str(logs)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=_env(), preexec_fn=limit)  # noqa: PLW1509
    try:
        deadline = time.monotonic() + WAIT
        url, err = _served_at(proc, deadline)
        assert proc.stderr is not None
        err += proc.stderr.read() or b""
        assert url is not None, err[-2000:].decode(errors="replace")
        assert _trace_status(url, "r0", deadline) == 200
    finally:
        ctrl_c(proc, WAIT)


# -- chainsink query -------------------------------------------------------------------------


def test_query_csv_on_a_terminal_never_sends_log_escape_sequences(tmp_path: Path) -> None:
    """``chainsink query --format csv`` on a terminal shows log content as text (as the table
    and json formats do): was: a run name holding OSC/SGR sequences reaches the terminal raw,
    setting its title and colours (``_query._csv`` writes cells without ``inert``)."""
    pytest.importorskip("duckdb")
    log = tmp_path / "app.jsonl"
    log.write_text(_run("t1", "x\x1b]0;pwned\x07\x1b[31mred\x1b[0m"))
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "chainsink", "query", "--format", "csv",
                             "select name from events", str(log)],
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=_env())
    os.close(slave)
    out = b""
    deadline = time.monotonic() + WAIT * 2
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.wait(WAIT) == 0, out
    assert b"red" in out, out
    assert b"\x1b" not in out and b"\x07" not in out, out


# -- the SIGTERM watcher ---------------------------------------------------------------------

_WORKER_PROGRAM = textwrap.dedent("""
    import asyncio, os, signal, sys, threading, time
    import chainsink
    from langchain_core.runnables import RunnableLambda

    mode, path = sys.argv[1], sys.argv[2]
    handler = chainsink.FileCallbackHandler(path, format="jsonl")
    RunnableLambda(lambda x: x, name="warm").invoke(1, config={"callbacks": [handler]})
    if mode == "asyncio":  # a program that used an event loop's signal handling once
        async def main():
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGUSR1, lambda: None)
            await asyncio.sleep(0.01)
            loop.remove_signal_handler(signal.SIGUSR1)
        asyncio.run(main())

    def work():
        print("tid", threading.get_native_id(), flush=True)
        time.sleep(60)

    def chain(x):
        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        if mode == "fork":  # a short-lived child, as a pool or a helper makes one
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
        worker.join()
        return x

    RunnableLambda(chain, name="outer").invoke(1, config={"callbacks": [handler]})
""")


def _sigterm_worker_thread(tmp_path: Path, mode: str) -> tuple[int | None, str]:
    """Run the program above, send SIGTERM to its worker thread while the main thread waits
    in ``join()``; return its exit code (None if still running 10 s later) and its log."""
    log = tmp_path / "run.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", _WORKER_PROGRAM, mode, str(log)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=_env(), text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("tid "), line
        time.sleep(0.3)  # inside the 2 s after the fork
        os.kill(int(line.split()[1]), signal.SIGTERM)  # delivered to that thread
        try:
            code: int | None = proc.wait(10)
        except subprocess.TimeoutExpired:
            code = None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return code, log.read_text() if log.exists() else ""


def test_sigterm_soon_after_a_fork_still_ends_the_process(tmp_path: Path) -> None:
    """A SIGTERM caught by a worker thread within ``FORK_QUIET`` (2 s) of a ``fork()`` ends the
    process, with the run closed as aborted: was: the watcher drops it (``_watch_signals``
    skips SIGTERM while ``_quiet_until``), the main thread sleeps on in ``join()`` and the
    process lives on, where without chainsink it died at once."""
    code, log = _sigterm_worker_thread(tmp_path, "fork")
    assert code == -signal.SIGTERM or code == 128 + signal.SIGTERM, code
    assert "SIGTERM" in log


def test_sigterm_after_an_event_loop_used_signal_handlers_still_ends_the_process(
        tmp_path: Path) -> None:
    """After an asyncio loop added and removed a signal handler (which sets the wake-up fd to
    -1), a SIGTERM caught by a worker thread still ends the process: was: the watcher's pipe
    is gone for good, so chainsink's handler, installed in place of SIG_DFL, waits for the
    main thread to run Python again and the process hangs."""
    code, log = _sigterm_worker_thread(tmp_path, "asyncio")
    assert code == -signal.SIGTERM or code == 128 + signal.SIGTERM, code
    assert "SIGTERM" in log
