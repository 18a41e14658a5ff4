"""Honest status: a run that was stopped, not broken, is never counted as a failure.

Interrupts (LangGraph ``interrupt()``), handoffs (``Command(graph=Command.PARENT)``), a consumer
breaking out of ``stream``/``astream`` and task cancellation end runs with error callbacks; the
records flag them ``interrupted`` (with the kind of stop in ``interrupt``), and
``chainsink stats`` and the HTML report count them as interrupted, not as errors or failed
traces, while real failures in the same log still count. One ``ainvoke`` stays one trace even
when a branch finishes after its root failed: the branch's real end is recorded, never an
``aborted`` stand-in, and what it starts late keeps the trace.

Each test tallies its records under "honest status"; ``lost`` counts records whose status lies
(an interrupt recorded as a failure, a run that succeeded recorded as aborted, a run outside
its trace).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict

import chaos
import pytest
import structlog
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnableParallel
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from loguru import logger as loguru_logger

from chainsink import (
    CallbackHandler,
    FileCallbackHandler,
    LoggingCallbackHandler,
    LoguruCallbackHandler,
    StructlogCallbackHandler,
)
from chainsink.formatters import JsonlFormatter

GROUP = "honest status"
ERROR_KINDS = ("chain_error", "llm_error", "tool_error", "retriever_error")


# -- reading back what the log says ---------------------------------------------------------


def stats(path: Path) -> dict[str, Any]:
    """``chainsink stats --json FILE``, run as a user would."""
    done = subprocess.run([chaos.PY, "-m", "chainsink", "stats", "--json", str(path)],
                          check=False, capture_output=True, text=True, timeout=120,
                          env=chaos.python_env())
    assert done.returncode == 0, done.stderr
    assert not chaos.chainsink_lines(done.stderr), done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


_CARD = re.compile(r'<div class="card(?: bad)?"><b>([^<]*)</b><span>([^<]*)</span>'
                   r'(?:<small>([^<]*)</small>)?</div>')
_DATA = re.compile(r'<script type="application/json" id="chainsink-data">(.*?)</script>', re.S)


def html_report(path: Path) -> tuple[dict[str, tuple[str, str]], list[dict[str, Any]]]:
    """``chainsink html FILE``: the summary cards (label -> (value, note)) and the traces."""
    out = path.with_suffix(".html")
    done = subprocess.run([chaos.PY, "-m", "chainsink", "html", str(path), "-o", str(out)],
                          check=False, capture_output=True, text=True, timeout=120,
                          env=chaos.python_env())
    assert done.returncode == 0, done.stderr
    page = out.read_text(encoding="utf-8")
    cards = {label: (value, note or "") for value, label, note in _CARD.findall(page)}
    data = _DATA.search(page)
    assert data is not None
    traces: list[dict[str, Any]] = json.loads(data.group(1))["traces"]
    return cards, traces


def closings(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each run's closing record (its end or error), by run id."""
    return {r["run_id"]: r for r in records if r["event"].endswith(("_end", "_error"))}


def starts(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["run_id"]: r for r in records if r["event"].endswith("_start")}


def dishonest(records: list[dict[str, Any]], *, stops: tuple[str, ...] = (),
              failures: tuple[str, ...] = ()) -> int:
    """Records whose status lies: an error of a ``stops`` type not flagged interrupted, one of a
    ``failures`` type flagged, any ``aborted`` stand-in, a run outside its parent's trace."""
    bad = 0
    begun = starts(records)
    for rec in records:
        error = rec.get("error") if rec["event"] in ERROR_KINDS else None
        kind = error.get("type") if isinstance(error, dict) else None
        flagged = rec.get("interrupted") is True
        if (kind in stops and not flagged) or (kind in failures and flagged) or rec.get(
                "aborted"):
            bad += 1
        else:
            parent = begun.get(rec["parent_run_id"] or "")
            if parent is not None and rec["trace_id"] != parent["trace_id"]:
                bad += 1
    return bad


