"""`chainsink run -- COMMAND` records a program that never imports chainsink."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chainsink.cli._run import hook_installed

APP = textwrap.dedent("""
    import sys
    from langchain_core.language_models import FakeListLLM
    from langchain_core.prompts import PromptTemplate
    chain = PromptTemplate.from_template("say {x}") | FakeListLLM(responses=["a", "b"])
    print(chain.invoke({"x": 1}), chain.invoke({"x": 2}))
    sys.exit(3)
""")


def test_run_records_the_command_and_keeps_its_exit_code(tmp_path: Path) -> None:
    """The command's runs land in --log, and its exit code is chainsink's exit code."""
    if not hook_installed():
        if os.environ.get("CHAINSINK_STRICT"):
            pytest.fail("chainsink-startup.pth is not installed: pip install '.[dev]'")
        pytest.skip("editable install: the start-up hook needs a regular `pip install .`")
    log = tmp_path / "run.jsonl"
    proc = subprocess.run([sys.executable, "-m", "chainsink", "run", "--log", str(log), "--",
                           sys.executable, "-c", APP],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.split() == ["a", "b"]
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    roots = [r for r in recs if r["event"] == "chain_end" and r["parent_run_id"] is None]
    assert len(roots) == 2


def test_run_without_a_command_is_a_usage_error() -> None:
    """`chainsink run` with nothing to run exits 2 with one line."""
    proc = subprocess.run([sys.executable, "-m", "chainsink", "run"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_run_a_missing_command_exits_127(tmp_path: Path) -> None:
    """A command that cannot be started gives one clear line and exit 127."""
    proc = subprocess.run([sys.executable, "-m", "chainsink", "run", "--log",
                           str(tmp_path / "x.jsonl"), "--", "no-such-command-xyz"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 127
    lines = [line for line in proc.stderr.splitlines() if "no-such-command-xyz" in line]
    assert len(lines) == 1 and "Traceback" not in proc.stderr
