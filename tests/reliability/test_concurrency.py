"""Threads, asyncio tasks and processes writing one log, with rotation in the middle of it.

Every test runs a reference handler beside chainsink's that keeps what chainsink accepted in
memory; the log must hold exactly those records (none lost, none doubled), every line whole.
tests/test_file_sink.py and tests/test_rotating.py cover threads on a bare sink, separate
interpreters, and forked children writing raw lines; here the writers are real chains, all
kinds at once, in fork, spawn and forkserver children too.
"""

from __future__ import annotations

import asyncio
import collections
import json
import multiprocessing
import os
import threading
import time
from pathlib import Path
from typing import Any

import chaos
import pytest
import workers
import workloads
from langchain_core.prompts import PromptTemplate
from langchain_core.runnables import RunnableLambda

from chainsink import CallbackHandler, FileCallbackHandler, RotatingFileCallbackHandler
from chainsink.formatters import JsonlFormatter

GROUP = "concurrency"
needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def reference(processors: Any = ()) -> tuple[CallbackHandler, list[str]]:
    """A handler that keeps, in memory, every record it is given (through ``processors``:
    none by default; the default ones, with None, to order records as a default handler
    does: a token's record is written when the next token comes)."""
    lines: list[str] = []
    return CallbackHandler(lines.append, JsonlFormatter(), processors=processors), lines


def accepted_keys(lines: list[str]) -> list[tuple[str, str]]:
    return [(r["run_id"], r["event"]) for r in map(json.loads, lines)]


def settle(found: list[tuple[str, str]], accepted: list[tuple[str, str]]) -> None:
    """The log holds exactly the accepted records; count what was checked and lost."""
    missing = chaos.lost(accepted, found)
    chaos.count(GROUP, records=len(found), lost=missing)
    assert missing == 0, f"{missing} accepted records are not in the log"
    assert collections.Counter(found) == collections.Counter(accepted)


