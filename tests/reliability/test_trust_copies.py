"""Principle 10: drop-in means drop-in, down to ``copy``, ``deepcopy`` and ``pickle``.

A config or a model holding a handler gets copied: by the user, by pydantic's
``model_copy(deep=True)``, by code that deep-copies a RunnableConfig mid-run. Whatever works
with langchain-core's own ``StdOutCallbackHandler`` and ``FileCallbackHandler`` must work with
chainsink's, and the copy must keep working as a handler: a copied file handler writes whole
records to the same file, beside the original, without corrupting it. Where langchain-core's
raises, chainsink's may do better, never worse.

What langchain-core 1.x does (measured by the first test, so a change there is noticed):

=================  ========  ====  ======
handler            deepcopy  copy  pickle
=================  ========  ====  ======
StdOutCallback...  works     works works
FileCallback...    raises    works raises   (it holds an open file object)
=================  ========  ====  ======

chainsink's choice: ``copy`` and ``deepcopy`` give back the handler itself, as langchain-core's
own run-tracking handlers (its tracers, the ``astream_events`` handler) do: one sink, one set of
open runs, and a copy that lands in the same callback manager as its original is not called
twice. Pickling rebuilds the handler from its arguments: a file handler on the same path,
appending.
"""

from __future__ import annotations

import collections
import copy
import io
import pickle
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import chaos
import pytest
import targets
import workloads
from langchain_core.callbacks import FileCallbackHandler as LangChainFile
from langchain_core.callbacks import StdOutCallbackHandler as LangChainStdOut
from langchain_core.language_models import FakeListLLM
from langchain_core.runnables import RunnableConfig, RunnableLambda
from targets import TARGETS

from chainsink import FileCallbackHandler, StdOutCallbackHandler
from chainsink.handlers._verbose import VerboseStdOutHandler

GROUP = "drop-in copies"

OPS: dict[str, Callable[[Any], Any]] = {
    "deepcopy": copy.deepcopy,
    "copy": copy.copy,
    "pickle": lambda obj: pickle.loads(pickle.dumps(obj)),
}

#: langchain-core's behaviour, as the docstring's table says: (handler kind, op) -> works.
LANGCHAIN_CORE = {
    ("stdout", "deepcopy"): True, ("stdout", "copy"): True, ("stdout", "pickle"): True,
    ("file", "deepcopy"): False, ("file", "copy"): True, ("file", "pickle"): False,
}


@pytest.fixture(autouse=True)
def _quiet_loguru() -> Iterator[None]:
    with targets.quiet_loguru():
        yield


def holding(handler: Any, container: str) -> Any:
    """A config, a model or nothing around ``handler``."""
    if container == "config":
        return RunnableConfig(callbacks=[handler], tags=["copied"], metadata={"k": "v"})
    if container == "model":
        return FakeListLLM(responses=["ok"], callbacks=[handler])
    return handler


def held(obj: Any, container: str) -> Any:
    """The handler inside what :func:`holding` made (or its copy)."""
    if container == "config":
        return obj["callbacks"][0]
    if container == "model":
        return obj.callbacks[0]
    return obj


def run_with(handler: Any, container: str) -> None:
    """Run something the handler records: an LLMChain for a handler passed per request, the
    model itself for a handler the model holds."""
    if container == "model":
        FakeListLLM(responses=["ok"], callbacks=[handler]).invoke("p")
    else:
        workloads.llm_chain([handler])


def langchain_core_handler(kind: str, tmp: Path) -> Any:
    if kind == "stdout":
        return LangChainStdOut()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # langchain-core warns when not used with ``with``
        return LangChainFile(str(tmp / "langchain-core.log"))


@pytest.mark.parametrize("container", ["bare", "config", "model"])
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("kind", ["stdout", "file"])
def test_langchain_core_reference(kind: str, op: str, container: str, tmp_path: Path) -> None:
    """langchain-core's own handlers behave as the table above says."""
    handler = langchain_core_handler(kind, tmp_path)
    try:
        OPS[op](holding(handler, container))
        works = True
    except TypeError:
        works = False
    finally:
        if kind == "file":
            handler.close()
    assert works is LANGCHAIN_CORE[kind, op]


# -- chainsink's StdOutCallbackHandler and FileCallbackHandler --------------------------------

_DURATION = re.compile(r"\(\d+(\.\d+)? ms\)")


