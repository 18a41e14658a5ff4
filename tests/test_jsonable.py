"""Turning any Python value into JSON never raises and always yields valid JSON."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import math
import subprocess
import sys
import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from pydantic import BaseModel, SecretStr

from chainsink._jsonable import dumps, to_jsonable


class Hostile:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __str__(self) -> str:
        raise RuntimeError("no str")


class Model(BaseModel):
    name: str
    secret: SecretStr


@dataclasses.dataclass
class Point:
    x: int
    y: int


def _loads(data: bytes) -> object:
    data.decode("utf-8")  # valid UTF-8
    return json.loads(data)


def test_langchain_types_become_compact_dicts() -> None:
    """Messages, documents and LLM results serialize to readable dicts, not reprs."""
    result = LLMResult(generations=[[ChatGeneration(message=AIMessage(content="hi"))]])
    value = {
        "msgs": [HumanMessage(content="q"), ToolMessage(content="4", tool_call_id="t1")],
        "doc": Document(page_content="text", metadata={"source": "a"}),
        "result": result,
    }
    out = _loads(dumps(value))
    assert out["msgs"][0] == {"type": "human", "content": "q"}
    assert out["msgs"][1]["tool_call_id"] == "t1"
    assert out["doc"] == {"page_content": "text", "metadata": {"source": "a"}}
    assert out["result"]["generations"][0][0]["message"]["content"] == "hi"


def test_hostile_values_serialize() -> None:
    """Cycles, odd keys, surrogates, huge ints, NaN, bytes, sets and raising reprs all serialize."""
    cycle: list[object] = [1]
    cycle.append(cycle)
    deep: object = "leaf"
    for _ in range(5000):
        deep = [deep]
    value = {
        "cycle": cycle,
        (1, 2): "tuple key",
        uuid.UUID(int=1): "uuid key",
        "surrogate": "a\ud800b",
        "big": 2**200,
        "nan": math.nan,
        "inf": math.inf,
        "bytes": b"\xff\x00abc",
        "set": {1, 2},
        "decimal": decimal.Decimal("1.10"),
        "when": dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
        "hostile": Hostile(),
        "model": Model(name="n", secret=SecretStr("hunter2")),
        "point": Point(1, 2),
        "deep": deep,
        "exc": ValueError("bad", 3),
    }
    out = _loads(dumps(value))
    assert isinstance(out, dict)
    assert out["big"] == str(2**200)
    assert out["nan"] is None and out["inf"] is None
    assert out["hostile"] == "<unrepresentable Hostile>"
    assert "<cycle>" in json.dumps(out["cycle"])
    assert "hunter2" not in json.dumps(out)
    assert out["point"] == {"x": 1, "y": 2}
    assert out["decimal"] == "1.10"


json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.binary(),
    st.uuids(), st.datetimes(), st.decimals(), st.builds(Hostile),
)
values = st.recursive(
    json_leaves,
    lambda inner: st.one_of(
        st.lists(inner), st.tuples(inner, inner), st.frozensets(st.integers()),
        st.dictionaries(st.one_of(st.text(), st.integers(), st.uuids(), st.tuples(st.integers())),
                        inner),
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_any_value_dumps_to_valid_json(value: object) -> None:
    """Whatever hypothesis builds, dumps() returns valid UTF-8 JSON and to_jsonable plain types."""
    _loads(dumps(value))
    plain = to_jsonable(value)
    assert json.loads(json.dumps(plain, allow_nan=False)) is not None or plain is None


def test_ints_past_pythons_digit_limit_keep_the_line_json(tmp_path: Any) -> None:
    """An int too long for str() (over 4,300 digits) as a chain's whole output still makes a
    valid JSONL line: its size stands in for its digits, and the run's end is kept."""
    from langchain_core.runnables import RunnableLambda

    import chainsink

    assert to_jsonable(10**5000) == f"<int of {(10**5000).bit_length()} bits>"
    assert json.loads(dumps({"n": 10**5000, "m": 2**70})) == {
        "n": f"<int of {(10**5000).bit_length()} bits>", "m": str(2**70)}
    path = tmp_path / "big.jsonl"
    with chainsink.FileCallbackHandler(path, format="jsonl") as handler:
        RunnableLambda(lambda _: 10**5000).invoke(1, config={"callbacks": [handler]})
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["event"] for r in records] == ["chain_start", "chain_end"]
    assert records[1]["outputs"] == f"<int of {(10**5000).bit_length()} bits>"


def _child(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (nothing of chainsink imported yet)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)


def test_langchain_types_convert_before_any_handler_is_made() -> None:
    """A formatter called directly (no handler ever made) writes LangChain objects in the same
    compact form a handler's log has: meeting one teaches JSON conversion LangChain's types."""
    code = (
        "import uuid, json\n"
        "from langchain_core.messages import AIMessage\n"
        "from chainsink import Event\n"
        "from chainsink.formatters import JsonlFormatter\n"
        "e = Event('llm_end', 0.0, uuid.uuid4(), None, uuid.uuid4(), 0, 'm', 'llm', [], {},\n"
        "          {'outputs': AIMessage(content='hi', id='x')})\n"
        "print(json.dumps(json.loads(JsonlFormatter()(e))['outputs']))\n")
    out = _child(code)
    assert out.stdout.strip() == '{"type": "ai", "content": "hi", "id": "x"}', out.stderr


def test_a_users_langchain_subclass_converts_like_its_base_from_threads() -> None:
    """The first object met may be a user's subclass of a LangChain type, in any of several
    threads: every line has the compact form."""
    code = (
        "import uuid, json, threading\n"
        "from langchain_core.messages import AIMessage\n"
        "from chainsink import Event\n"
        "from chainsink.formatters import JsonlFormatter\n"
        "class Mine(AIMessage):\n"
        "    pass\n"
        "fmt, out = JsonlFormatter(), []\n"
        "def work():\n"
        "    for i in range(300):\n"
        "        e = Event('llm_end', 0.0, uuid.uuid4(), None, uuid.uuid4(), 0, 'm', 'llm',\n"
        "                  [], {}, {'outputs': Mine(content='hi')})\n"
        "        out.append(json.loads(fmt(e))['outputs'])\n"
        "threads = [threading.Thread(target=work) for _ in range(4)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "print(len(out), sum(o == {'type': 'ai', 'content': 'hi'} for o in out))\n")
    out = _child(code)
    assert out.stdout.split() == ["1200", "1200"], out.stderr
