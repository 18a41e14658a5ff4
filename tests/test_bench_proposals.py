"""The handler benchmark's PROPOSED targets (bench/bench_handlers.py, ``PROPOSALS``): rules whose
reference is a sum of candidates or that allow microseconds per event on top of the factor, the
workloads each proposal judges, and ``ref_fastpath_durable``, the fast path writing each trace
when its root run ends, on real langchain-core runs. No timing is measured here."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import RunnableLambda

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import _workloads as workloads
import bench_handlers as bench

from chainsink.cli._workloads import ScriptedChatModel

ALL = ("sync_stream", "astream10", "batch_threaded", "agent", "invoke_heavy", "secrets",
       "create_agent")


def _work(name: str) -> Any:
    secrets = ("sk-planted",) if name == "secrets" else ()
    return workloads.Workload(name, name, lambda callbacks: None, secrets=secrets)


def _results(deltas: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    return {"workloads": {name: {"delta_us_per_event": d} for name, d in deltas.items()}}


def _rows(deltas: dict[str, dict[str, list[float]]], rules: tuple[bench.Rule, ...],
          *names: str) -> list[dict[str, Any]]:
    return bench.targets(_results(deltas), [_work(n) for n in names or tuple(deltas)], rules)


# -- sums of references and microseconds on top ---------------------------------------------


SUM = bench.Rule("4'", "cs_loguru <= 1.30x (ref_loguru_floor+cs_file_jsonl)", "cs_loguru",
                 ("ref_loguru_floor", "cs_file_jsonl"), 1.3, ("agent",))


def test_a_sum_reference_passes_at_its_limit_and_fails_just_over() -> None:
    """d(candidate) <= factor x (d(a) + d(b)), each part its own median."""
    parts = {"ref_loguru_floor": [100.0, 90.0, 110.0], "cs_file_jsonl": [60.0, 61.0, 1.0]}
    limit = 1.3 * (100.0 + 60.0)
    at = _rows({"agent": {**parts, "cs_loguru": [limit]}}, (SUM,))
    over = _rows({"agent": {**parts, "cs_loguru": [limit + 0.01]}}, (SUM,))
    assert len(at) == 1 and at[0]["pass"] is True
    assert at[0]["ref"] == pytest.approx(160.0)
    assert at[0]["allowed"] == pytest.approx(limit)
    assert at[0]["parts"] == {"ref_loguru_floor": 100.0, "cs_file_jsonl": 60.0}
    assert len(over) == 1 and over[0]["pass"] is False


def test_a_sum_reference_prints_its_parts() -> None:
    """The reference is named ``a+b``; the detail shows each part and their sum."""
    found = _rows({"agent": {"ref_loguru_floor": [107.0], "cs_file_jsonl": [94.0],
                             "cs_loguru": [183.9]}}, (SUM,))
    assert found[0]["reference"] == "ref_loguru_floor+cs_file_jsonl"
    assert bench.target_line(found[0]) == (
        "[PASS] 4' cs_loguru <= 1.30x (ref_loguru_floor+cs_file_jsonl) (agent): 183.9 us vs "
        "107.0 + 94.0 = 201.0 us (0.91x)")


@pytest.mark.parametrize("missing", ["ref_loguru_floor", "cs_file_jsonl", "cs_loguru"])
def test_a_sum_reference_is_skipped_when_any_part_did_not_run(missing: str) -> None:
    """No row when the candidate or either part of the sum has no median there."""
    deltas = {"ref_loguru_floor": [100.0], "cs_file_jsonl": [60.0], "cs_loguru": [1.0]}
    del deltas[missing]
    assert _rows({"agent": deltas}, (SUM,)) == []
    assert _rows({"agent": {**deltas, missing: []}}, (SUM,)) == []


LESS = bench.Rule("1''", "x <= +30% over y and the check", "x", ("y", "checked"), 1.3, ("w",),
                  percent=True, less=("unchecked",))


def test_a_reference_less_a_candidate() -> None:
    """d(candidate) <= factor x (d(y) + d(checked) - d(unchecked)): the check's cost is the
    checked fast path's over the unchecked one; at the limit PASS, just over FAIL; the detail
    shows each part; no row when the subtracted candidate did not run."""
    parts = {"y": [40.0, 41.0, 39.0], "checked": [45.0], "unchecked": [20.0]}
    limit = 1.3 * (40.0 + 45.0 - 20.0)
    at = _rows({"w": {**parts, "x": [limit]}}, (LESS,))
    over = _rows({"w": {**parts, "x": [limit + 0.01]}}, (LESS,))
    assert at[0]["pass"] is True and over[0]["pass"] is False
    assert at[0]["ref"] == pytest.approx(65.0)
    assert at[0]["reference"] == "y+checked-unchecked"
    assert at[0]["less"] == {"unchecked": 20.0}
    assert at[0]["detail"] == "84.5 us vs 40.0 + 45.0 - 20.0 = 65.0 us (+30%)"
    assert _rows({"w": {"y": [40.0], "checked": [45.0], "x": [1.0]}}, (LESS,)) == []


def test_plus_us_is_added_after_the_factor() -> None:
    """allowed = factor x d(reference) + plus_us: at it PASS, just over FAIL; the detail says
    what is allowed."""
    rule = bench.Rule("1'", "x <= +30% over y + 2.0 us", "x", "y", 1.3, ("w",), percent=True,
                      plus_us=2.0)
    ref = [10.0, 9.0, 11.0]
    limit = 1.3 * 10.0 + 2.0
    at = _rows({"w": {"y": ref, "x": [limit]}}, (rule,))
    over = _rows({"w": {"y": ref, "x": [limit + 0.01]}}, (rule,))
    assert at[0]["pass"] is True and at[0]["allowed"] == pytest.approx(15.0)
    assert at[0]["plus_us"] == 2.0
    assert over[0]["pass"] is False
    assert bench.target_line(at[0]) == (
        "[PASS] 1' x <= +30% over y + 2.0 us (w): 15.0 us vs 10.0 us (+50%, allows 15.0 us)")
    # what plus_us lets through: +50% is over the factor alone
    assert _rows({"w": {"y": ref, "x": [limit]}}, (rule._replace(plus_us=0.0),))[0][
        "pass"] is False


def test_plus_us_lets_a_free_reference_pass() -> None:
    """A reference at or below zero (a noisy median) gives no ratio, but the microseconds on
    top are still allowed."""
    rule = bench.Rule("1'", "x", "x", "y", 1.3, ("w",), plus_us=2.0)
    found = _rows({"w": {"y": [0.0], "x": [1.5]}}, (rule,))
    assert found[0]["pass"] is True
    assert found[0]["detail"] == "1.5 us vs 0.0 us (n/a, allows 2.0 us)"


def test_existing_rules_keep_their_shape() -> None:
    """Issue 17's rows: one reference each, named as before, nothing on top; their rows carry
    no parts or plus_us."""
    assert all(isinstance(r.reference, str) and r.plus_us == 0.0 for r in bench.RULES)
    assert [r.parts for r in bench.RULES] == [(r.reference,) for r in bench.RULES]
    everyone = {name: [1.0] for r in bench.RULES for name in (r.candidate, *r.parts)}
    found = _rows({name: dict(everyone) for name in ALL}, bench.RULES)
    assert found and all("parts" not in t and "plus_us" not in t for t in found)
    assert {t["reference"] for t in found} == {r.reference for r in bench.RULES}


# -- the proposals ------------------------------------------------------------------------------


def test_the_proposals_limits() -> None:
    """1' +30% (plus 2 us per event when streaming); 1'' +30% over processors=() and the
    secret check (the checked fast path less the unchecked one); 2' 1.20x the durable fast
    path; 4' 1.3x a library's floor plus the JSONL handler."""
    limits = {(r.number, r.candidate, r.reference_name, r.workloads):
              (round(r.factor, 6), r.plus_us) for r in bench.PROPOSALS}
    assert limits == {
        ("1'", "cs_file_jsonl", "cs_file_jsonl_noproc", ("sync_stream", "astream10")):
            (1.3, 2.0),
        ("1'", "cs_file_jsonl", "cs_file_jsonl_noproc",
         ("batch_threaded", "agent", "invoke_heavy", "create_agent")): (1.3, 0.0),
        ("1''", "cs_file_jsonl", "cs_file_jsonl_noproc+ref_fastpath_jsonl-ref_fastpath_unchecked",
         None): (1.3, 0.0),
        ("2'", "cs_file_jsonl", "ref_fastpath_durable", None): (1.2, 0.0),
        ("4'", "cs_loguru", "ref_loguru_floor+cs_file_jsonl", ("batch_threaded", "agent")):
            (1.3, 0.0),
        ("4'", "cs_structlog", "ref_structlog_floor+cs_file_jsonl", ("batch_threaded", "agent")):
            (1.3, 0.0),
        ("4'", "cs_logging", "ref_logging_floor+cs_file_jsonl", ("batch_threaded", "agent")):
            (1.3, 0.0)}


def test_the_proposals_judge_their_workloads() -> None:
    """1' splits row 1's workloads in streaming (with the microseconds on top) and the rest;
    1'' judges all of row 1's; 2' runs where row 2 does (not secrets); 4' on batch_threaded
    and agent only."""
    everyone = {name: [1.0] for r in bench.PROPOSALS
                for name in (r.candidate, *r.parts, *r.less)}
    found = _rows({name: dict(everyone) for name in ALL}, bench.PROPOSALS)
    where: dict[str, list[str]] = {}
    for t in found:
        where.setdefault(t["target"].rsplit(" (", 1)[0], []).append(t["workload"])
    assert where == {
        "1' redaction <= +30% over processors=() + 2.0 us per event when streaming":
            ["sync_stream", "astream10"],
        "1' redaction <= +30% over processors=() when not streaming":
            ["batch_threaded", "agent", "invoke_heavy", "create_agent"],
        "1'' redaction <= +30% over processors=() and the secret check alone":
            ["sync_stream", "astream10", "batch_threaded", "agent", "invoke_heavy",
             "create_agent"],
        "2' near a durable floor: cs_file_jsonl <= 1.20x ref_fastpath_durable":
            ["sync_stream", "astream10", "batch_threaded", "agent", "invoke_heavy",
             "create_agent"],
        "4' cs_loguru <= 1.30x (ref_loguru_floor+cs_file_jsonl)": ["batch_threaded", "agent"],
        "4' cs_structlog <= 1.30x (ref_structlog_floor+cs_file_jsonl)":
            ["batch_threaded", "agent"],
        "4' cs_logging <= 1.30x (ref_logging_floor+cs_file_jsonl)": ["batch_threaded", "agent"]}
    # row 1' covers exactly the workloads row 1 judges
    row1 = [t["workload"] for t in _rows({name: dict(everyone) for name in ALL}, bench.RULES)
            if t["target"].startswith("1 ")]
    assert sorted(row1) == sorted(w for k, ws in where.items() if k.startswith("1' ")
                                  for w in ws)
    assert sorted(row1) == sorted(where["1'' redaction <= +30% over processors=() and the "
                                        "secret check alone"])


def test_a_proposal_on_a_streaming_workload_against_the_same_run() -> None:
    """The README's full run (sync_stream: 18.9 us vs 13.5 us with processors=()) fails row 1
    and passes 1' (1.3 x 13.5 + 2 = 19.55)."""
    deltas = {"sync_stream": {"cs_file_jsonl": [18.9], "cs_file_jsonl_noproc": [13.5]}}
    assert [t["pass"] for t in _rows(deltas, bench.RULES)] == [False]
    proposed = _rows(deltas, bench.PROPOSALS)
    assert [bench.target_line(t) for t in proposed] == [
        "[PASS] 1' redaction <= +30% over processors=() + 2.0 us per event when streaming "
        "(sync_stream): 18.9 us vs 13.5 us (+40%, allows 19.6 us)"]


