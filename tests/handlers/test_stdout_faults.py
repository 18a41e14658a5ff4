"""stdout that breaks or closes never reaches the user's run."""

from __future__ import annotations

import subprocess
import sys
import textwrap

PIPED = textwrap.dedent("""
    import sys
    from chainsink import StdOutCallbackHandler
    from langchain_core.language_models import FakeListLLM
    from langchain_core.prompts import PromptTemplate
    handler = StdOutCallbackHandler(style=sys.argv[1])
    chain = PromptTemplate.from_template("say {x}") | FakeListLLM(responses=["ok"] * 5000)
    results = [chain.invoke({"x": i}, config={"callbacks": [handler]}) for i in range(3000)]
    assert results == ["ok"] * 3000
    sys.stderr.write("RUN-COMPLETED\\n")
""")


def test_broken_pipe_to_head() -> None:
    """`python app.py | head -1`: the run completes, one chainsink line on stderr, no traceback."""
    for style in ("classic", "detailed"):
        proc = subprocess.run(
            f"{sys.executable} -c '{PIPED}' {style} | head -3",
            shell=True, capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0
        assert proc.stdout.strip() != ""
        err = proc.stderr
        assert "RUN-COMPLETED" in err, err
        assert "Traceback" not in err and "Exception ignored" not in err, err
        assert len([line for line in err.splitlines() if line.startswith("chainsink:")]) == 1


CLOSED = textwrap.dedent("""
    import sys
    from chainsink import StdOutCallbackHandler
    from langchain_core.language_models import FakeListLLM
    from langchain_core.prompts import PromptTemplate
    handler = StdOutCallbackHandler()
    sys.stdout.close()
    chain = PromptTemplate.from_template("say {x}") | FakeListLLM(responses=["ok"] * 10)
    for i in range(5):
        assert chain.invoke({"x": i}, config={"callbacks": [handler]}) == "ok"
    sys.stderr.write("RUN-COMPLETED\\n")
""")


def test_closed_stdout() -> None:
    """A closed sys.stdout: the run completes and stderr gets one chainsink line."""
    proc = subprocess.run([sys.executable, "-c", CLOSED], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "RUN-COMPLETED" in proc.stderr and "Traceback" not in proc.stderr
    assert len([line for line in proc.stderr.splitlines()
                if line.startswith("chainsink:")]) == 1