def real_failure(handler: Any) -> None:
    """A chain that fails for real, in the same log: two runs fail, one trace."""

    def explode(_: Any) -> Any:
        raise ValueError("a real failure")

    chain = RunnableLambda(lambda x: x, name="before") | RunnableLambda(explode, name="explode")
    with pytest.raises(ValueError, match="a real failure"):
        chain.invoke(1, config={"callbacks": handler if isinstance(handler, list) else [handler]})


def check_counts(path: Path, *, traces: int, failed_traces: int, errors: int,
                 interrupted: int, interrupted_traces: int) -> None:
    """What ``chainsink stats --json`` and the HTML report's summary say about the log."""
    found = stats(path)
    assert (found["traces"], found["failed_traces"], found["errors"]) == (
        traces, failed_traces, errors), found
    assert (found["interrupted"], found["interrupted_traces"]) == (
        interrupted, interrupted_traces), found
    cards, shown = html_report(path)
    assert cards["errors"][0] == str(errors)
    assert cards["traces"][0] == str(traces)
    assert f"{failed_traces} failed" in cards["traces"][1]
    if interrupted_traces:
        assert f"{interrupted_traces} interrupted" in cards["traces"][1]
    statuses = [t["status"] for t in shown]
    assert statuses.count("error") == failed_traces, statuses
    assert statuses.count("interrupted") == interrupted_traces, statuses
    assert sum(t["errors"] for t in shown) == errors


@pytest.fixture
def log(tmp_path: Path) -> Iterator[tuple[FileCallbackHandler, Path]]:
    path = tmp_path / "run.jsonl"
    handler = FileCallbackHandler(path, format="jsonl")
    yield handler, path
    handler.close()


async def settle(handler: Any) -> None:
    """Let the event loop finalize what a closed stream left (inner async generators are
    closed by the loop's finalizer, a few steps later) until no run is open (2 s at most)."""
    for _ in range(200):
        if not handler._tracker.runs:
            return
        await asyncio.sleep(0.01)


def read(handler: FileCallbackHandler, path: Path) -> list[dict[str, Any]]:
    handler.close()
    records = chaos.read_jsonl(path, cap=chaos.LINE_CAP)
    chaos.assert_runs_closed(records)
    return records


# -- LangGraph: interrupt() and resume, handoffs to the parent graph ------------------------


class State(TypedDict):
    x: str


def handoff_graph() -> Any:
    """A parent graph whose subgraph node hands control back with
    ``Command(graph=Command.PARENT, goto="finish")``: ``{"x": "a"}`` ends as ``"handed!"``."""

    def hand_off(state: State) -> Command[Any]:
        return Command(graph=Command.PARENT, goto="finish", update={"x": "handed"})

    sub = StateGraph(State)
    sub.add_node("hand_off", hand_off)
    sub.add_edge(START, "hand_off")
    parent = StateGraph(State)
    parent.add_node("team", sub.compile())
    parent.add_node("finish", lambda s: {"x": s["x"] + "!"})
    parent.add_edge(START, "team")
    parent.add_edge("finish", END)
    return parent.compile()


def test_graph_interrupt_then_resume_is_not_a_failure(
        log: tuple[FileCallbackHandler, Path]) -> None:
    """interrupt() pauses the graph: the node's run ends flagged interrupted, the resume runs
    clean, and stats/HTML count one interrupted trace, no failure; a real failure still counts."""
    handler, path = log

    def ask(state: State) -> State:
        return {"x": interrupt("approve?")}

    builder = StateGraph(State)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": uuid.uuid4().hex}, "callbacks": [handler]}
    paused = graph.invoke({"x": "start"}, config)
    assert "__interrupt__" in paused
    assert graph.invoke(Command(resume="yes"), config) == {"x": "yes"}
    real_failure(handler)
    records = read(handler, path)

    node_stops = [r for r in records if r["name"] == "ask" and r["event"] == "chain_error"]
    assert len(node_stops) == 1
    assert node_stops[0]["error"]["type"] == "GraphInterrupt"
    assert node_stops[0]["interrupted"] is True
    assert node_stops[0]["interrupt"] == "graph_interrupt"
    assert [r["event"] for r in records if r["name"] == "ask"][-1] == "chain_end"  # resumed
    real = [r for r in records if r["event"] == "chain_error" and "interrupted" not in r]
    assert len(real) == 2 and all(r["error"]["type"] == "ValueError" for r in real)
    check_counts(path, traces=3, failed_traces=1, errors=2, interrupted=1, interrupted_traces=1)
    chaos.count(GROUP, inputs=3, records=len(records),
                lost=dishonest(records, stops=("GraphInterrupt",), failures=("ValueError",)))