def test_the_durable_reference_is_a_file_writing_reference() -> None:
    """It is a candidate, its output is checked for being non-empty, and, like every
    reference, it is not held to issue 8's secret check."""
    cands = {c.name: c for c in bench.candidates()}
    assert cands["ref_fastpath_durable"].group == "reference"
    assert "ref_fastpath_durable" in bench.WRITES_FILES
    assert "ref_fastpath_durable" not in bench.checked_for_secrets(list(cands.values()))


def test_the_unchecked_fast_path_differs_from_the_checked_one_by_the_check_only(
        tmp_path: Path) -> None:
    """On a real streamed run, the fast path without the secret check writes the lines the
    checked one writes (timestamps, ids and durations aside); with a planted key in the prompt
    and in a streamed token, the checked one masks and the unchecked one does not. So the
    difference of their costs in ROOM and PROPOSED 1'' is the check's."""
    cands = {c.name: c for c in bench.candidates()}
    assert cands["ref_fastpath_unchecked"].group == "reference"
    assert "ref_fastpath_unchecked" in bench.WRITES_FILES
    volatile = ("ts", "run_id", "parent_run_id", "trace_id", "duration_ms")

    def lines(handler_type: type, topic: str) -> list[dict[str, Any]]:
        path = tmp_path / f"{handler_type.__name__}-{len(topic)}.jsonl"
        handler = handler_type(str(path))
        _chain().invoke(topic, config={"callbacks": [handler]})
        model = ScriptedChatModel(messages=iter([AIMessage(content=f"key {topic} ok")]))
        assert len(list(model.stream("hi", config={"callbacks": [handler]}))) > 1
        handler.close()
        return [{k: v for k, v in r.items() if k not in volatile} for r in _records(path)]

    def same(records: list[dict[str, Any]]) -> str:  # a message's id is the run's
        return re.sub(r"lc_run--[0-9a-f-]+", "lc_run--", json.dumps(records))

    clean = lines(bench.FastPathJsonlHandler, "parrots")
    assert clean and same(clean) == same(lines(bench.UncheckedFastPathJsonlHandler, "parrots"))
    planted = "sk-proj-" + "Q" * 24
    checked = json.dumps(lines(bench.FastPathJsonlHandler, planted))
    unchecked = json.dumps(lines(bench.UncheckedFastPathJsonlHandler, planted))
    assert planted not in checked and "***" in checked
    assert unchecked.count(planted) >= 3  # the prompt, the model's input, a streamed token


