"""Every script in examples/ runs as documented and prints what it is about."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

# One string each example's stdout must contain.
EXPECTED = {
    "01_llmchain_callbacks.py": "> Entering new LLMChain chain...",
    "02_calculator_agent.py": '"outputs": "Answer: 1.1769067372187674"',
    "03_custom_handler.py": "chainsink handler, token: atoms?",
    "04_async_handlers.py": ", 4 traces:",
    "05_file_log_to_html.py": "&gt; Entering new LLMChain chain...",
    "06_lcel_stream_jsonl.py": "tokens joined from the log == streamed answer: True",
}


def test_every_example_has_an_expected_string() -> None:
    """Each example script is listed in EXPECTED (and there is at least one)."""
    assert EXAMPLES
    assert sorted(EXPECTED) == [path.name for path in EXAMPLES]


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(script: Path, tmp_path: Path) -> None:
    """The example exits 0 with a temp dir as argv[1] and prints its expected string."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONIOENCODING"] = "utf-8"
    out_dir = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(script), str(out_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    report = f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.returncode == 0, report
    assert proc.stdout.strip(), f"no stdout\nstderr:\n{proc.stderr}"
    assert EXPECTED[script.name] in proc.stdout, proc.stdout