def test_subgraph_handoff_to_parent_is_not_a_failure(
        log: tuple[FileCallbackHandler, Path]) -> None:
    """A subgraph node returning Command(graph=Command.PARENT, goto=...) hands control to the
    parent graph: the runs LangGraph ends with ParentCommand are flagged as a handoff, and the
    trace is ok, not failed or interrupted."""
    handler, path = log

    graph = handoff_graph()
    assert graph.invoke({"x": "a"}, {"callbacks": [handler]}) == {"x": "handed!"}
    real_failure(handler)
    records = read(handler, path)

    handoffs = [r for r in records if r["event"] == "chain_error"
                and r["error"]["type"] == "ParentCommand"]
    assert len(handoffs) >= 2  # the node, the subgraph (and the parent's node running it)
    assert all(r["interrupted"] is True and r["interrupt"] == "handoff" for r in handoffs)
    graph_runs = starts([r for r in records if r["trace_id"] == records[0]["run_id"]])
    assert len(graph_runs) == len(starts(records)) - 3  # all but the failing chain's three
    check_counts(path, traces=2, failed_traces=1, errors=2, interrupted=len(handoffs),
                 interrupted_traces=0)
    chaos.count(GROUP, inputs=2, records=len(records),
                lost=dishonest(records, stops=("ParentCommand",), failures=("ValueError",)))


# -- a consumer that stops reading, a task that is cancelled --------------------------------


def lcel_chain(parser: bool = True) -> Any:
    model = GenericFakeChatModel(messages=iter([AIMessage(content="one two three four five")]))
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model
    return chain | StrOutputParser() if parser else chain


def model_end(records: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in records if r["run_type"] == "llm" and r["event"] in (
        "llm_end", "llm_error"))


def check_stopped_stream(records: list[dict[str, Any]]) -> None:
    """Every run of the stream ended, in one trace, none with an aborted stand-in."""
    root = next(r for r in records if r["parent_run_id"] is None)
    assert {r["trace_id"] for r in records} == {root["run_id"]}
    assert not [r for r in records if r.get("aborted")]


def test_break_out_of_stream_records_what_langchain_reports(
        log: tuple[FileCallbackHandler, Path]) -> None:
    """A consumer breaking out of stream(): langchain-core ends the root, then the model's run
    (a parser drains it: llm_end; without one it is closed: GeneratorExit). Either real end is
    recorded in the trace after the root's, never replaced by an aborted stand-in; the closed
    stream is flagged, and nothing counts as failed."""
    handler, path = log
    for parser in (True, False):
        for chunk in lcel_chain(parser).stream({"q": "hi"}, config={"callbacks": [handler]}):
            assert getattr(chunk, "content", chunk) == "one"
            break
    real_failure(handler)
    records = read(handler, path)
    roots = [r for r in records if r["parent_run_id"] is None and r["event"] == "chain_start"]
    drained, closed = ([r for r in records if r["trace_id"] == root["run_id"]]
                       for root in roots[:2])
    for streamed in (drained, closed):
        check_stopped_stream(streamed)
        root_end = closings(streamed)[streamed[0]["run_id"]]
        assert root_end["event"] == "chain_end"  # langchain-core ends a stream's root first
        ids = [r["run_id"] for r in streamed]
        assert ids.index(root_end["run_id"]) < ids.index(model_end(streamed)["run_id"], 1)
    assert model_end(drained)["event"] == "llm_end"
    stopped = model_end(closed)
    assert stopped["event"] == "llm_error" and stopped["error"]["type"] == "GeneratorExit"
    assert stopped["interrupted"] is True and stopped["interrupt"] == "stream_closed"
    check_counts(path, traces=3, failed_traces=1, errors=2, interrupted=1,
                 interrupted_traces=1)
    chaos.count(GROUP, inputs=3, records=len(records),
                lost=dishonest(records, stops=("GeneratorExit",), failures=("ValueError",)))