class Ours:
    """One of chainsink's drop-in handlers and a way to read what it wrote."""

    def __init__(self, name: str, tmp: Path, *, mode: str = "a") -> None:
        self.name = name
        self.kind = "stdout" if name.startswith("stdout") else "file"
        self.path = tmp / f"{name}.log"
        self.out = io.StringIO()
        style = name.split("-")[1]
        if self.kind == "stdout":
            self.handler: Any = StdOutCallbackHandler(style=style)
        else:
            self.handler = FileCallbackHandler(self.path, mode, format=style)

    def run(self, handler: Any, container: str) -> None:
        with redirect_stdout(self.out):
            run_with(handler, container)

    def text(self) -> str:
        if self.kind == "stdout":
            return _DURATION.sub("(t)", self.out.getvalue())
        self.handler.close()
        return self.path.read_bytes().decode("utf-8") if self.path.exists() else ""

    def units(self) -> list[Any]:
        """What was written, comparable across runs: lines of text, or JSONL records as
        (event, name, run_type), parsed strictly (a split or merged line fails here)."""
        text = self.text()
        if self.name == "file-jsonl":
            return [(r["event"], r["name"], r["run_type"])
                    for r in chaos.parse_jsonl(text.encode("utf-8"))]
        return text.splitlines(keepends=True)


OURS = ["stdout-classic", "stdout-detailed", "file-text", "file-ansi", "file-jsonl"]


def reference(name: str, container: str, tmp: Path) -> list[Any]:
    """What one run writes with a fresh handler of the same kind."""
    ref = Ours(name, tmp / "ref")
    (tmp / "ref").mkdir(exist_ok=True)
    ref.run(ref.handler, container)
    return ref.units()


@pytest.mark.parametrize("container", ["bare", "config", "model"])
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("name", OURS)
def test_copies_work_wherever_langchain_cores_do(name: str, op: str, container: str,
                                                 tmp_path: Path) -> None:
    """A copy (deep, shallow or pickled) of a config, a model or chainsink's handler itself
    works wherever langchain-core's does, and keeps recording beside the original: runs by the
    original, the copy and the original again write three whole runs' worth, in order."""
    ours = Ours(name, tmp_path)
    single = reference(name, container, tmp_path)
    original = holding(ours.handler, container)
    try:
        copied = held(OPS[op](original), container)
        error = None
    except Exception as exc:  # reported below, after the tally
        copied, error = None, exc
    ours.run(ours.handler, container)
    if copied is not None:
        ours.run(copied, container)
    ours.run(ours.handler, container)

    expected = single * 3  # a copy that cannot be made loses its run's records
    found = ours.units()
    chaos.count(GROUP, inputs=1, records=len(expected),
                lost=chaos.lost(map(repr, expected), map(repr, found))
                + chaos.lost(map(repr, found), map(repr, expected)))
    works = "works" if LANGCHAIN_CORE[ours.kind, op] else "raises (chainsink does better)"
    assert error is None, f"langchain-core's {works}; chainsink's raised {error!r}"
    assert found == expected


def test_an_unpickled_file_handler_appends_even_if_the_original_truncated(
        tmp_path: Path) -> None:
    """Pickling keeps the path, not ``mode="w"``: the rebuilt handler appends to the log the
    original started, rather than wiping it."""
    path = tmp_path / "run.jsonl"
    path.write_text("", encoding="utf-8")
    handler = FileCallbackHandler(path, "w", format="jsonl")
    workloads.llm_chain([handler])
    first = len(chaos.read_jsonl(path))
    rebuilt = pickle.loads(pickle.dumps(handler))
    assert isinstance(rebuilt, FileCallbackHandler)
    assert (rebuilt.filename, rebuilt.mode, rebuilt.format) == (str(path), "a", "jsonl")
    workloads.llm_chain([rebuilt])
    rebuilt.close()
    handler.close()
    records = chaos.read_jsonl(path)
    chaos.count(GROUP, inputs=1, records=2 * first, lost=max(0, 2 * first - len(records)))
    assert len(records) == 2 * first
    chaos.assert_runs_closed(records)


def test_pickling_keeps_the_handlers_settings(tmp_path: Path) -> None:
    """An unpickled handler is built with the original's arguments (style, colour, format,
    processors, raise_error), and the verbose handler stays the verbose handler."""
    stdout = pickle.loads(pickle.dumps(
        StdOutCallbackHandler("red", style="detailed", processors=(), raise_error=True)))
    assert (stdout.color, stdout.style, tuple(stdout.processors), stdout.raise_error) == (
        "red", "detailed", (), True)
    verbose = pickle.loads(pickle.dumps(VerboseStdOutHandler("blue")))
    assert type(verbose) is VerboseStdOutHandler
    assert (verbose.color, verbose.style) == ("blue", "detailed")
    file = pickle.loads(pickle.dumps(
        FileCallbackHandler(tmp_path / "x.log", "a", "green", format="ansi", style="detailed")))
    assert (file.color, file.format, file.style) == ("green", "ansi", "detailed")
    chaos.count(GROUP, inputs=3, records=3)


