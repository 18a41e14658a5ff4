"""chainsink's JSONL log records exactly the runs langchain-core's tracer records.

Every workload runs once with BOTH ``RunCollectorCallbackHandler`` (langchain-core's
reference tracer) and ``chainsink.FileCallbackHandler(format="jsonl")`` attached; the
JSONL file is parsed after the handler is closed and compared run by run with the
collector's run tree.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from langchain_core.tracers.run_collector import RunCollectorCallbackHandler
from langchain_core.tracers.schemas import Run
from workloads import (
    ASYNC_WORKLOADS,
    CHAT_MODEL_NAME,
    CREATE_AGENT_USAGE,
    ERROR_MESSAGE,
    LCEL_USAGE,
    N_BATCH,
    N_CONCURRENT_ASTREAM,
    RETRIEVER_USAGE,
    SYNC_WORKLOADS,
    VERBOSE_WORKLOADS,
    concurrent_usage,
    reported_model,
    reported_usage,
    run_workload,
)

import chainsink

REQUIRED_KEYS = {
    "v",
    "ts",
    "event",
    "run_id",
    "parent_run_id",
    "trace_id",
    "name",
    "run_type",
    "tags",
    "metadata",
    "depth",
}
EVENT_KINDS = {
    "chain_start",
    "chain_end",
    "chain_error",
    "llm_start",
    "chat_model_start",
    "llm_new_token",
    "llm_end",
    "llm_error",
    "tool_start",
    "tool_end",
    "tool_error",
    "retriever_start",
    "retriever_end",
    "retriever_error",
    "agent_action",
    "agent_finish",
    "text",
    "retry",
    "custom_event",
}
# Start / terminal events a run of each collector run_type may have.
START_FOR_RUN_TYPE = {
    "llm": {"llm_start", "chat_model_start"},
    "tool": {"tool_start"},
    "retriever": {"retriever_start"},
}
START_KINDS = {"chain_start", "llm_start", "chat_model_start", "tool_start", "retriever_start"}
END_KINDS = {"chain_end", "llm_end", "tool_end", "retriever_end"}
ERROR_KINDS = {"chain_error", "llm_error", "tool_error", "retriever_error"}

ALL_WORKLOADS = [*SYNC_WORKLOADS, *VERBOSE_WORKLOADS, *ASYNC_WORKLOADS]

# Usage each workload's fake chat models report (sorted), independent of the collector.
EXPECTED_USAGES: dict[str, list[dict[str, int]]] = {
    "lcel_invoke": [LCEL_USAGE],
    "lcel_stream": [LCEL_USAGE],
    "lcel_ainvoke": [LCEL_USAGE],
    "retriever_chain": [RETRIEVER_USAGE],
    "retriever_ainvoke": [RETRIEVER_USAGE],
    "create_agent": list(CREATE_AGENT_USAGE),
    "astream_concurrent": [concurrent_usage(i) for i in range(N_CONCURRENT_ASTREAM)],
    "batch_threaded": [concurrent_usage(i) for i in range(N_BATCH)],
}
EXPECTED_ROOTS = {"astream_concurrent": N_CONCURRENT_ASTREAM, "batch_threaded": N_BATCH}


@dataclass
class Traced:
    """One workload run seen by both the collector and chainsink's JSONL file."""

    name: str
    result: Any
    runs: dict[str, Run]  # run_id -> collector run (whole tree, flattened)
    depth: dict[str, int]  # run_id -> number of ancestors in the collector tree
    roots: list[Run]
    records: list[dict[str, Any]]  # parsed JSONL lines, in file order
    by_run: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)


def _walk(run: Run, depth: int = 0):
    yield run, depth
    for child in run.child_runs:
        yield from _walk(child, depth + 1)


def _trace(name: str, path: Path) -> Traced:
    collector = RunCollectorCallbackHandler()
    with chainsink.FileCallbackHandler(str(path), mode="w", format="jsonl") as jsonl:
        result = run_workload(name, [collector, jsonl])
    lines = path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    runs: dict[str, Run] = {}
    depth: dict[str, int] = {}
    for root in collector.traced_runs:
        for run, d in _walk(root):
            runs[str(run.id)] = run
            depth[str(run.id)] = d
    by_run: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for i, rec in enumerate(records):
        by_run[str(rec.get("run_id"))].append((i, rec))
    return Traced(name, result, runs, depth, list(collector.traced_runs), records, dict(by_run))


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory):
    """Run each workload at most once per module; return a name -> Traced lookup."""
    cache: dict[str, Traced] = {}

    def get(name: str) -> Traced:
        if name not in cache:
            path = tmp_path_factory.mktemp("jsonl") / f"{name}.jsonl"
            cache[name] = _trace(name, path)
        return cache[name]

    return get


