"""The classic ReAct calculator agent, logged to the console and to a JSONL file.

Re-creates the "What is 2 raised to the 0.235 power?" agent from the LangChain callbacks docs
with ``langchain_classic``'s ``create_react_agent`` + ``AgentExecutor``, an inline ReAct prompt
(there is no prompt hub offline), a safe ``calculator`` tool and a ``FakeListLLM`` scripted to
call the tool once and then give a ``Final Answer``.

Two chainsink handlers are passed as request callbacks, so every nested run (the executor, the
agent's LLM calls, the tool) reaches them:

* ``chainsink.StdOutCallbackHandler(style="detailed")`` prints each run as it starts and ends;
* ``chainsink.FileCallbackHandler(path, format="jsonl")`` writes one JSON record per event,
  which the script reads back to summarise the trace.

Run from the repository root (with chainsink installed, e.g. ``pip install -e .``)::

    python examples/02_calculator_agent.py [OUTPUT_DIR]

The JSONL log goes to ``OUTPUT_DIR/agent.jsonl`` (a fresh temporary directory by default).
"""

from __future__ import annotations

import ast
import json
import operator
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path

from langchain_classic.agents import AgentExecutor, create_react_agent
from langchain_core.language_models import FakeListLLM
from langchain_core.prompts import PromptTemplate
from langchain_core.tools import tool

import chainsink

warnings.simplefilter("ignore", DeprecationWarning)

REACT_TEMPLATE = """Answer the following questions as best you can. \
You have access to the following tools:

{tools}

Use the following format:

Question: the input question you must answer
Thought: you should always think about what to do
Action: the action to take, should be one of [{tool_names}]
Action Input: the input to the action
Observation: the result of the action
... (this Thought/Action/Action Input/Observation can repeat N times)
Thought: I now know the final answer
Final Answer: the final answer to the original input question

Begin!

Question: {input}
Thought:{agent_scratchpad}"""

# What the model "says" on each call: first it picks the tool, then it answers.
SCRIPT = [
    " I need to use a calculator to solve this.\nAction: calculator\nAction Input: 2^0.235",
    " I now know the final answer\nFinal Answer: 1.1769067372187674",
]

# Record keys left out of the summary printed at the end (ids, timestamps, display hints).
HIDDEN_KEYS = {
    "v", "ts", "run_id", "parent_run_id", "trace_id", "tags", "metadata", "display", "log"
}

_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_evaluate(node.operand))
    raise ValueError(f"unsupported expression: {ast.dump(node)}")


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression such as '2^0.235' or '(3 + 4) * 5'."""
    value = _evaluate(ast.parse(expression.strip().replace("^", "**"), mode="eval"))
    return f"Answer: {value}"


def output_dir() -> Path:
    if len(sys.argv) > 1:
        path = Path(sys.argv[1])
        path.mkdir(parents=True, exist_ok=True)
        return path
    return Path(tempfile.mkdtemp(prefix="chainsink-example-"))


def main() -> None:
    log_path = output_dir() / "agent.jsonl"

    llm = FakeListLLM(responses=SCRIPT)
    tools = [calculator]
    agent = create_react_agent(llm, tools, PromptTemplate.from_template(REACT_TEMPLATE))
    executor = AgentExecutor(agent=agent, tools=tools)

    console = chainsink.StdOutCallbackHandler(style="detailed")
    with chainsink.FileCallbackHandler(str(log_path), mode="w", format="jsonl") as jsonl:
        result = executor.invoke(
            {"input": "What is 2 raised to the 0.235 power?"},
            config={"callbacks": [console, jsonl]},
        )

    print(f"\nfinal answer: {result['output']}")

    records = [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines()]
    print(f"\n{len(records)} JSONL records written to {log_path}")
    counts = Counter(record.get("event") for record in records)
    for kind, count in sorted(counts.items(), key=lambda item: str(item[0])):
        print(f"  {kind:<16} {count}")
    for record in records:
        if record.get("event") in {"tool_start", "tool_end", "agent_action", "agent_finish"}:
            fields = {key: value for key, value in record.items() if key not in HIDDEN_KEYS}
            print(f"  {json.dumps(fields, ensure_ascii=False)}")


if __name__ == "__main__":
    main()
