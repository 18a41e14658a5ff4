"""Callbacks out of order, runs with parents nobody saw, one handler used everywhere.

tests/test_handler.py checks the basic cases on the bare handler (end without start, double end,
token after end). Here every handler gets random disorder, real LangChain produces the odd
shapes (fallbacks, nested roots, abandoned streams, cancelled tasks), and handlers are reused
across runs, chains and threads without holding on to state.
"""

from __future__ import annotations

import asyncio
import collections
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chaos
import pytest
import targets
import workloads
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.language_models import FakeListLLM, GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, Generation, LLMResult
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from langchain_core.runnables import RunnableLambda
from targets import TARGETS, capturing, check_output

from chainsink import CallbackHandler, FileCallbackHandler, capture
from chainsink.formatters import JsonlFormatter

GROUP = "lifecycle disorder"


@pytest.fixture(autouse=True)
def _quiet_loguru() -> Iterator[None]:
    """loguru's default stderr sink stays out of the way; each target adds its own file sink."""
    with targets.quiet_loguru():
        yield


def records_of(lines: list[str]) -> list[dict[str, Any]]:
    return chaos.parse_jsonl("".join(lines).encode("utf-8"))


def collector() -> tuple[CallbackHandler, list[str]]:
    lines: list[str] = []
    return CallbackHandler(lines.append, JsonlFormatter()), lines


def assert_no_state(handler: CallbackHandler) -> None:
    """The handler remembers nothing about runs that have all ended."""
    assert handler._tracker.runs == {}
    assert handler._tracker.trace_runs == {}
    assert handler._tracker.trace_usage == {}


def assert_tree(records: list[dict[str, Any]]) -> None:
    """Parents seen by the handler are in the same trace, one level up."""
    by_id = {r["run_id"]: r for r in records if r["event"].endswith("_start")}
    for rec in records:
        parent = by_id.get(rec["parent_run_id"] or "")
        if rec["event"].endswith("_start") and parent is not None:
            assert rec["trace_id"] == parent["trace_id"], rec
            assert rec["depth"] == parent["depth"] + 1, rec


# -- random disorder --------------------------------------------------------------------------

STARTS = ("on_chain_start", "on_llm_start", "on_chat_model_start", "on_tool_start",
          "on_retriever_start")
ENDS = ("on_chain_end", "on_llm_end", "on_tool_end", "on_retriever_end")
ERRORS = ("on_chain_error", "on_llm_error", "on_tool_error", "on_retriever_error")
INSIDE = ("on_llm_new_token", "on_text", "on_agent_action", "on_agent_finish", "on_retry",
          "on_custom_event")


def _args(method: str) -> tuple[Any, ...]:
    """Plain arguments for ``method`` (the payloads are not what this group is about)."""
    if method in STARTS:
        payload: Any = [[AIMessage(content="m")]] if method == "on_chat_model_start" else "in"
        return ({"name": method.split("_")[1]}, payload)
    if method == "on_llm_end":
        # root-llm usage has its own test (test_direct_model_calls_with_usage_leave_no_state)
        return (LLMResult(generations=[[Generation(text="g")]]),)
    if method in ENDS:
        return ({"out": 1},)
    if method in ERRORS:
        return (ValueError("failed"),)
    if method in ("on_agent_action", "on_agent_finish"):
        from langchain_core.agents import AgentAction, AgentFinish

        return ((AgentAction(tool="t", tool_input="i", log="l") if method == "on_agent_action"
                 else AgentFinish(return_values={"o": 1}, log="f")),)
    if method == "on_custom_event":
        return ("progress", {"p": 1})
    if method == "on_retry":
        return (None,)
    return ("text",)


