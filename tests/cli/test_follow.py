"""``chainsink tail -f``: runs appended while it follows show up, across rotation and truncation.

Each test drives a real ``python -m chainsink tail -f`` process while real chains append to the
log through chainsink's own file handlers; waits are bounded loops with generous timeouts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from langchain_core.runnables import RunnableLambda

import chainsink

from ._support import PipeReader, cli_env, ctrl_c

WAIT = 20.0  # seconds; "within a second or two", with room for a slow machine


class Tail:
    """A ``chainsink tail -f`` child process and everything it has printed so far."""

    def __init__(self, *args: Any) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chainsink", "tail", "-f", "--no-color", *map(str, args)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=cli_env())
        assert self.proc.stdout is not None
        self.out = PipeReader(self.proc.stdout)

    def text(self) -> str:
        """Everything printed so far."""
        return self.out.text()

    def wait_for(self, needle: str) -> bool:
        """Wait (bounded) until ``needle`` has been printed."""
        return bool(self.out.wait(lambda text: needle in text, self.proc, WAIT))

    def interrupt(self) -> tuple[int, str]:
        """Press Ctrl-C; return the exit code and stderr."""
        code = ctrl_c(self.proc, WAIT)
        self.out.join(WAIT)
        assert self.proc.stderr is not None
        return code, self.proc.stderr.read().decode()


def run_step(handler: Any, name: str) -> None:
    """A real one-step chain run, logged through ``handler`` (on disk when invoke returns)."""
    RunnableLambda(lambda x: x, name=name).invoke("hello", config={"callbacks": [handler]})


def test_follow_shows_runs_appended_after_start_and_after_rotation(tmp_path: Path) -> None:
    """Runs appended after start and after rotation show up; Ctrl-C exits 130."""
    log = tmp_path / "app.jsonl"
    handler = chainsink.FileCallbackHandler(log, format="jsonl")
    run_step(handler, "step_before_start")
    tail = Tail(log)
    try:
        assert tail.wait_for("> Entering new step_before_start chain"), tail.text()
        run_step(handler, "step_after_start")
        assert tail.wait_for("> Finished step_after_start chain"), tail.text()
        os.rename(log, tmp_path / "app.jsonl.1")
        run_step(handler, "step_after_rotation")  # the handler re-creates app.jsonl
        assert log.exists()
        assert tail.wait_for("> Finished step_after_rotation chain"), tail.text()
    finally:
        handler.close()
        code, err = tail.interrupt()
    assert code == 130
    assert "Traceback" not in err
    assert err == ""
    assert tail.text().count("> Entering new step_after_start chain") == 1


def test_follow_keeps_up_with_a_rotating_handler(tmp_path: Path) -> None:
    """With RotatingFileCallbackHandler rotating on every run, each new run still shows up."""
    log = tmp_path / "rot.jsonl"
    handler = chainsink.RotatingFileCallbackHandler(log, max_bytes=600, backup_count=3)
    run_step(handler, "rotating_step_0")
    tail = Tail(log)
    try:
        assert tail.wait_for("> Finished rotating_step_0 chain"), tail.text()
        for i in range(1, 4):
            run_step(handler, f"rotating_step_{i}")
            assert tail.wait_for(f"> Finished rotating_step_{i} chain"), tail.text()
        assert (tmp_path / "rot.jsonl.1").exists()
    finally:
        handler.close()
        code, err = tail.interrupt()
    assert code == 130
    assert "Traceback" not in err


def test_follow_survives_truncation_and_waits_for_a_half_written_line(tmp_path: Path) -> None:
    """Truncation rereads from the start; a half-written line shows once, when complete."""
    log = tmp_path / "app.jsonl"
    handler = chainsink.FileCallbackHandler(log, format="jsonl")
    for i in range(3):
        run_step(handler, f"old_step_{i}")
    tail = Tail(log)
    try:
        assert tail.wait_for("> Finished old_step_2 chain"), tail.text()
        with open(log, "r+b") as f:
            f.truncate(0)
        run_step(handler, "step_after_truncation")
        assert tail.wait_for("> Finished step_after_truncation chain"), tail.text()

        record = orjson.loads(log.read_bytes().splitlines()[0])
        record.update(name="half_written_step", run_id=record["run_id"][:-4] + "abcd")
        line = orjson.dumps(record) + b"\n"
        with open(log, "ab") as f:
            f.write(line[:40])
        time.sleep(0.6)  # let tail poll while the line is incomplete
        with open(log, "ab") as f:
            f.write(line[40:])
        assert tail.wait_for("> Entering new half_written_step chain"), tail.text()
    finally:
        handler.close()
        code, err = tail.interrupt()
    assert code == 130
    assert "Traceback" not in err
    assert err.splitlines() == [f"chainsink: {log}: truncated; reading it again from the start"]
    assert tail.text().count("half_written_step") == 1
