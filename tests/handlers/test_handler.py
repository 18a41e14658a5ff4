"""The generic handler: events in order, state freed, failures contained, inline under asyncio."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from typing import Any

import pytest
from langchain_core.callbacks import adispatch_custom_event, dispatch_custom_event
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda

from chainsink import CallbackHandler, Event
from chainsink.formatters import JsonlFormatter
from chainsink.sinks import Sink


def chain() -> Any:
    model = GenericFakeChatModel(messages=iter([AIMessage(content="one two three")]))
    return ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()


def collect() -> tuple[CallbackHandler, list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    handler = CallbackHandler(lambda text: records.append(json.loads(text)), JsonlFormatter())
    return handler, records


def test_stream_records_every_event_with_tree() -> None:
    """A streamed chain yields starts, tokens and ends, all under one trace with depths."""
    handler, records = collect()
    out = "".join(chain().stream({"q": "hi"}, config={"callbacks": [handler]}))
    assert out == "one two three"
    kinds = [r["event"] for r in records]
    assert kinds[0] == "chain_start" and kinds[-1] == "chain_end"
    # "one", " ", "two", " ", "three" streamed: one record each, each a token late and
    # carrying the text up to its finished word (a word is decided when its separator comes)
    assert [r["token"] for r in records if r["event"] == "llm_new_token"] == [
        "", "one ", "", "two ", "three"]
    root = records[0]["run_id"]
    assert {r["trace_id"] for r in records} == {root}
    assert {r["depth"] for r in records if r["run_id"] != root} == {1}
    assert records[-1]["inputs"] == {"q": "hi"}  # a stream's real inputs come with its end


def test_trace_state_is_freed() -> None:
    """After a trace ends the handler holds no per-trace state; a run still open when its root
    ended is kept only until its own end."""
    handler, _ = collect()
    for _ in range(3):
        chain().invoke({"q": "x"}, config={"callbacks": [handler]})
    assert handler._tracker.runs == {} and handler._tracker.trace_runs == {}
    root, child = uuid.uuid4(), uuid.uuid4()
    handler.on_chain_start({}, {}, run_id=root)
    handler.on_chain_start({}, {}, run_id=child, parent_run_id=root)  # ends after its root
    handler.on_chain_end({}, run_id=root)
    assert list(handler._tracker.runs) == [child] and handler._tracker.trace_runs == {}
    handler.on_chain_end({}, run_id=child)
    tracker = handler._tracker
    assert tracker.runs == {} and tracker.trace_runs == {} and not tracker.outliving


def test_lifecycle_disorder_is_recorded_not_raised() -> None:
    """End without start, double end, token after end: each is recorded, none raises."""
    handler, records = collect()
    rid = uuid.uuid4()
    handler.on_chain_end({"x": 1}, run_id=rid)
    handler.on_chain_start(None, {}, run_id=rid)
    handler.on_chain_end({}, run_id=rid)
    handler.on_chain_end({}, run_id=rid)
    handler.on_llm_new_token("late", run_id=rid)
    handler.on_chain_error(ValueError("after end"), run_id=rid)
    assert [r["event"] for r in records] == ["chain_end", "chain_start", "chain_end",
                                             "chain_end", "llm_new_token", "chain_error"]
    assert records[0]["name"] == "<unknown>" and records[0]["duration_ms"] is None
    assert records[1]["name"] == "<unknown>"


def test_a_run_that_ends_after_it_was_aborted_gets_no_second_closing_record() -> None:
    """abort_open_runs() (at exit, with a daemon thread still working) closes the open runs;
    their own ends, if they still come, are dropped: one closing record per run."""
    from langchain_core.runnables import RunnableLambda

    handler, records = collect()

    def step(x: int) -> int:
        handler.abort_open_runs()  # the interpreter exits while this run is still going
        return x

    chain = RunnableLambda(lambda x: x, name="first") | RunnableLambda(step, name="step")
    assert chain.invoke(1, config={"callbacks": [handler]}) == 1
    closing = [(r["name"], r["event"]) for r in records if not r["event"].endswith("_start")]
    assert sorted(closing) == [("RunnableSequence", "chain_error"), ("first", "chain_end"),
                               ("step", "chain_error")], closing
    assert all(r.get("aborted") for r in records if r["event"] == "chain_error")


@pytest.mark.parametrize("serialized", [None, {}, {"id": []}, {"name": None}, {"id": "x"}])
def test_odd_serialized_gets_a_name(serialized: Any) -> None:
    """serialized None, {}, {"id": []} or odd shapes resolve to '<unknown>' without raising."""
    handler, records = collect()
    handler.on_chain_start(serialized, {}, run_id=uuid.uuid4())
    assert records[0]["name"] == "<unknown>"


def test_name_precedence() -> None:
    """The name kwarg wins, then serialized name, then the last part of serialized id."""
    handler, records = collect()
    handler.on_chain_start({"name": "S", "id": ["a", "I"]}, {}, run_id=uuid.uuid4(), name="K")
    handler.on_chain_start({"name": "S", "id": ["a", "I"]}, {}, run_id=uuid.uuid4())
    handler.on_chain_start({"id": ["a", "I"]}, {}, run_id=uuid.uuid4())
    assert [r["name"] for r in records] == ["K", "S", "I"]


class Exploding(Sink):
    def write(self, text: str, event: Any = None) -> None:
        raise OSError("disk on fire")

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_failing_sink_never_reaches_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    """A sink that raises is reported once on stderr; the chain's result is unchanged."""
    handler = CallbackHandler(Exploding(), JsonlFormatter())
    for _ in range(2):
        assert chain().invoke({"q": "x"}, config={"callbacks": [handler]}) == "one two three"
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("chainsink:")]
    assert len(lines) == 1  # one line for the whole kind of failure, not one per event
    assert "OSError: disk on fire" in lines[0] and "on_chain_start" in lines[0]