@st.composite
def disorder(draw: st.DrawFn) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """Random callbacks over a few run ids, with parents in the pool, unknown, or None.

    A run id starts at most once here (a restarted id is its own case, below).
    """
    pool = [uuid.UUID(int=i + 1) for i in range(4)]
    stranger = uuid.UUID(int=999)
    calls = []
    started: set[uuid.UUID] = set()
    for _ in range(draw(st.integers(1, 25))):
        method = draw(st.sampled_from(STARTS + ENDS + ERRORS + INSIDE))
        run_id = draw(st.sampled_from(pool))
        if method in STARTS and run_id in started:
            method = "on_text"
        started.add(run_id) if method in STARTS else None
        parent = draw(st.sampled_from([None, stranger, *pool]))
        calls.append((method, _args(method), {"run_id": run_id, "parent_run_id": parent}))
    return calls


def close_everything(handler: CallbackHandler, calls: list[Any]) -> None:
    """End every run that was started, newest first, as LangChain would at the end."""
    started = [kw["run_id"] for m, _, kw in calls if m in STARTS]
    for run_id in reversed(list(dict.fromkeys(started))):
        handler.on_chain_end({}, run_id=run_id)


def test_random_disorder_to_every_handler(tmp_path: Path) -> None:
    """Ends before starts, repeats, strangers as parents: nothing raises, every line is valid."""

    @chaos.examples(60)
    @given(calls=disorder())
    def run(calls: list[Any]) -> None:
        for target in TARGETS:
            handler, read = target.build(tmp_path)
            with capturing(handler):
                for method, args, kwargs in calls:
                    getattr(handler, method)(*args, **kwargs)
                close_everything(handler, calls)
            handler.close()
            check_output(target, read())
            assert_no_state(handler)
        chaos.count(GROUP, inputs=len(TARGETS), records=len(calls) * len(TARGETS))

    run()


def check_records_follow_callbacks(records: list[dict[str, Any]], calls: list[Any]) -> None:
    """Each callback is one record, in order; chainsink may add only ``aborted`` closings.

    A handler may close runs its trace left open when the trace's root ended (an ``aborted``
    error record) and then drop those runs' own late ends; nothing else may be added or lost.
    """
    aborted = {r["run_id"] for r in records if r.get("aborted")}
    started = {str(kw["run_id"]) for m, _, kw in calls if m in STARTS}
    assert aborted <= started, "an aborted record for a run that never started"
    actual = [(r["event"], r["run_id"]) for r in records if not r.get("aborted")]
    position = 0
    for method, _, kwargs in calls:
        key = (method.removeprefix("on_"), str(kwargs["run_id"]))
        if position < len(actual) and actual[position] == key:
            position += 1
            continue
        # not recorded: allowed only for the late end of a run closed early
        assert method in ENDS + ERRORS and key[1] in aborted, f"{key} was not recorded"
    assert position == len(actual), f"records nobody asked for: {actual[position:]}"


def test_random_disorder_keeps_one_record_per_callback() -> None:
    """Every out-of-order callback is one record; depths and traces follow the parents seen."""

    @chaos.examples(150)
    @given(calls=disorder())
    def run(calls: list[Any]) -> None:
        lines: list[str] = []
        handler = CallbackHandler(lines.append, JsonlFormatter(), processors=())
        for method, args, kwargs in calls:
            getattr(handler, method)(*args, **kwargs)
        records = records_of(lines)
        check_records_follow_callbacks(records, calls)
        by_key = {(r["event"], r["run_id"]): r for r in records if not r.get("aborted")}
        for method, _, kwargs in calls:
            rec = by_key.get((method.removeprefix("on_"), str(kwargs["run_id"])))
            if rec is not None and method in STARTS and kwargs["parent_run_id"] is None:
                assert rec["depth"] == 0 and rec["trace_id"] == rec["run_id"]
        close_everything(handler, calls)
        assert_no_state(handler)
        chaos.count(GROUP, inputs=1, records=len(calls))

    run()


def test_run_id_restarted_as_a_root() -> None:
    """A run id reused for several root runs (a fixed config run_id): each is whole, no state."""
    handler, lines = collector()
    config: Any = {"callbacks": [handler], "run_id": uuid.UUID(int=5)}
    for _ in range(3):
        chain = PromptTemplate.from_template("{q}") | FakeListLLM(responses=["ok"])
        assert chain.invoke({"q": "x"}, config=config) == "ok"
    records = records_of(lines)
    roots = [r for r in records if r["run_id"] == str(uuid.UUID(int=5))]
    assert [r["event"] for r in roots] == ["chain_start", "chain_end"] * 3
    assert_no_state(handler)
    chaos.count(GROUP, inputs=3, records=len(records))


