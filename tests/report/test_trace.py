"""One trace's page data (``chainsink.report.trace_view``): what its search text covers and how
far, tracebacks, chat messages, invocation parameters and time to first token; and the page's
title (``render_html``)."""

from __future__ import annotations

import re
import traceback
from typing import Any

import workloads
from langchain_core.runnables import RunnableLambda

from chainsink.report import render_html, summarize, trace_view
from chainsink.report._trace import FIND_LIMIT
from chainsink.testing import capture_events


def _views(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    summary = summarize(records, keep_records=True)
    return [trace_view(t, t.records or []) for t in summary.selected()]


def _run(name: str) -> tuple[list[dict[str, Any]], Any]:
    with capture_events() as records:
        result = workloads.run_workload(name, [])
    return list(records), result


def test_search_text_holds_answers_messages_and_tool_arguments_without_json() -> None:
    """A LangGraph agent's search text has its model's answer, the messages it was sent and
    its tool's arguments as they read, in lower case, each string once."""
    records, _ = _run("create_agent")
    (view,) = _views(records)
    find = view["find"]
    assert "2 + 2 = 4" in find and "you do arithmetic." in find and "what is 2 + 2?" in find
    assert "\n2 + 2\n" in find  # the calculator's argument, not '"expression": "2 + 2"'
    assert '"expression"' not in find and find == find.lower()
    assert find.count("you do arithmetic.") == 1  # sent twice, searched once
    assert view["cut"] is False


def test_search_text_is_capped_and_says_so() -> None:
    """A trace holding more text than FIND_LIMIT gets a search text of at most that much,
    its names first, and ``cut`` set."""
    words = [f"w{i:06d}" for i in range(FIND_LIMIT // 7 + 100)]
    with capture_events(processors=()) as records:
        RunnableLambda(lambda x: x, name="big_step").invoke(words)
    (view,) = _views(list(records))
    assert view["cut"] is True and len(view["find"]) <= FIND_LIMIT
    assert "big_step" in view["find"] and words[0] in view["find"]
    assert words[-1] not in view["find"]
    page = "".join(render_html(summarize(records), [view]))
    assert 'id="find-note"' in page and f"{FIND_LIMIT:,} characters" in page


def test_an_error_carries_its_traceback_to_the_row_and_the_trace() -> None:
    """An error record's traceback is the failed row's ``tb``, the trace's ``tb`` (the first
    failure's), and in its search text."""
    records, exc = _run("error_chain")
    text = "".join(traceback.format_exception(exc))
    for rec in records:  # as the handler writes it (it may already)
        if rec["event"].endswith("_error"):
            rec["error"].setdefault("traceback", text)
    (view,) = _views(records)
    failed = next(r for r in view["rows"] if r["n"] == "explode")
    assert "in _explode" in failed["tb"] and failed["err"] == "ValueError: boom"
    assert "in _explode" in view["tb"]
    assert "in _explode" in view["find"]
    assert "tb" not in next(r for r in view["rows"] if r["n"] == "PromptTemplate")


def test_a_chat_model_row_has_its_messages_parameters_and_first_token() -> None:
    """A streamed chat model's row lays out its messages by role (no text ``in``/``out``),
    has its invocation parameters and its time to first token (from the first token record,
    the only one the summary keeps, without its text)."""
    records, _ = _run("lcel_stream")
    tokens = [r for r in records if r["event"] == "llm_new_token"]
    assert len(tokens) > 1
    summary = summarize(records, keep_records=True)
    (trace,) = summary.selected()
    kept = [r for r in trace.records or [] if r["event"] == "llm_new_token"]
    assert len(kept) == 1 and "token" not in kept[0] and kept[0]["ts"] == tokens[0]["ts"]
    (view,) = _views(records)
    model = next(r for r in view["rows"] if r["t"] == "llm")
    assert model["msgs"] == [{"r": "system", "c": "You are a terse assistant."},
                             {"r": "human", "c": "Tell me about parrots."}]
    assert model["omsgs"] == [{"r": "ai", "c": "Parrots are colorful birds."}]
    assert "in" not in model and "out" not in model
    assert ["_type", "scripted-fake-chat"] in model["params"]
    assert 0 <= model["ttft"] <= model["ms"]
    invoked, _ = _run("lcel_invoke")
    (plain,) = _views(invoked)
    assert "ttft" not in next(r for r in plain["rows"] if r["t"] == "llm")


def test_tool_calls_and_tool_messages_keep_their_names_and_ids() -> None:
    """An agent's second model call shows the AI's tool call and the tool's answer to it."""
    records, _ = _run("create_agent")
    (view,) = _views(records)
    second = [r for r in view["rows"] if r["t"] == "llm"][1]
    ai, tool = second["msgs"][2], second["msgs"][3]
    assert ai["r"] == "ai" and ai["tc"][0][0] == "calculator" and ai["tc"][0][2] == "call_calc_1"
    assert '"expression": "2 + 2"' in ai["tc"][0][1]
    assert tool == {"r": "tool", "c": "4", "n": "calculator", "id": "call_calc_1"}


def test_the_title_names_the_log_and_its_time_range() -> None:
    """The document's <title> is the log's name and the minutes its records span; a given
    title replaces the name."""
    records, _ = _run("lcel_invoke")
    summary = summarize(records, keep_records=True)
    views = [trace_view(t, t.records or []) for t in summary.selected()]
    page = "".join(render_html(summary, views, sources=["logs/app.jsonl"]))
    title = re.search("<title>(.*)</title>", page)
    assert title is not None
    minute = records[0]["ts"][:16].replace("T", " ")
    assert title.group(1).startswith(f"app.jsonl \u00b7 {minute}")
    assert title.group(1).endswith(" UTC")
    named = "".join(render_html(summary, views, title="<nightly>", sources=["a.jsonl"]))
    assert f"<title>&lt;nightly&gt; \u00b7 {minute}" in named


ODD_VALUES: list[Any] = [None, 0, -1.5, True, "", "text", [], {}, [None, 3, "x"], [[1, {}]],
                         {"generations": [[None, 7, {"message": 5}, {"message": {"content": [
                             None, {"type": "image_url"}, {"type": "text", "text": 9}]}}]]},
                         {"type": None, "content": {"x": 1}, "tool_calls": [None, 1, {}]},
                         {"function": "f", "args": None}, {"__proto__": {"polluted": 1}}]


def test_odd_values_in_any_field_read_never_break_a_trace() -> None:
    """Any JSON value where a report reads messages, generations, tool calls, invocation
    parameters, errors or tokens still gives a trace (as JSON), never an exception."""
    import orjson

    day = "2026-12-01T00:00:00.0000"
    base = {"v": 1, "trace_id": "t", "parent_run_id": None, "name": "odd", "run_type": "llm",
            "tags": [], "metadata": {}}
    for value in ODD_VALUES:
        records = [
            {**base, "event": "chat_model_start", "run_id": "t", "ts": f"{day}01Z",
             "messages": value, "invocation_params": value},
            {**base, "event": "chat_model_start", "run_id": "u", "ts": f"{day}02Z",
             "parent_run_id": "t", "messages": [[value, {"type": "ai", "tool_calls": value,
                                                          "additional_kwargs": value}]]},
            {**base, "event": "llm_new_token", "run_id": "t", "ts": value, "token": value},
            {**base, "event": "llm_end", "run_id": "u", "ts": f"{day}03Z",
             "outputs": value, "usage": value, "model": value},
            {**base, "event": "llm_error", "run_id": "t", "ts": f"{day}04Z",
             "error": value if not isinstance(value, dict) else {**value, "traceback": value}},
        ]
        (view,) = _views(records)
        orjson.dumps(view)
        assert isinstance(view["find"], str) and len(view["rows"]) == 2


def test_a_cut_search_text_keeps_the_answer_over_a_huge_prompt() -> None:
    """When a trace's inputs alone exceed FIND_LIMIT, what the model answered is still
    searchable (answers and errors come before inputs), and ``cut`` is set."""
    from langchain_core.messages import AIMessage
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    model = workloads.UsageFakeChatModel(messages=iter([AIMessage(content="zebra quokka")]))
    parts = FIND_LIMIT // 10_000 + 2  # each under the summary's cut of long strings
    chain = (ChatPromptTemplate.from_messages([("human", f"{{p{k}}}") for k in range(parts)])
             | model | StrOutputParser())
    words = iter(f"c{i:06d}" for i in range(FIND_LIMIT))
    with capture_events(processors=()) as records:
        chain.invoke({f"p{k}": " ".join(next(words) for _ in range(1200))
                      for k in range(parts)})
    (view,) = _views(list(records))
    assert view["cut"] is True and len(view["find"]) <= FIND_LIMIT
    assert "zebra quokka" in view["find"] and "c000000" in view["find"]