def test_raise_error_propagates() -> None:
    """With raise_error=True a failure inside the handler reaches the caller."""
    handler = CallbackHandler(Exploding(), JsonlFormatter(), raise_error=True)
    with pytest.raises(OSError, match="disk on fire"):
        chain().invoke({"q": "x"}, config={"callbacks": [handler]})


def test_processors_can_change_or_drop_events() -> None:
    """Processors run in order before formatting; returning None drops the event."""
    seen: list[str] = []

    def only_ends(event: Event) -> Event | None:
        return event if event.event.endswith("_end") else None

    def rename(event: Event) -> Event:
        return event.replace(name=event.name.upper())

    handler = CallbackHandler(seen.append, lambda e: e.name, processors=[only_ends, rename])
    chain().invoke({"q": "x"}, config={"callbacks": [handler]})
    assert seen and all(name.isupper() for name in seen)
    assert "RUNNABLESEQUENCE" in seen


async def test_async_runs_inline_on_the_loop_thread() -> None:
    """Under ainvoke the handler runs on the event loop's thread (no executor hop)."""
    threads: set[int] = set()

    def formatter(event: Event) -> str:
        threads.add(threading.get_ident())
        return ""

    handler = CallbackHandler(lambda text: None, formatter)
    await asyncio.gather(*(chain().ainvoke({"q": str(i)}, config={"callbacks": [handler]})
                           for i in range(5)))
    assert threads == {threading.get_ident()}


async def test_custom_events_are_recorded() -> None:
    """dispatch_custom_event / adispatch_custom_event become custom_event records."""
    handler, records = collect()

    def step(x: str) -> str:
        dispatch_custom_event("progress", {"percent": 30})
        return x

    async def astep(x: str) -> str:
        await adispatch_custom_event("progress", {"percent": 60})
        return x

    RunnableLambda(step).invoke("a", config={"callbacks": [handler]})
    await RunnableLambda(astep).ainvoke("a", config={"callbacks": [handler]})
    custom = [r for r in records if r["event"] == "custom_event"]
    assert [c["data"] for c in custom] == [{"percent": 30}, {"percent": 60}]
    assert all(c["event_name"] == "progress" for c in custom)


def test_replacing_sink_formatter_or_processors_takes_effect() -> None:
    """Setting ``handler.sink``, ``.formatter`` or ``.processors`` after the handler was made
    (a subclass's __init__ does) changes where and how the next events are written."""
    import io

    from chainsink.formatters import ConsoleFormatter

    first, second = io.StringIO(), io.StringIO()
    handler = CallbackHandler(first, JsonlFormatter())
    handler.formatter = ConsoleFormatter("detailed", ansi=False)
    handler.processors = ()
    handler.sink = second
    RunnableLambda(lambda x: x).invoke({"api_key": "sk-live-0123456789abcdefghij"},
                                       {"callbacks": [handler]})
    handler.close()
    assert first.getvalue() == ""
    text = second.getvalue()
    assert text.startswith("> Entering new RunnableLambda chain...")
    assert "sk-live-0123456789abcdefghij" in text  # processors=() kept it as given


def test_replacing_the_formatter_mid_stream_keeps_every_token() -> None:
    """Tokens streamed after the formatter changed use the new one (no stale shortcut)."""
    records: list[str] = []
    handler = CallbackHandler(records.append, JsonlFormatter(), processors=())
    model = GenericFakeChatModel(messages=iter([AIMessage(content="one two three four")]))
    chunks = []
    for i, chunk in enumerate(model.stream("hi", config={"callbacks": [handler]})):
        chunks.append(chunk)
        if i == 1:
            handler.formatter = lambda event: f"{event.event}\n"
    handler.close()
    assert "llm_new_token\n" in records and "llm_end\n" in records
    assert sum(1 for r in records if "llm_new_token" in r) == len(chunks)