def test_run_id_restarted_under_a_parent_leaves_no_state() -> None:
    """An id started as a root, then again under another run: once all end, no state is kept."""
    handler, _ = collector()
    a, b = uuid.UUID(int=1), uuid.UUID(int=2)
    handler.on_chain_start({}, {}, run_id=a)
    handler.on_chain_start({}, {}, run_id=b)
    handler.on_chain_start({}, {}, run_id=a, parent_run_id=b)
    handler.on_chain_end({}, run_id=a)
    handler.on_chain_end({}, run_id=b)
    chaos.count(GROUP, inputs=1, records=5)
    assert_no_state(handler)


def test_every_kind_of_end_without_start_and_after_end() -> None:
    """llm, tool and retriever ends and errors with no start, twice, and tokens after them."""
    handler, lines = collector()
    for end, error in zip(ENDS, ERRORS, strict=True):
        rid = uuid.uuid4()
        getattr(handler, end)(*_args(end), run_id=rid)  # never started
        getattr(handler, error)(*_args(error), run_id=rid)  # error after end
        handler.on_llm_new_token("late", run_id=rid)  # token after both
        getattr(handler, end)(*_args(end), run_id=rid, parent_run_id=uuid.uuid4())
    records = records_of(lines)
    assert len(records) == 16
    assert all(r["name"] == "<unknown>" and r.get("duration_ms") is None
               for r in records if r["event"] != "llm_new_token")
    assert {r["run_type"] for r in records} == {"chain", "llm", "tool", "retriever"}
    assert_no_state(handler)
    chaos.count(GROUP, inputs=16, records=16)


# -- odd shapes real LangChain produces -------------------------------------------------------


def test_nested_fallbacks_with_a_fresh_root_inside() -> None:
    """Nested fallbacks (parent_run_id=None) and a fresh root inside: all runs close, trees hold."""
    handler, lines = collector()

    def fail(x: Any) -> Any:
        raise ValueError("primary failed")

    inner = PromptTemplate.from_template("inner {x}") | FakeListLLM(responses=["inner-ok"] * 3)

    def fresh_root(x: Any) -> Any:
        # a new trace started inside a running one: LangChain reports parent_run_id=None
        return inner.invoke({"x": x}, config={"callbacks": [handler], "run_name": "fresh"})

    level2 = RunnableLambda(fail, name="fail2").with_fallbacks(
        [RunnableLambda(fresh_root, name="fresh_root")])
    chain = RunnableLambda(fail, name="fail1").with_fallbacks([level2])
    assert chain.invoke("q", config={"callbacks": [handler]}) == "inner-ok"
    records = records_of(lines)
    chaos.assert_runs_closed(records)
    assert_tree(records)
    fresh = next(r for r in records if r["name"] == "fresh" and r["event"] == "chain_start")
    assert fresh["parent_run_id"] is None and fresh["depth"] == 0
    inside = [r for r in records if r["parent_run_id"] == fresh["run_id"]]
    assert inside and all(r["trace_id"] == fresh["run_id"] and r["depth"] == 1 for r in inside)
    errors = [r for r in records if r["event"] == "chain_error"]
    assert {r["name"] for r in errors} == {"fail1", "fail2"}
    assert_no_state(handler)
    chaos.count(GROUP, inputs=1, records=len(records))


def test_constructor_handler_sees_children_of_runs_it_never_saw() -> None:
    """A handler on an inner model only: its runs name a parent it never saw; all still close."""
    handler, lines = collector()
    model = GenericFakeChatModel(messages=iter([AIMessage(content="a")] * 3),
                                 callbacks=[handler])
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()
    other, _ = collector()
    for _ in range(3):
        assert chain.invoke({"q": "x"}, config={"callbacks": [other]}) == "a"
    records = records_of(lines)
    assert [r["event"] for r in records] == ["chat_model_start", "llm_end"] * 3
    assert all(r["parent_run_id"] is not None and r["depth"] == 0 for r in records)
    chaos.assert_runs_closed(records)
    assert handler._tracker.runs == {} and handler._tracker.trace_runs == {}
    chaos.count(GROUP, inputs=3, records=len(records))