# -- ref_fastpath_durable on real runs ---------------------------------------------------------


ANSWER = "alpha bravo charlie delta echo"


def _chain(barrier: threading.Barrier | None = None, chunk_latency: float = 0.0) -> Any:
    """RunnableLambda | fake chat model (streams its answer word by word) | parser."""

    def ask(topic: str) -> str:
        if barrier is not None:
            barrier.wait(timeout=10)
        return f"Tell me about {topic}."

    model = ScriptedChatModel(messages=itertools.repeat(AIMessage(content=ANSWER)),
                              chunk_latency=chunk_latency)
    return RunnableLambda(ask) | model | StrOutputParser()


def _records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_bytes().splitlines()]


class Order(bench.EventCounter):
    """Counts events and records the root run of each, in the order they arrive."""

    def __init__(self) -> None:
        super().__init__()
        self.roots: dict[Any, Any] = {}
        self.order: list[Any] = []
        self.lock = threading.Lock()

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: Any,
                       parent_run_id: Any = None, **kw: Any) -> None:
        self._seen(run_id, parent_run_id)

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: Any,
                            parent_run_id: Any = None, **kw: Any) -> None:
        self._seen(run_id, parent_run_id)

    def _seen(self, run_id: Any, parent: Any) -> None:
        with self.lock:
            self.roots[run_id] = self.roots.get(parent, run_id)
            self.order.append(self.roots[run_id])
            self.count += 1

    def on_llm_new_token(self, token: Any, *, run_id: Any, **kw: Any) -> None:
        with self.lock:
            self.order.append(self.roots[run_id])
            self.count += 1