def _start(t: Traced, run_id: str) -> dict[str, Any]:
    starts = [rec for _, rec in t.by_run.get(run_id, []) if rec["event"] in START_KINDS]
    assert len(starts) == 1, (
        f"{t.name}: run {run_id} ({t.runs[run_id].name}) has {len(starts)} start events"
    )
    return starts[0]


def _terminal(t: Traced, run_id: str) -> dict[str, Any]:
    ends = [
        rec for _, rec in t.by_run.get(run_id, []) if rec["event"] in END_KINDS | ERROR_KINDS
    ]
    assert len(ends) == 1, (
        f"{t.name}: run {run_id} ({t.runs[run_id].name}) has {len(ends)} end/error events"
    )
    return ends[0]


# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("name", ALL_WORKLOADS)
def test_jsonl_lines_have_the_schema_keys(name: str, traced) -> None:
    """Every JSONL line is a JSON object with v=1, a known event and all common keys of the
    right types."""
    t = traced(name)
    assert t.records, f"{name}: empty JSONL file"
    for rec in t.records:
        missing = REQUIRED_KEYS - rec.keys()
        assert not missing, f"{name}: {rec.get('event')} record lacks {sorted(missing)}"
        assert rec["v"] == 1
        assert rec["event"] in EVENT_KINDS, rec["event"]
        UUID(rec["run_id"])
        UUID(rec["trace_id"])
        assert rec["parent_run_id"] is None or UUID(rec["parent_run_id"])
        assert isinstance(rec["ts"], str | int | float) and rec["ts"] != ""
        assert isinstance(rec["tags"], list)
        assert isinstance(rec["metadata"], dict)
        assert isinstance(rec["depth"], int) and rec["depth"] >= 0


@pytest.mark.parametrize("name", ALL_WORKLOADS)
def test_jsonl_has_exactly_the_collectors_runs(name: str, traced) -> None:
    """The set of run ids in the JSONL equals the set of runs langchain-core's collector traced."""
    t = traced(name)
    assert t.runs, f"{name}: the collector saw no runs"
    if name in EXPECTED_ROOTS:
        assert len(t.roots) == EXPECTED_ROOTS[name]
    jsonl_ids = set(t.by_run)
    collector_ids = set(t.runs)
    assert jsonl_ids - collector_ids == set(), f"{name}: runs only in JSONL"
    missing = {rid: t.runs[rid].name for rid in collector_ids - jsonl_ids}
    assert not missing, f"{name}: runs missing from JSONL: {missing}"


@pytest.mark.parametrize("name", ALL_WORKLOADS)
def test_each_run_has_one_start_and_one_end(name: str, traced) -> None:
    """Each traced run has exactly one start event (of its run type) and one end-or-error event
    after it."""
    t = traced(name)
    for run_id, run in t.runs.items():
        start = _start(t, run_id)
        end = _terminal(t, run_id)
        allowed = START_FOR_RUN_TYPE.get(run.run_type, {"chain_start"})
        assert start["event"] in allowed, (
            f"{name}: {run.run_type} run {run.name} started with {start['event']}"
        )
        if run.error:
            assert end["event"] in ERROR_KINDS, (
                f"{name}: {run.name} errored but logged {end['event']}"
            )
        else:
            assert end["event"] in END_KINDS, f"{name}: {run.name} ended but logged {end['event']}"
        family = "llm" if start["event"] == "chat_model_start" else start["event"].split("_")[0]
        assert end["event"].split("_")[0] == family, (
            f"{name}: {start['event']} closed by {end['event']}"
        )
        positions = {rec["event"]: i for i, rec in t.by_run[run_id]}
        assert positions[start["event"]] < positions[end["event"]]


@pytest.mark.parametrize("name", ALL_WORKLOADS)
def test_parent_and_trace_ids_match_the_collector(name: str, traced) -> None:
    """Every event of a run carries the collector's parent_run_id and trace_id (root run id)."""
    t = traced(name)
    for run_id, run in t.runs.items():
        expected_parent = str(run.parent_run_id) if run.parent_run_id else None
        for _, rec in t.by_run.get(run_id, []):
            assert rec["parent_run_id"] == expected_parent, (
                f"{name}: {rec['event']} of {run.name}: "
                f"parent {rec['parent_run_id']} != {expected_parent}"
            )
            assert rec["trace_id"] == str(run.trace_id), (
                f"{name}: {rec['event']} of {run.name}: trace {rec['trace_id']} != {run.trace_id}"
            )


