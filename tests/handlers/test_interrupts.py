"""Interrupted and abandoned runs are closed in the log, never left open."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

AGENT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[2])
    from chainsink import FileCallbackHandler
    from langchain_classic.agents import AgentExecutor, create_react_agent
    from langchain_core.language_models import FakeListLLM
    from langchain_core.prompts import PromptTemplate
    from langchain_core.tools import tool
    import workloads

    @tool
    def slow_lookup(query: str) -> str:
        \"\"\"Look something up slowly.\"\"\"
        print("TOOL-STARTED", flush=True)
        time.sleep(60)
        return "never"

    llm = FakeListLLM(responses=["Thought: look\\nAction: slow_lookup\\nAction Input: x"])
    prompt = PromptTemplate.from_template(workloads.REACT_PROMPT)
    agent = create_react_agent(llm, [slow_lookup], prompt)
    executor = AgentExecutor(agent=agent, tools=[slow_lookup])
    handler = FileCallbackHandler(sys.argv[1], format="jsonl")
    executor.invoke({"input": "q"}, config={"callbacks": [handler]})
""")


def closed_runs(path: Path) -> tuple[set[str], dict[str, dict[str, Any]]]:
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    starts = {r["run_id"] for r in recs if r["event"].endswith("_start")}
    ends = {r["run_id"]: r for r in recs if r["event"].endswith(("_end", "_error"))}
    return starts, ends


def test_sigint_mid_agent_closes_runs_as_interrupted(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT) during an agent's tool call: every open run ends, marked interrupted."""
    path = tmp_path / "agent.jsonl"
    tests_dir = str(Path(__file__).resolve().parent.parent)
    proc = subprocess.Popen([sys.executable, "-c", AGENT, str(path), tests_dir],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "TOOL-STARTED"
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    assert proc.returncode != 0  # KeyboardInterrupt ended the program
    starts, ends = closed_runs(path)
    assert starts and starts == set(ends)
    tool_end = next(r for r in ends.values() if r["run_type"] == "tool")
    assert tool_end["event"] == "tool_error" and tool_end["interrupted"] is True
    assert tool_end["error"]["type"] == "KeyboardInterrupt"
    root = next(r for r in ends.values() if r["parent_run_id"] is None)
    assert root["interrupted"] is True


ABANDONED = textwrap.dedent("""
    import sys, threading, time
    from chainsink import FileCallbackHandler
    from langchain_core.runnables import RunnableLambda
    handler = FileCallbackHandler(sys.argv[1], format="jsonl")
    chain = RunnableLambda(lambda x: x) | RunnableLambda(lambda x: time.sleep(600), name="stuck")
    threading.Thread(target=chain.invoke, args=(1,), kwargs={"config": {"callbacks": [handler]}},
                     daemon=True).start()
    time.sleep(1.0)
    print("EXITING", flush=True)
""")


def test_runs_open_at_exit_are_closed_as_aborted(tmp_path: Path) -> None:
    """Runs still open when the interpreter exits get a closing record marked aborted."""
    path = tmp_path / "abandoned.jsonl"
    proc = subprocess.run([sys.executable, "-c", ABANDONED, str(path)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0 and "EXITING" in proc.stdout, proc.stderr
    starts, ends = closed_runs(path)
    assert starts == set(ends)
    stuck = [r for r in ends.values() if r["name"] == "stuck"]
    assert stuck and stuck[0]["aborted"] is True and stuck[0]["event"] == "chain_error"
    # children close before their parents
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    order = [r["name"] for r in recs if r.get("aborted")]
    assert order.index("stuck") < order.index("RunnableSequence")


TERMINATED = textwrap.dedent("""
    import sys, time
    from chainsink import FileCallbackHandler
    from langchain_core.runnables import RunnableLambda
    handler = FileCallbackHandler(sys.argv[1], format="jsonl")

    def slow(x):
        print("STARTED", flush=True)
        time.sleep(60)

    chain = RunnableLambda(lambda x: x) | RunnableLambda(slow, name="slow")
    chain.invoke(1, config={"callbacks": [handler]})
""")


def test_sigterm_flushes_and_closes_open_runs(tmp_path: Path) -> None:
    """SIGTERM mid-run: queued records are written, open runs aborted, exit status stays -15."""
    path = tmp_path / "term.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", TERMINATED, str(path)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "STARTED"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM
    starts, ends = closed_runs(path)
    assert starts == set(ends) and len(starts) == 3
    slow = next(r for r in ends.values() if r["name"] == "slow")
    assert slow["aborted"] is True and "SIGTERM" in slow["error"]["message"]


def test_sigterm_hook_leaves_user_handlers_alone(tmp_path: Path) -> None:
    """A program with its own SIGTERM handler keeps it: chainsink installs nothing over it."""
    code = textwrap.dedent("""
        import signal, sys
        def mine(signum, frame):
            print("MINE", flush=True)
        signal.signal(signal.SIGTERM, mine)
        from chainsink import FileCallbackHandler
        FileCallbackHandler(sys.argv[1], format="jsonl")
        print(signal.getsignal(signal.SIGTERM) is mine)
    """)
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.jsonl")],
                          capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip() == "True"