def test_a_trace_is_on_disk_when_its_root_run_ends(tmp_path: Path) -> None:
    """Before close(), the run's lines are in the file: one per event, JSON, the root's
    chain_start first and its chain_end last; close() adds nothing and loses nothing."""
    path = tmp_path / "durable.jsonl"
    handler = bench.DurableFastPathJsonlHandler(str(path))
    counter = bench.EventCounter()
    try:
        assert "".join(_chain().stream("parrots", config={"callbacks": [handler, counter]})) \
            == ANSWER
        before = _records(path)
        assert len(before) == counter.count > len(ANSWER.split())
        assert before[0]["event"] == "chain_start" and before[0]["parent_run_id"] is None
        assert before[-1]["event"] == "chain_end" and before[-1]["depth"] == 0
        assert {r["trace_id"] for r in before} == {before[0]["run_id"]}
        assert "".join(r["token"] for r in before if r["event"] == "llm_new_token") == ANSWER
        # a second trace appends after the first
        _chain().invoke("owls", config={"callbacks": [handler]})
        second = _records(path)[len(before):]
        assert second and second[0]["event"] == "chain_start" and second[0]["depth"] == 0
        assert second[-1]["event"] == "chain_end"
    finally:
        handler.close()
    after = _records(path)
    assert after[:len(before)] == before and len(after) == len(before) + len(second)
    handler.close()  # closing again is harmless
    assert len(_records(path)) == len(after)


def test_its_lines_are_the_fast_paths(tmp_path: Path) -> None:
    """Both attached to the same run: the same lines, in the same order, but for the time and
    the duration."""
    fast = bench.FastPathJsonlHandler(str(tmp_path / "fast.jsonl"))
    durable = bench.DurableFastPathJsonlHandler(str(tmp_path / "durable.jsonl"))
    chain = _chain()
    chain.invoke("parrots", config={"callbacks": [fast, durable]})
    "".join(chain.stream("owls", config={"callbacks": [fast, durable]}))
    fast.close()
    durable.close()

    def bare(path: Path) -> list[dict[str, Any]]:
        records = _records(path)
        for r in records:
            r.pop("ts")
            r.pop("duration_ms", None)
        return records

    got = bare(tmp_path / "durable.jsonl")
    assert got == bare(tmp_path / "fast.jsonl")
    assert len({r["trace_id"] for r in got}) == 2
    assert {r["event"] for r in got} >= {"chain_start", "chat_model_start", "llm_new_token",
                                         "llm_end", "chain_end"}