async def test_break_out_of_astream_is_not_a_failure(
        log: tuple[FileCallbackHandler, Path]) -> None:
    """A consumer breaking out of astream() (and closing it): every run of the stream ends
    flagged interrupted, none counted as failed."""
    handler, path = log
    stream = lcel_chain().astream({"q": "hi"}, config={"callbacks": [handler]})
    async for chunk in stream:
        assert chunk == "one"
        break
    await stream.aclose()
    await settle(handler)
    real_failure(handler)
    records = read(handler, path)
    streamed = [r for r in records if r["trace_id"] == records[0]["run_id"]]
    check_stopped_stream(streamed)
    root_end = closings(streamed)[records[0]["run_id"]]
    assert root_end["event"] == "chain_error" and root_end["interrupt"] == "stream_closed"
    stopped_model = model_end(streamed)
    assert stopped_model["event"] == "llm_error" and stopped_model["interrupted"] is True
    assert stopped_model["error"]["type"] == "GeneratorExit"
    stopped = sum(1 for r in streamed if r.get("interrupted"))
    check_counts(path, traces=2, failed_traces=1, errors=2, interrupted=stopped,
                 interrupted_traces=1)
    chaos.count(GROUP, inputs=2, records=len(records),
                lost=dishonest(records, stops=("GeneratorExit",), failures=("ValueError",)))


async def test_cancelled_ainvoke_is_not_a_failure(log: tuple[FileCallbackHandler, Path]) -> None:
    """asyncio cancellation of ainvoke: every run ends flagged cancelled, in one trace."""
    handler, path = log
    started = asyncio.Event()

    async def slow(x: Any) -> Any:
        started.set()
        await asyncio.sleep(60)
        return x

    chain = RunnableLambda(lambda x: x, name="first") | RunnableLambda(slow, name="slow")
    task = asyncio.ensure_future(chain.ainvoke(1, config={"callbacks": [handler]}))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    real_failure(handler)
    records = read(handler, path)
    cancelled = [r for r in records if r["event"] == "chain_error" and r.get("interrupted")]
    assert {r["name"] for r in cancelled} == {"slow", "RunnableSequence"}
    assert {r["interrupt"] for r in cancelled} == {"cancelled"}
    check_counts(path, traces=2, failed_traces=1, errors=2, interrupted=2, interrupted_traces=1)
    chaos.count(GROUP, inputs=2, records=len(records),
                lost=dishonest(records, stops=("CancelledError",), failures=("ValueError",)))


def test_sys_exit_mid_run_is_a_stop_not_a_failure(log: tuple[FileCallbackHandler, Path]) -> None:
    """sys.exit() inside a run (a service's graceful SIGTERM handler calls it) stops the run:
    its records say ``interrupt: exit``, and stats and the report count no failure."""
    handler, path = log

    def leave(_: Any) -> Any:
        raise SystemExit(0)

    chain = RunnableLambda(lambda x: x, name="first") | RunnableLambda(leave, name="leave")
    with pytest.raises(SystemExit):
        chain.invoke(1, config={"callbacks": [handler]})
    real_failure(handler)
    records = read(handler, path)
    stopped = [r for r in records if r["event"] == "chain_error" and r.get("interrupted")]
    assert {r["name"] for r in stopped} == {"leave", "RunnableSequence"}
    assert {r["interrupt"] for r in stopped} == {"exit"}
    check_counts(path, traces=2, failed_traces=1, errors=2, interrupted=2, interrupted_traces=1)
    chaos.count(GROUP, inputs=2, records=len(records),
                lost=dishonest(records, stops=("SystemExit",), failures=("ValueError",)))


