"""Every event reaches every sink, whatever its values.

Values whose ``==`` or ``in`` raise or answer with something that is not a bool (numpy arrays,
pandas frames and series, objects whose ``__eq__``, ``__bool__`` or ``__contains__`` raise, and
containers and strings that refuse all three) travel through a real LCEL chain as its input,
a tool's output, a step's output and a metadata value. Every handler kind (the console classic
and detailed, text and ANSI files, JSONL, loguru, structlog, stdlib logging) writes every event
it renders, as many as the JSONL handler next to it, and chainsink reports nothing on stderr.

Size caps hold for any shape: a tree about a million leaves wide still makes a record under the
Truncator's 256 KiB cap, and the work grows with what is kept, not with the tree.

Each test tallies under "odd values"; ``lost`` counts events a sink did not get.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import chaos
import numpy as np
import pandas as pd
import pytest
import structlog
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from loguru import logger as loguru_logger

from chainsink import (
    CallbackHandler,
    FileCallbackHandler,
    LoggingCallbackHandler,
    LoguruCallbackHandler,
    StdOutCallbackHandler,
    StructlogCallbackHandler,
)
from chainsink._jsonable import to_jsonable
from chainsink._schema import Event
from chainsink.formatters import JsonlFormatter
from chainsink.processors import Truncator

GROUP = "odd values"
CAP = 256 * 1024


# -- values that will not compare, test membership or say whether they are true -------------


class EqRaises:
    """``==`` raises."""

    def __eq__(self, other: object) -> bool:
        raise TypeError("== refused")

    __hash__ = object.__hash__


class EqArray:
    """``==`` answers with an array (whose truth is ambiguous), as numpy's do."""

    def __eq__(self, other: object) -> Any:
        return np.array([True, False])

    def __ne__(self, other: object) -> Any:
        return np.array([False, True])

    __hash__ = object.__hash__


class BoolRaises:
    """``bool()`` raises."""

    def __bool__(self) -> bool:
        raise TypeError("truth refused")


class ContainsRaises:
    """``in``, ``len()`` and iteration raise."""

    def __contains__(self, item: object) -> bool:
        raise TypeError("in refused")

    def __len__(self) -> int:
        raise TypeError("len refused")

    def __iter__(self) -> Iterator[Any]:
        raise TypeError("iteration refused")


class HostileDict(dict):  # type: ignore[type-arg]
    """A real dict whose ``==``, ``in`` and truth raise."""

    def __eq__(self, other: object) -> bool:
        raise TypeError("dict == refused")

    def __ne__(self, other: object) -> bool:
        raise TypeError("dict != refused")

    def __contains__(self, key: object) -> bool:
        raise TypeError("dict in refused")

    def __bool__(self) -> bool:
        raise TypeError("dict truth refused")

    __hash__ = None  # type: ignore[assignment]


class HostileList(list):  # type: ignore[type-arg]
    """A real list whose ``==``, ``in`` and truth raise."""

    def __eq__(self, other: object) -> bool:
        raise TypeError("list == refused")

    def __ne__(self, other: object) -> bool:
        raise TypeError("list != refused")

    def __contains__(self, item: object) -> bool:
        raise TypeError("list in refused")

    def __bool__(self) -> bool:
        raise TypeError("list truth refused")

    __hash__ = None  # type: ignore[assignment]


class HostileStr(str):
    """A real str whose ``==``, ``in`` and truth raise."""

    def __eq__(self, other: object) -> bool:
        raise TypeError("str == refused")

    def __ne__(self, other: object) -> bool:
        raise TypeError("str != refused")

    def __contains__(self, item: object) -> bool:  # type: ignore[override]
        raise TypeError("str in refused")

    def __bool__(self) -> bool:
        raise TypeError("str truth refused")

    __hash__ = str.__hash__


class StrRaises(str):
    """A real str whose ``str()``, ``repr()`` and ``format()`` raise (its characters are all
    there is to show)."""

    def __str__(self) -> str:
        raise RuntimeError("str() refused")

    def __repr__(self) -> str:
        raise RuntimeError("repr() refused")

    def __format__(self, spec: str) -> str:
        raise RuntimeError("format() refused")


def as_text(value: Any) -> str:
    """``str(value)``, a str (subclass too) as its own characters."""
    return str.__str__(value) if isinstance(value, str) else str(value)