def _contiguous(records: list[dict[str, Any]]) -> list[Any]:
    """The trace ids in file order, one per block of consecutive lines."""
    return [trace for trace, _ in itertools.groupby(r["trace_id"] for r in records)]


def test_traces_on_two_threads_are_written_whole(tmp_path: Path) -> None:
    """Two traces run at once on two threads, their events interleaved: each is written whole,
    its lines together, once its root ends and before close()."""
    path = tmp_path / "durable.jsonl"
    handler = bench.DurableFastPathJsonlHandler(str(path))
    order = Order()
    chain = _chain(threading.Barrier(2), chunk_latency=0.002)
    errors: list[BaseException] = []

    def run(topic: str) -> None:
        try:
            "".join(chain.stream(topic, config={"callbacks": [handler, order]}))
        except BaseException as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in ("parrots", "owls")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    try:
        assert errors == [] and not any(t.is_alive() for t in threads)
        assert len(_contiguous([{"trace_id": r} for r in order.order])) > 2  # interleaved
        records = _records(path)
        assert len(records) == order.count
        traces = _contiguous(records)
        assert len(traces) == 2 and set(map(str, order.roots.values())) == set(traces)
        for trace in traces:
            mine = [r for r in records if r["trace_id"] == trace]
            assert mine[0]["event"] == "chain_start" and mine[0]["run_id"] == trace
            assert mine[-1]["event"] == "chain_end" and mine[-1]["run_id"] == trace
            assert "".join(r["token"] for r in mine if r["event"] == "llm_new_token") == ANSWER
    finally:
        handler.close()
    assert len(_records(path)) == order.count


def test_traces_on_asyncio_tasks_are_written_whole(tmp_path: Path) -> None:
    """Ten astream() at once under asyncio.gather (the astream10 shape): each trace's lines
    together in the file, before close()."""
    path = tmp_path / "durable.jsonl"
    handler = bench.DurableFastPathJsonlHandler(str(path))
    order = Order()
    chain = _chain(chunk_latency=0.001)

    async def one(i: int) -> str:
        return "".join([c async for c in chain.astream(
            f"topic {i}", config={"callbacks": [handler, order]})])

    async def main() -> list[str]:
        return list(await asyncio.gather(*(one(i) for i in range(10))))

    try:
        assert asyncio.run(main()) == [ANSWER] * 10
        assert len(_contiguous([{"trace_id": r} for r in order.order])) > 10  # interleaved
        records = _records(path)
        assert len(records) == order.count
        traces = _contiguous(records)
        assert len(traces) == 10 == len(set(traces))
    finally:
        handler.close()


def test_lines_of_unknown_runs_wait_for_close_and_late_runs_are_kept(tmp_path: Path) -> None:
    """A token of a run never seen starting is written at close(); a child run still open when
    its trace's root ends is written when it ends: nothing is lost."""
    path = tmp_path / "durable.jsonl"
    handler = bench.DurableFastPathJsonlHandler(str(path))
    root, child, stray = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    handler.on_chain_start({}, {"q": 1}, run_id=root, name="root")
    handler.on_chain_start({}, {"q": 2}, run_id=child, parent_run_id=root, name="child")
    handler.on_llm_new_token("stray", run_id=stray)
    assert _records(path) == []
    handler.on_chain_end({"a": 1}, run_id=root)
    assert [(r["event"], r["name"]) for r in _records(path)] == [
        ("chain_start", "root"), ("chain_start", "child"), ("chain_end", "root")]
    handler.on_chain_end({"a": 2}, run_id=child)
    assert [(r["event"], r["name"]) for r in _records(path)][-1] == ("chain_end", "child")
    assert len(_records(path)) == 4
    open_root = uuid.uuid4()
    handler.on_chain_start({}, {"q": 3}, run_id=open_root, name="open")
    handler.close()
    records = _records(path)
    assert len(records) == 6
    assert {"token": "stray", "run_id": None}.items() <= records[4].items()
    assert (records[5]["event"], records[5]["name"]) == ("chain_start", "open")