def everything_at_once(handler: Any, ref: CallbackHandler) -> int:
    """Threaded batch, threads invoking, gathered ainvoke/astream, sync steps under ainvoke.

    Returns how many traces were started.
    """
    sync_step = PromptTemplate.from_template("{q}") | RunnableLambda(
        lambda p: p.to_string().upper(), name="sync_step")  # runs in an executor under ainvoke

    def in_thread(n: int) -> None:
        for _ in range(3):
            workloads.invoke_lcel([handler, ref])
        workloads.batch_lcel_threaded([handler, ref], n=8)

    async def in_loop() -> None:
        await asyncio.gather(
            workloads.astream_lcel_concurrent([handler, ref], n=20),
            *(workloads.ainvoke_lcel([handler, ref]) for _ in range(10)),
            *(sync_step.ainvoke({"q": f"q{i}"}, config={"callbacks": [handler, ref]})
              for i in range(10)),
            *(workloads.ainvoke_retriever([handler, ref]) for _ in range(3)))

    threads = [threading.Thread(target=in_thread, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    asyncio.run(in_loop())
    for t in threads:
        t.join()
    return 4 * (3 + 8) + 20 + 10 + 10 + 3


def test_threads_and_tasks_on_one_jsonl_file(tmp_path: Path) -> None:
    """4 threads (invoke, batch) and 43 tasks (astream, ainvoke, sync steps) on one file."""
    path = tmp_path / "all.jsonl"
    handler = FileCallbackHandler(path, format="jsonl")
    ref, lines = reference()
    traces = everything_at_once(handler, ref)
    handler.close()
    records = chaos.read_jsonl(path)
    chaos.assert_runs_closed(records)
    assert len({r["trace_id"] for r in records}) == traces
    settle(chaos.keys(records), accepted_keys(lines))
    chaos.count(GROUP, inputs=traces)


def test_threads_and_tasks_on_one_rotating_file(tmp_path: Path) -> None:
    """The same load on a file rotating every 8 kB: many files, every record in one piece."""
    path = tmp_path / "rot.jsonl"
    handler = RotatingFileCallbackHandler(path, max_bytes=8192, backup_count=500)
    ref, lines = reference()
    traces = everything_at_once(handler, ref)
    handler.close()
    files = chaos.log_files(path)
    assert len(files) > 20
    for name in files:
        data = Path(name).read_bytes()
        assert len(data) <= 8192 or data.count(b"\n") == 1, name
    records = chaos.read_rotated(path)
    chaos.assert_runs_closed(records)
    settle(chaos.keys(records), accepted_keys(lines))
    chaos.count(GROUP, inputs=traces)


def test_rotation_under_one_event_loop_keeps_order(tmp_path: Path) -> None:
    """40 gathered astreams through a rotating file: each trace's records stay in order."""
    path = tmp_path / "order.jsonl"
    handler = RotatingFileCallbackHandler(path, max_bytes=4096, backup_count=500)
    ref, lines = reference(processors=None)
    asyncio.run(workloads.astream_lcel_concurrent([handler, ref], n=40))
    handler.close()
    records = chaos.read_rotated(path)
    by_trace: dict[str, list[str]] = collections.defaultdict(list)
    for rec in records:
        by_trace[rec["trace_id"]].append(rec["event"])
    expected: dict[str, list[str]] = collections.defaultdict(list)
    for rec in map(json.loads, lines):
        expected[rec["trace_id"]].append(rec["event"])
    assert by_trace == expected
    settle(chaos.keys(records), accepted_keys(lines))
    chaos.count(GROUP, inputs=40)


# -- several processes ----------------------------------------------------------------------


def run_children(methods: list[str], tmp_path: Path, path: Path, n: int, **kwargs: Any
                 ) -> list[str]:
    """Start ``n`` children per start method, let them all write at once (a gate file), and
    return their reference files once every one has exited 0."""
    gate = tmp_path / "go"
    refs, procs = [], []
    for method in methods:
        ctx = multiprocessing.get_context(method)
        for i in range(n):
            ref = str(tmp_path / f"ref-{method}-{i}.json")
            refs.append(ref)
            procs.append(ctx.Process(target=workers.write_traces, args=(str(path), ref),
                                     kwargs={**kwargs, "gate": str(gate)}))
    for p in procs:
        p.start()
    deadline = time.monotonic() + 120  # a hung child fails the exit-code check below
    for ref in refs:  # every child is ready: open the gate
        while (not os.path.exists(ref + ".ready") and time.monotonic() < deadline
               and all(p.exitcode is None for p in procs)):
            time.sleep(0.01)
    gate.touch()
    for p in procs:
        p.join(180)
    assert [p.exitcode for p in procs] == [0] * len(procs)
    return refs


def parent_writes(path: Path, rotating: dict[str, int] | None
                  ) -> tuple[Any, CallbackHandler, list[str]]:
    """The parent's own handler on the log, used once (so its file and lock are open)."""
    handler = workers.make_handler(str(path), rotating)
    ref, lines = reference()
    workloads.invoke_lcel([handler, ref])
    return handler, ref, lines


@pytest.mark.parametrize("rotating", [None, {"max_bytes": 16_384, "backup_count": 500}],
                         ids=["jsonl", "rotating"])
def test_fork_and_spawn_children_share_one_file(rotating: dict[str, int] | None,
                                                tmp_path: Path) -> None:
    """3 forked and 3 spawned children (threads and tasks each) and the parent, one log."""
    path = tmp_path / "shared.jsonl"
    parent, parent_ref, parent_lines = parent_writes(path, rotating)
    methods = ["spawn", *(["fork"] if hasattr(os, "fork") else [])]
    refs = run_children(methods, tmp_path, path, 3, rotating=rotating, quiet_flusher=False,
                        per_thread=6)
    workloads.invoke_lcel([parent, parent_ref])  # the parent goes on after its children
    parent.close()
    records = chaos.read_rotated(path) if rotating else chaos.read_jsonl(path)
    if rotating:
        assert len(chaos.log_files(path)) > 5
    chaos.assert_runs_closed(records)
    settle(chaos.keys(records), workers.read_refs(refs) + accepted_keys(parent_lines))
    chaos.count(GROUP, inputs=len(methods) * 3 * (2 * 6 + 6) + 2)


@needs_fork
def test_forked_children_inherit_a_file_handler(tmp_path: Path) -> None:
    """A FileCallbackHandler made and used before fork, then used by 4 forked children."""
    path = tmp_path / "inherited.jsonl"
    parent, _, parent_lines = parent_writes(path, None)
    refs = run_children(["fork"], tmp_path, path, 4, handler=parent)
    parent.close()
    records = chaos.read_jsonl(path)
    chaos.assert_runs_closed(records)
    settle(chaos.keys(records), workers.read_refs(refs) + accepted_keys(parent_lines))
    chaos.count(GROUP, inputs=4 * 12 + 1)


@needs_fork
def test_forked_children_inherit_a_rotating_handler(tmp_path: Path) -> None:
    """A RotatingFileCallbackHandler used before fork, then by 4 forked children: none lost."""
    path = tmp_path / "inherited-rot.jsonl"
    rotating = {"max_bytes": 4096, "backup_count": 500}
    parent, _, parent_lines = parent_writes(path, rotating)
    refs = run_children(["fork"], tmp_path, path, 4, handler=parent, threads=3, per_thread=10)
    parent.close()
    records = chaos.read_rotated(path)
    settle(chaos.keys(records), workers.read_refs(refs) + accepted_keys(parent_lines))
    chaos.count(GROUP, inputs=4 * 36 + 1)


def test_forkserver_children_flush_at_exit(tmp_path: Path) -> None:
    """Children started by forkserver (the default from Python 3.14) flush queued records."""
    path = tmp_path / "forkserver.jsonl"
    refs = run_children(["forkserver"], tmp_path, path, 2)
    records = chaos.read_jsonl(path)
    settle(chaos.keys(records), workers.read_refs(refs))
    chaos.count(GROUP, inputs=2 * 12)