ODD_VALUES: dict[str, Callable[[], Any]] = {
    "ndarray": lambda: np.arange(6).reshape(2, 3),
    "empty ndarray": lambda: np.array([]),
    "numpy scalar": lambda: np.int64(7),
    "dataframe": lambda: pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}),
    "series": lambda: pd.Series([1.5, 2.5]),
    "== raises": EqRaises,
    "== answers an array": EqArray,
    "bool() raises": BoolRaises,
    "in raises": ContainsRaises,
    "dict refusing ==, in, bool": lambda: HostileDict(a=1, nested=[1, 2]),
    "list refusing ==, in, bool": lambda: HostileList([1, "two", {"k": 3}]),
    "str refusing ==, in, bool": lambda: HostileStr("odd-string-value"),
    "str refusing str(), repr(), format()": lambda: StrRaises("odd-unprintable-value"),
}


# -- the handler kinds, each with a way to count the events it wrote ------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_DETAILED_HEAD = re.compile(
    r"^\s*> (?:Entering new \S+ chain\.\.\.|Finished \S+ chain\.|Tool \S+ (?:started|finished))",
    re.M)


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


class Kind:
    """One handler kind: builds the handler, then counts the events in what it wrote."""

    def __init__(self, name: str, tmp: Path) -> None:
        self.name = name
        self.tmp = tmp
        self.stdout = io.StringIO()
        self.cleanup: list[Callable[[], None]] = []
        self.handler = self._build()

    def _build(self) -> Any:
        name, tmp = self.name, self.tmp
        if name.startswith("stdout-"):
            return StdOutCallbackHandler(style=name.removeprefix("stdout-"))
        if name.startswith("file-"):
            fmt, _, style = name.removeprefix("file-").partition("-")
            self.path = tmp / f"{uuid.uuid4().hex}.{fmt}"
            return FileCallbackHandler(self.path, format=fmt, style=style or "classic")
        if name == "loguru":
            self.path = tmp / f"{uuid.uuid4().hex}.loguru.jsonl"
            token = uuid.uuid4().hex
            sink = loguru_logger.add(self.path, serialize=True, level="TRACE", catch=False,
                                     filter=lambda r: r["extra"].get("odd") == token)
            self.cleanup.append(lambda: loguru_logger.remove(sink))
            return LoguruCallbackHandler(loguru_logger.bind(odd=token))
        if name == "structlog":
            logger = structlog.wrap_logger(structlog.PrintLogger(self.stdout), processors=[
                structlog.processors.add_log_level, structlog.processors.JSONRenderer()])
            return StructlogCallbackHandler(logger)
        assert name == "logging"
        logger = logging.getLogger(f"odd.{uuid.uuid4().hex}")
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        logger.addHandler(logging.StreamHandler(self.stdout))
        return LoggingCallbackHandler(logger)

    def capturing(self) -> contextlib.AbstractContextManager[Any]:
        if self.name.startswith("stdout-"):
            return contextlib.redirect_stdout(self.stdout)
        return _nothing()

    def output(self) -> str:
        with contextlib.suppress(AttributeError):
            self.handler.close()
        for done in self.cleanup:
            done()
        if hasattr(self, "path"):
            return self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        return self.stdout.getvalue()

    def count(self, text: str, reference: list[dict[str, Any]], output: Any
              ) -> tuple[int, int]:
        """(events this kind should have written, events found in its output); ``output`` is
        what the tool returned."""
        kinds = [r["event"] for r in reference]
        if self.name in ("file-jsonl", "loguru", "structlog", "logging"):
            lines = [line for line in text.split("\n") if line]
            if self.name != "logging":  # the others write JSON lines
                assert all(isinstance(json.loads(line), dict) for line in lines)
            return len(kinds), len(lines)
        plain = _ANSI.sub("", text)
        if self.name.endswith("detailed"):
            wanted = sum(k in ("chain_start", "chain_end", "tool_start", "tool_end")
                         for k in kinds)
            return wanted, len(_DETAILED_HEAD.findall(plain))
        # classic: a line per chain start and end, and the tool's output as str() shows it
        wanted = kinds.count("chain_start") + kinds.count("chain_end") + kinds.count("tool_end")
        found = (plain.count("> Entering new ") + plain.count("> Finished chain.")
                 + plain.count(as_text(output)))
        return wanted, found


KINDS = ("stdout-classic", "stdout-detailed", "file-text", "file-ansi", "file-ansi-detailed",
         "file-jsonl", "loguru", "structlog", "logging")


def tool_output(value: Any) -> Any:
    """What the chain's tool returns: ``value`` itself, except a list langchain-core's tool
    machinery cannot take (it asks the list for its truth): that one comes in a dict."""
    return {"value": value} if isinstance(value, HostileList) else value