# -- a branch that finishes after its root failed --------------------------------------------


async def test_late_branch_of_failed_parallel_keeps_its_end_and_trace(
        log: tuple[FileCallbackHandler, Path]) -> None:
    """Async RunnableParallel: one branch fails fast, the other finishes later. The slow branch
    records its real end (never aborted), and the step it starts after the root failed stays in
    the trace under its parent: one ainvoke, one trace, one failed trace."""
    handler, path = log
    done = asyncio.Event()

    async def fast(x: Any) -> Any:
        raise ValueError("fast branch failed")

    async def slow(x: Any) -> Any:
        await asyncio.sleep(0.2)
        return "slow ok"

    def after(x: Any) -> Any:
        done.set()
        return x + "!"

    parallel = RunnableParallel(
        fast=RunnableLambda(fast, name="fast"),
        slow=RunnableLambda(slow, name="slow") | RunnableLambda(after, name="after_slow"))
    with pytest.raises(ValueError, match="fast branch failed"):
        await parallel.ainvoke(1, config={"callbacks": [handler]})
    await asyncio.wait_for(done.wait(), 10)
    await asyncio.sleep(0.05)  # the branch's sequence ends right after its last step
    records = read(handler, path)

    root = records[0]
    assert root["parent_run_id"] is None
    assert {r["trace_id"] for r in records} == {root["run_id"]}
    ends = closings(records)
    by_name = {r["name"]: r for r in ends.values()}
    assert by_name["fast"]["event"] == "chain_error"
    assert "interrupted" not in by_name["fast"]
    assert by_name["slow"]["event"] == "chain_end" and by_name["slow"]["outputs"] == "slow ok"
    assert by_name["after_slow"]["event"] == "chain_end"
    late_start = starts(records)[by_name["after_slow"]["run_id"]]
    assert late_start["parent_run_id"] == by_name["RunnableSequence"]["run_id"]
    assert late_start["depth"] == 2
    # the root's end came before the slow branch's end, and nothing was aborted
    order = [r["run_id"] for r in records]
    assert order.index(root["run_id"]) < order.index(by_name["slow"]["run_id"])
    assert not [r for r in records if r.get("aborted")]
    check_counts(path, traces=1, failed_traces=1, errors=2, interrupted=0, interrupted_traces=0)
    chaos.count(GROUP, inputs=1, records=len(records),
                lost=dishonest(records, failures=("ValueError",)))


# -- the handler's own bookkeeping --------------------------------------------------------------