# -- every chainsink handler a config may hold -------------------------------------------------


def _targets() -> list[Any]:
    return [*TARGETS, targets.Target("stdout-verbose", _verbose, stdout=True)]


def _verbose(tmp: Path) -> tuple[Any, Callable[[], str]]:
    out = io.StringIO()
    handler = VerboseStdOutHandler()
    handler.chaos_stdout = out  # type: ignore[attr-defined]
    return handler, out.getvalue


def _count(target: Any, tmp: Path, runs: Callable[[Any], None]) -> int:
    handler, read = target.build(tmp)
    with targets.capturing(handler):
        runs(handler)
    return targets.check_output(target, read())


@pytest.mark.parametrize("container", ["config", "model"])
@pytest.mark.parametrize("target", _targets(), ids=lambda t: t.name)
def test_deep_copies_of_every_handler_keep_recording(target: Any, container: str,
                                                     tmp_path: Path) -> None:
    """Every chainsink handler survives ``copy.deepcopy`` of the config or model holding it,
    and the copy's runs land, whole, where the original's do."""
    single = _count(target, tmp_path, lambda h: run_with(h, container))
    handler, read = target.build(tmp_path)
    try:
        copied = held(copy.deepcopy(holding(handler, container)), container)
        error = None
    except Exception as exc:  # reported below, after the tally
        copied, error = None, exc
    with targets.capturing(handler):
        run_with(handler, container)
        if copied is not None:
            run_with(copied, container)
        run_with(handler, container)
    found = targets.check_output(target, read())
    chaos.count(GROUP, inputs=1, records=3 * single, lost=abs(3 * single - found))
    assert error is None, repr(error)
    assert found == 3 * single


def test_a_config_deep_copied_inside_a_run_stays_in_its_trace(tmp_path: Path) -> None:
    """Code that deep-copies its RunnableConfig mid-run and runs a child with the copy: the
    child's records are in the parent's trace, every run closes once, nothing is doubled."""
    path = tmp_path / "run.jsonl"
    handler = FileCallbackHandler(path, format="jsonl")
    child = FakeListLLM(responses=["ok"])

    def step(text: str, config: RunnableConfig) -> str:
        return child.invoke(text, copy.deepcopy(config))

    RunnableLambda(step).invoke("p", {"callbacks": [handler], "run_name": "root"})
    handler.close()
    records = chaos.read_jsonl(path)
    keys = chaos.keys(records)
    doubled = sum(n - 1 for n in collections.Counter(keys).values())
    root = next(r for r in records if r["event"] == "chain_start")
    strays = [r for r in records if r["trace_id"] != root["run_id"]]
    chaos.count(GROUP, inputs=1, records=len(records), lost=doubled + len(strays))
    assert [r["event"] for r in records] == ["chain_start", "llm_start", "llm_end", "chain_end"]
    assert not strays and not doubled
    chaos.assert_runs_closed(records)


def test_a_handler_that_cannot_be_pickled_is_left_intact(tmp_path: Path) -> None:
    """Pickling a handler that holds what cannot travel (a logger's stream, a rotating file's
    lock) fails with an error and leaves the handler and its log as they were."""
    target = targets.BY_NAME["rotating-jsonl"]
    handler, read = target.build(tmp_path)
    workloads.llm_chain([handler])
    with pytest.raises((TypeError, AttributeError, pickle.PicklingError)):
        pickle.dumps({"callbacks": [handler]})
    workloads.llm_chain([handler])
    found = targets.check_output(target, read())
    single = _count(target, tmp_path, lambda h: workloads.llm_chain([h]))
    chaos.count(GROUP, inputs=1, records=2 * single, lost=abs(2 * single - found))
    assert found == 2 * single


def test_a_config_deep_copied_inside_usage_counts_into_the_same_totals() -> None:
    """usage()'s totals survive a deep-copied config: the copy counts into the same block."""
    from langchain_core.language_models import FakeListLLM

    import chainsink

    llm = FakeListLLM(responses=["a", "b"])
    with chainsink.usage() as totals:
        config: Any = {"callbacks": [totals]}
        copied = copy.deepcopy(config)
        assert copy.copy(totals) is totals
        llm.invoke("x", config=copied)
        llm.invoke("y", config=config)
    assert totals.calls == 2
    chaos.count(GROUP, inputs=1, records=2, lost=2 - totals.calls)