def odd_chain(value: Any) -> Any:
    """An LCEL chain whose tool returns ``value`` and whose last step returns it too."""

    @tool
    def odd_tool(query: str) -> Any:
        """Return the odd value."""
        return tool_output(value)

    return (RunnableLambda(lambda _: "q", name="ask") | odd_tool
            | RunnableLambda(lambda _: value, name="emit"))


@pytest.fixture(autouse=True)
def _quiet_loguru() -> Iterator[None]:
    loguru_logger.remove()
    try:
        yield
    finally:
        loguru_logger.remove()


@pytest.mark.parametrize("value_name", list(ODD_VALUES))
@pytest.mark.parametrize("kind_name", KINDS)
def test_odd_values_reach_every_sink(kind_name: str, value_name: str, tmp_path: Path) -> None:
    """A value refusing ==, in or bool() as input, tool output, step output and metadata value:
    the handler writes every event it renders, as many as the JSONL handler beside it, and
    chainsink reports nothing on stderr."""
    value = ODD_VALUES[value_name]()
    kind = Kind(kind_name, tmp_path)
    reference_path = tmp_path / "reference.jsonl"
    reference = FileCallbackHandler(reference_path, format="jsonl")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), kind.capturing():
        out = odd_chain(value).invoke(value, config={
            "callbacks": [kind.handler, reference], "metadata": {"odd": value}})
    assert out is value
    text = kind.output()
    reference.close()
    records = chaos.read_jsonl(reference_path, cap=chaos.LINE_CAP)
    chaos.assert_runs_closed(records)
    assert len(records) == 8  # 4 runs (sequence, ask, tool, emit): a start and an end each
    wanted, found = kind.count(text, records, tool_output(value))
    chaos.count(GROUP, inputs=1, records=wanted, lost=max(0, wanted - found))
    assert not chaos.chainsink_lines(err.getvalue()), err.getvalue()
    assert found == wanted, text


# -- size caps for any shape ------------------------------------------------------------------


def wide_tree(width: int, depth: int = 10) -> Any:
    """A tree ``depth`` levels deep with ``width`` children per level: 4**10 is about a
    million leaves. Subtrees are shared, so it is cheap to build, but every walk of it sees
    every leaf."""
    node: Any = "leaf"
    for _ in range(depth):
        node = [node] * width
    return node


def _work(step: Callable[[], Any]) -> float:
    """CPU time of ``step``: the least of five runs, without the garbage collector's pauses."""
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(5):
            start = time.process_time()
            step()
            best = min(best, time.process_time() - start)
    finally:
        gc.enable()
    return best


def test_a_million_leaf_tree_makes_a_capped_record_with_bounded_work() -> None:
    """A depth-10 tree with 4 children per level as a chain's output and as metadata: every
    JSONL record stays under the 256 KiB cap, and doubling the tree's width (8 children per
    level: a billion leaves) doubles neither the Truncator's work nor to_jsonable's with a
    budget (a ratio, not a time: both are bounded by what they keep)."""
    lines: list[str] = []
    handler = CallbackHandler(lines.append, JsonlFormatter())  # default processors
    chain = RunnableLambda(lambda x: wide_tree(4), name="grow")
    tree = chain.invoke(1, config={"callbacks": [handler]})
    RunnableLambda(lambda x: x, name="carry").invoke(1, config={
        "callbacks": [handler], "metadata": {"tree": tree}})
    assert len(lines) == 4  # each step's start and end
    records = chaos.parse_jsonl("".join(lines).encode())
    assert max(len(line.encode()) for line in lines) < CAP
    grown = next(r for r in records if r["name"] == "grow" and r["event"] == "chain_end")
    assert grown["outputs"][0][0]  # the tree's shape is kept from the top down
    carried = next(r for r in records if r["name"] == "carry" and r["event"] == "chain_end")
    assert carried["metadata"]["tree"][0][0] and carried["outputs"] == 1

    truncator = Truncator()

    def cut(value: Any) -> Callable[[], Any]:
        event = Event("chain_end", 0.0, uuid.uuid4(), None, uuid.uuid4(), 0, "grow", "chain",
                      [], {}, {"outputs": value})
        return lambda: truncator(event)

    wider = wide_tree(8)  # twice as wide at every level
    ratio = _work(cut(wider)) / _work(cut(tree))
    budget = 256 * 1024
    jsonable = (_work(lambda: to_jsonable(wider, max_bytes=budget))
                / _work(lambda: to_jsonable(tree, max_bytes=budget)))
    chaos.count(GROUP, inputs=2, records=len(records))
    assert ratio < 1.6, ratio  # twice the work would be 2
    assert jsonable < 1.6, jsonable
    assert len(json.dumps(to_jsonable(wider, max_bytes=budget))) < budget