def collector() -> tuple[CallbackHandler, list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    return CallbackHandler(lambda text: records.append(json.loads(text)), JsonlFormatter(),
                           processors=()), records


def test_runs_outliving_their_root_are_bounded_and_closed_at_abort() -> None:
    """Runs still open when their root ends stay tracked until they end; past the cap the
    oldest is closed as aborted (its late end dropped), and abort_open_runs closes the rest."""
    handler, records = collector()
    handler._tracker.max_outliving = 3
    children = []
    for _ in range(5):
        root, child = uuid.uuid4(), uuid.uuid4()
        handler.on_chain_start({}, {}, run_id=root)
        handler.on_chain_start({}, {}, run_id=child, parent_run_id=root)
        handler.on_chain_end({}, run_id=root)
        children.append((root, child))
    assert set(handler._tracker.runs) == {child for _, child in children[2:]}
    for _, child in children:  # every child ends late; the two evicted ones are not repeated
        handler.on_chain_end({"late": True}, run_id=child)
    ends = [r for r in records if r["event"] in ("chain_end", "chain_error")]
    evicted = [r for r in ends if r.get("aborted")]
    assert [r["run_id"] for r in evicted] == [str(c) for _, c in children[:2]]
    late = [r for r in ends if r.get("outputs") == {"late": True}]
    assert [r["run_id"] for r in late] == [str(c) for _, c in children[2:]]
    assert all(r["trace_id"] == str(root) for r, (root, _) in zip(late, children[2:],
                                                                strict=True))
    tracker = handler._tracker
    assert tracker.runs == {} and tracker.trace_runs == {} and not tracker.outliving

    root, child = uuid.uuid4(), uuid.uuid4()
    handler.on_chain_start({}, {}, run_id=root)
    handler.on_chain_start({}, {}, run_id=child, parent_run_id=root)
    handler.on_chain_end({}, run_id=root)
    handler.abort_open_runs("closing")
    assert records[-1]["run_id"] == str(child) and records[-1]["aborted"] is True
    assert handler._tracker.runs == {} and not handler._tracker.outliving
    chaos.count(GROUP, inputs=6, records=len(records))


# -- logger handlers: a stop is not logged as an error ------------------------------------------


async def test_logger_handlers_log_stops_below_error(tmp_path: Path) -> None:
    """stdlib logging, loguru and structlog get a cancelled run at WARNING and a LangGraph
    handoff at the ordinary level, never at ERROR (where alerts fire); real failures stay ERROR."""
    seen: dict[str, list[tuple[str, str, str]]] = {"logging": [], "loguru": [], "structlog": []}

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            err = getattr(record, "error", None) or {}
            seen["logging"].append((record.levelname, record.event, err.get("type", "")))

    std = logging.getLogger(f"honest.{uuid.uuid4().hex}")
    std.propagate = False
    std.setLevel(logging.INFO)
    std.addHandler(Keep())

    def keep_loguru(message: Any) -> None:
        extra = message.record["extra"]
        seen["loguru"].append((message.record["level"].name, extra.get("event"),
                               (extra.get("error") or {}).get("type", "")))

    token = uuid.uuid4().hex
    sink = loguru_logger.add(keep_loguru, level="INFO",
                             filter=lambda r: r["extra"].get("honest") == token)

    def keep_structlog(_: Any, method: str, event_dict: dict[str, Any]) -> Any:
        seen["structlog"].append((method, event_dict.get("lc_event"),
                                  (event_dict.get("error") or {}).get("type", "")))
        raise structlog.DropEvent

    handlers = [LoggingCallbackHandler(std),
                LoguruCallbackHandler(loguru_logger.bind(honest=token)),
                StructlogCallbackHandler(structlog.wrap_logger(
                    structlog.PrintLogger(), processors=[keep_structlog]))]
    try:
        started = asyncio.Event()

        async def slow(x: Any) -> Any:
            started.set()
            await asyncio.sleep(60)

        chain = RunnableLambda(lambda x: x, name="first") | RunnableLambda(slow, name="slow")
        task = asyncio.ensure_future(chain.ainvoke(1, config={"callbacks": handlers}))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        await handoff_graph().ainvoke({"x": "a"}, {"callbacks": handlers})
        real_failure(handlers)
        for handler in handlers:  # under a loop, logger sinks write on their own thread
            await asyncio.to_thread(handler.flush)
    finally:
        loguru_logger.remove(sink)
    lost = 0
    for name, records in seen.items():
        levels = {kind: {lvl.upper() for lvl, _, k in records if k == kind}
                  for kind in ("CancelledError", "ParentCommand", "ValueError")}
        assert levels["CancelledError"] == {"WARNING"}, (name, records)
        assert levels["ParentCommand"] == {"INFO"}, (name, records)
        assert levels["ValueError"] == {"ERROR"}, (name, records)
        lost += sum(1 for lvl, _, k in records
                    if k in ("CancelledError", "ParentCommand") and lvl.upper() == "ERROR")
    chaos.count(GROUP, inputs=3, records=sum(map(len, seen.values())), lost=lost)