def test_handler_in_constructor_and_request_records_each_event_once() -> None:
    """The same handler passed to a model's constructor and per request: one record per event."""
    handler, lines = collector()
    model = FakeListLLM(responses=["ok"] * 2, callbacks=[handler])
    chain = PromptTemplate.from_template("{q}") | model
    assert chain.invoke({"q": "x"}, config={"callbacks": [handler]}) == "ok"
    records = records_of(lines)
    keys = chaos.keys(records)
    assert len(keys) == len(set(keys)) == 6
    chaos.count(GROUP, inputs=1, records=len(records))


def test_abandoned_stream_closes_its_runs() -> None:
    """A stream the caller stops reading early: the runs still end, none left open."""
    handler, lines = collector()
    model = GenericFakeChatModel(messages=iter([AIMessage(content="one two three four")]))
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()
    stream = chain.stream({"q": "x"}, config={"callbacks": [handler]})
    assert next(stream) == "one"
    stream.close()  # the caller walked away
    records = records_of(lines)
    chaos.assert_runs_closed(records)
    assert_no_state(handler)
    chaos.count(GROUP, inputs=1, records=len(records))


async def test_cancelled_task_closes_its_runs_as_interrupted() -> None:
    """A task cancelled mid-astream: its runs end as errors flagged interrupted, none open."""
    handler, lines = collector()
    started = asyncio.Event()

    async def slow(x: Any) -> Any:
        started.set()
        await asyncio.sleep(60)
        return x

    chain = PromptTemplate.from_template("{q}") | RunnableLambda(slow, name="slow")

    async def consume() -> None:
        async for _ in chain.astream({"q": "x"}, config={"callbacks": [handler]}):
            pass

    task = asyncio.ensure_future(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    records = records_of(lines)
    chaos.assert_runs_closed(records)
    slow_end = next(r for r in records if r["name"] == "slow" and r["event"] == "chain_error")
    assert slow_end["interrupted"] is True
    assert_no_state(handler)
    chaos.count(GROUP, inputs=1, faults=1, records=len(records))


async def test_cancelled_async_tool_run_is_closed() -> None:
    """An agent cancelled while its async tool awaits: the tool's run is closed in the log too."""
    from langchain.agents import create_agent
    from langchain_core.tools import tool

    started = asyncio.Event()

    @tool
    async def slow_lookup(query: str) -> str:
        """Look something up slowly."""
        started.set()
        await asyncio.sleep(60)
        return "never"

    model = workloads.ToolCallingFakeChatModel(messages=iter([workloads._ai(
        "", workloads.make_usage(1, 1), tool_calls=[{
            "name": "slow_lookup", "args": {"query": "x"}, "id": "c1", "type": "tool_call"}])]))
    agent = create_agent(model, tools=[slow_lookup])
    handler, lines = collector()
    task = asyncio.ensure_future(agent.ainvoke(
        {"messages": [{"role": "user", "content": "q"}]}, config={"callbacks": [handler]}))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    records = records_of(lines)
    chaos.count(GROUP, inputs=1, faults=1, records=len(records))
    chaos.assert_runs_closed(records)


# -- one handler, many runs, chains, instances --------------------------------------------------


def test_one_handler_reused_across_every_workload(tmp_path: Path) -> None:
    """One file handler across every workload, twice over: every trace whole, no state kept."""
    path = tmp_path / "reused.jsonl"
    handler = FileCallbackHandler(path, format="jsonl")
    names = sorted(workloads.SYNC_WORKLOADS)
    for _ in range(2):
        for name in names:
            workloads.run_workload(name, [handler])
            assert_no_state(handler)
        for name in sorted(workloads.ASYNC_WORKLOADS):
            workloads.run_workload(name, [handler])
            assert_no_state(handler)
    handler.close()
    records = chaos.read_jsonl(path)
    chaos.assert_runs_closed(records)
    assert_tree(records)
    roots = [r for r in records if r["parent_run_id"] is None and r["event"].endswith("_start")]
    per_pass = (len(names) - 1 + workloads.N_BATCH  # batch_threaded makes one trace per input
                + workloads.N_CONCURRENT_ASTREAM + 2)
    assert len(roots) == 2 * per_pass
    chaos.count(GROUP, inputs=2 * (len(names) + len(workloads.ASYNC_WORKLOADS)),
                records=len(records))


def test_one_handler_shared_by_chains_in_threads_and_tasks() -> None:
    """One handler on different chain instances in 8 threads and 20 tasks: traces stay apart."""
    handler, lines = collector()

    def thread_work(n: int) -> None:
        for i in range(5):
            workloads.invoke_lcel([handler]) if i % 2 else workloads.error_chain([handler])

    threads = [threading.Thread(target=thread_work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    asyncio.run(workloads.astream_lcel_concurrent([handler], n=20))
    for t in threads:
        t.join()
    records = records_of(lines)
    chaos.assert_runs_closed(records)
    assert_tree(records)
    per_trace = collections.Counter(r["trace_id"] for r in records)
    assert len(per_trace) == 8 * 5 + 20
    assert_no_state(handler)
    chaos.count(GROUP, inputs=60, records=len(records))


def test_two_handler_instances_on_one_file(tmp_path: Path) -> None:
    """Two FileCallbackHandlers on the same path in one run: each record twice, lines whole."""
    path = tmp_path / "twice.jsonl"
    first = FileCallbackHandler(path, format="jsonl")
    second = FileCallbackHandler(path, format="jsonl")
    reference, lines = collector()
    workloads.batch_lcel_threaded([first, second, reference], n=16)
    asyncio.run(workloads.astream_lcel_concurrent([first, second, reference], n=10))
    first.close()
    second.close()
    found = collections.Counter(chaos.keys(chaos.read_jsonl(path)))
    accepted = collections.Counter(chaos.keys(records_of(lines)))
    assert accepted and found == accepted + accepted
    chaos.count(GROUP, inputs=26, records=sum(found.values()))


def test_capture_and_explicit_handler_together(tmp_path: Path) -> None:
    """capture() around a run that also passes the same handler: one record per event."""
    handler, lines = collector()
    with capture(handler):
        workloads.invoke_lcel([handler])
        workloads.invoke_lcel([])
    records = records_of(lines)
    keys = chaos.keys(records)
    assert len(keys) == len(set(keys))
    assert len({r["trace_id"] for r in records}) == 2
    chaos.count(GROUP, inputs=2, records=len(records))


def test_direct_model_calls_with_usage_leave_no_state() -> None:
    """A chat model invoked directly (its run is the root) frees its token totals afterwards."""
    handler, _ = collector()
    for i in range(50):
        model = GenericFakeChatModel(messages=iter([AIMessage(
            content=f"answer {i}", usage_metadata=workloads.make_usage(3, 4))]))
        model.invoke("hi", config={"callbacks": [handler]})
    chaos.count(GROUP, inputs=50, records=100)
    assert len(handler._tracker.trace_usage) == 0


def test_root_llm_end_with_usage_is_recorded() -> None:
    """A direct model call's llm_end carries its usage and model name."""
    handler, lines = collector()
    result = LLMResult(generations=[[ChatGeneration(message=AIMessage(
        content="x", usage_metadata=workloads.make_usage(3, 4),
        response_metadata={"model_name": "m1"}))]])
    rid = uuid.uuid4()
    handler.on_chat_model_start({"name": "M"}, [[]], run_id=rid)
    handler.on_llm_end(result, run_id=rid)
    end = json.loads(lines[-1])
    assert end["usage"] == workloads.make_usage(3, 4) and end["model"] == "m1"
    chaos.count(GROUP, inputs=1, records=2)