@pytest.mark.parametrize("name", ALL_WORKLOADS)
def test_names_match_the_collector(name: str, traced) -> None:
    """Every event of a run carries the run name langchain-core's tracer recorded."""
    t = traced(name)
    for run_id, run in t.runs.items():
        assert _start(t, run_id)["name"] == run.name
        for _, rec in t.by_run.get(run_id, []):
            assert rec["name"] == run.name, (
                f"{name}: {rec['event']} named {rec['name']!r}, run is {run.name!r}"
            )


@pytest.mark.parametrize("name", ALL_WORKLOADS)
def test_depth_and_run_type_match_the_collector_tree(name: str, traced) -> None:
    """Each event's depth is the run's number of ancestors and run_type is the tracer's run_type."""
    t = traced(name)
    for run_id, run in t.runs.items():
        for _, rec in t.by_run.get(run_id, []):
            assert rec["depth"] == t.depth[run_id], f"{name}: {rec['event']} of {run.name}"
            assert rec["run_type"] == run.run_type, f"{name}: {rec['event']} of {run.name}"


@pytest.mark.parametrize("name", ALL_WORKLOADS)
def test_errors_carry_exception_type_and_message(name: str, traced) -> None:
    """Errored runs log error.type = exception class name and error.message = str(exc); others
    log no error."""
    t = traced(name)
    errored = [run_id for run_id, run in t.runs.items() if run.error]
    error_events = [rec for rec in t.records if rec["event"] in ERROR_KINDS]
    assert len(error_events) == len(errored)
    if name == "error_chain":
        exc = t.result
        assert isinstance(exc, ValueError) and str(exc) == ERROR_MESSAGE
        assert len(errored) >= 2  # the lambda and the sequence around it
    for run_id in errored:
        rec = _terminal(t, run_id)
        err = rec.get("error")
        assert isinstance(err, dict), f"{name}: {rec['event']} without an error object"
        if name == "error_chain":
            assert err["type"] == type(t.result).__name__
            assert err["message"] == str(t.result)
        # the collector stores repr(exc) + traceback
        assert t.runs[run_id].error.startswith(f"{err['type']}("), t.runs[run_id].error[:80]
        assert repr(err["message"]) in t.runs[run_id].error.splitlines()[0]


@pytest.mark.parametrize("name", ALL_WORKLOADS)
def test_llm_end_usage_is_what_the_model_reported(name: str, traced) -> None:
    """Each llm_end's usage equals the usage_metadata the fake model reported for that run."""
    t = traced(name)
    llm_runs = [run_id for run_id, run in t.runs.items() if run.run_type == "llm"]
    got_usages = []
    for run_id in llm_runs:
        end = _terminal(t, run_id)
        assert end["event"] == "llm_end"
        assert "usage" in end, f"{name}: llm_end without a usage key"
        expected = reported_usage(t.runs[run_id])
        assert end["usage"] == expected, f"{name}: run {t.runs[run_id].name}"
        if expected is not None:
            got_usages.append(end["usage"])
    key = lambda u: (u["input_tokens"], u["output_tokens"])  # noqa: E731
    assert sorted(got_usages, key=key) == sorted(EXPECTED_USAGES.get(name, []), key=key)


@pytest.mark.parametrize("name", ALL_WORKLOADS)
def test_llm_end_model_is_the_reported_model_name(name: str, traced) -> None:
    """For chat runs whose response names the model, llm_end's model is that name."""
    t = traced(name)
    checked = 0
    for run_id, run in t.runs.items():
        if run.run_type != "llm" or reported_model(run) is None:
            continue
        end = _terminal(t, run_id)
        assert end.get("model") == reported_model(run) == CHAT_MODEL_NAME
        checked += 1
    assert checked == len(EXPECTED_USAGES.get(name, []))


def test_concurrent_astream_runs_are_not_cross_wired(traced) -> None:
    """In 20 concurrent astreams each root's llm_end usage and streamed tokens belong to that
    root's own run."""
    t = traced("astream_concurrent")
    assert len(t.roots) == N_CONCURRENT_ASTREAM
    for root in t.roots:
        llm = [r for r, _ in _walk(root) if r.run_type == "llm"]
        assert len(llm) == 1
        run_id = str(llm[0].id)
        i = int(root.inputs["topic"].split()[-1])
        assert _terminal(t, run_id)["usage"] == concurrent_usage(i)
        tokens = [rec for _, rec in t.by_run[run_id] if rec["event"] == "llm_new_token"]
        assert tokens, "streaming run logged no llm_new_token"
        assert all(rec["trace_id"] == str(root.id) for rec in tokens)
