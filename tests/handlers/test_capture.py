"""capture(), usage() and CHAINSINK_LOG record runs with no callbacks passed anywhere."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path
from typing import Any

import pytest
import workloads

import chainsink
from chainsink.cli._run import hook_installed


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def roots(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in recs if r["event"] == "chain_end" and r["parent_run_id"] is None]


def test_capture_records_the_block_only(tmp_path: Path) -> None:
    """A RAG chain inside capture(path) is fully recorded; a chain after the block is not."""
    path = tmp_path / "cap.jsonl"
    with chainsink.capture(path):
        answer = workloads.retriever_chain([])
    workloads.invoke_lcel([])  # after the block
    assert answer
    recs = records(path)
    kinds = {r["event"] for r in recs}
    assert {"retriever_start", "retriever_end", "chat_model_start", "llm_end"} <= kinds
    assert len(roots(recs)) == 1
    starts = {r["run_id"] for r in recs if r["event"].endswith("_start")}
    ends = {r["run_id"] for r in recs if r["event"].endswith(("_end", "_error"))}
    assert starts == ends


async def test_capture_is_per_task(tmp_path: Path) -> None:
    """With asyncio.gather, a task inside the block is recorded and a concurrent one outside not."""
    path = tmp_path / "tasks.jsonl"
    started = asyncio.Event()
    release = asyncio.Event()

    async def inside() -> None:
        with chainsink.capture(path):
            started.set()
            await release.wait()
            await workloads.ainvoke_lcel([])

    async def outside() -> None:
        await started.wait()  # runs while the capture block is open in the other task
        await workloads.ainvoke_retriever([])
        release.set()

    await asyncio.gather(inside(), outside())
    recs = records(path)
    assert len(roots(recs)) == 1
    assert not any(r["event"].startswith("retriever") for r in recs)


def test_captures_nest(tmp_path: Path) -> None:
    """An inner capture records its runs to both targets; the outer also records its own."""
    outer, inner = tmp_path / "outer.jsonl", tmp_path / "inner.jsonl"
    with chainsink.capture(outer):
        workloads.invoke_lcel([])
        with chainsink.capture(inner):
            workloads.retriever_chain([])
    assert len(roots(records(outer))) == 2
    assert len(roots(records(inner))) == 1


def test_capture_into_a_handler(tmp_path: Path) -> None:
    """capture() accepts any chainsink handler, and batch's executor threads are captured."""
    lines: list[str] = []
    handler = chainsink.CallbackHandler(lines.append)
    with chainsink.capture(handler) as got:
        assert got is handler
        workloads.batch_lcel_threaded([], n=8)
    recs = [json.loads(line) for line in lines]
    assert len(roots(recs)) == 8
    with pytest.raises(TypeError), chainsink.capture(42):
        pass


async def test_usage_counts_only_the_block() -> None:
    """usage() totals equal the reported usage of 20 concurrent runs, excluding runs outside."""
    async def noise() -> None:
        for _ in range(5):
            await workloads.ainvoke_lcel([])

    with chainsink.usage() as u:
        inside = asyncio.ensure_future(workloads.astream_lcel_concurrent([], n=20))
    outside = asyncio.ensure_future(noise())  # created after the block: not counted
    await asyncio.gather(inside, outside)
    expected = [workloads.concurrent_usage(i) for i in range(20)]
    assert u.calls == 20
    assert u.input_tokens == sum(e["input_tokens"] for e in expected)
    assert u.output_tokens == sum(e["output_tokens"] for e in expected)
    assert u.total_tokens == sum(e["total_tokens"] for e in expected)
    assert u.by_model[workloads.CHAT_MODEL_NAME]["calls"] == 20


def test_usage_under_threads() -> None:
    """usage() sums a threaded batch exactly."""
    with chainsink.usage() as u:
        workloads.batch_lcel_threaded([], n=16)
    expected = [workloads.concurrent_usage(i) for i in range(16)]
    assert u.total_tokens == sum(e["total_tokens"] for e in expected)
    assert u.as_dict()["calls"] == 16


def test_root_end_carries_trace_totals(tmp_path: Path) -> None:
    """A root run's end record carries its trace's token totals by model."""
    path = tmp_path / "u.jsonl"
    with chainsink.capture(path):
        workloads.retriever_chain([])
    root = roots(records(path))[0]
    assert root["usage_by_model"] == {workloads.CHAT_MODEL_NAME: {
        **workloads.RETRIEVER_USAGE, "calls": 1}}


async def test_capture_records_a_task_that_runs_after_the_block(tmp_path: Path) -> None:
    """A task created inside capture(path) that only runs after the block is recorded, and
    its trace is on disk once it is awaited."""
    path = tmp_path / "late.jsonl"
    with chainsink.capture(path):
        task = asyncio.ensure_future(workloads.ainvoke_lcel([]))
    assert await task
    recs = records(path)
    assert len(roots(recs)) == 1
    starts = {r["run_id"] for r in recs if r["event"].endswith("_start")}
    assert starts == {r["run_id"] for r in recs if r["event"].endswith(("_end", "_error"))}


def test_capture_lets_go_of_its_file_once_unused(tmp_path: Path) -> None:
    """The handler capture(path) made is freed (its file closed) once nothing can use it."""
    path = tmp_path / "free.jsonl"
    with chainsink.capture(path) as handler:
        workloads.invoke_lcel([])
    sink = weakref.ref(handler.sink)
    del handler
    assert sink() is None
    assert len(roots(records(path))) == 1


APP = textwrap.dedent("""
    import sys
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    for i in range(3):
        model = GenericFakeChatModel(messages=iter([AIMessage(content=f"answer {i}")]))
        chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()
        print(chain.invoke({"q": f"question {i}"}))
""")


def test_chainsink_log_env_records_a_process(tmp_path: Path) -> None:
    """A subprocess that never imports chainsink, run with CHAINSINK_LOG, leaves a complete log."""
    if not hook_installed():
        if os.environ.get("CHAINSINK_STRICT"):
            pytest.fail("chainsink-startup.pth is not installed: pip install '.[dev]'")
        pytest.skip("editable install: the start-up hook needs a regular `pip install .`")
    path = tmp_path / "env.jsonl"
    env = {**os.environ, "CHAINSINK_LOG": str(path)}
    proc = subprocess.run([sys.executable, "-c", APP], env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    assert proc.stdout.split() == ["answer", "0", "answer", "1", "answer", "2"]
    recs = records(path)
    assert len(roots(recs)) == 3
    assert {r["event"] for r in recs} >= {"chain_start", "chat_model_start", "llm_end",
                                          "chain_end"}
