"""LogFormatter decides what a logger gets: level, brief message, the record as fields."""

from __future__ import annotations

import json
import logging
import pickle
from typing import Any

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from chainsink import Event
from chainsink.formatters import (
    ConsoleFormatter,
    JsonlFormatter,
    LogFormatter,
    LogLine,
    json_record,
)
from chainsink.formatters._logline import CLIP

from ._events import make

ERROR = {"type": "ValueError", "message": "boom"}



def answer(text: str, **message: Any) -> LLMResult:
    return LLMResult(generations=[[ChatGeneration(message=AIMessage(content=text, **message))]])


LEVELS = LogFormatter("INFO", error="ERROR", warning="WARNING", token="TRACE")


@pytest.mark.parametrize(("event", "level"), [
    (make("chain_error", error=ERROR), "ERROR"),
    (make("tool_error", error=ERROR, interrupted=True, interrupt="cancelled"), "WARNING"),
    (make("llm_error", error=ERROR, aborted=True), "WARNING"),
    (make("chain_error", error=ERROR, interrupted=True, interrupt="handoff"), "INFO"),
    (make("llm_new_token", token="tok"), "TRACE"),
    (make("chain_start", inputs={"q": 1}), "INFO"),
    (make("retry", attempt=2, error=ERROR), "INFO"),
])
def test_level_follows_what_happened(event: Event, level: str) -> None:
    """Failures at error; runs stopped without failing at warning (a handoff at the ordinary
    level); streamed tokens at the token level; the rest at the ordinary level."""
    assert LEVELS(event).level == level


def test_level_for_a_kind_is_known_before_the_event() -> None:
    """level_for answers per kind (what a sink's pre-check asks): an error kind at error."""
    assert LEVELS.level_for("tool_error") == "ERROR"
    assert LEVELS.level_for("llm_new_token") == "TRACE"
    assert LEVELS.level_for("chain_end") == "INFO"
    assert LogFormatter().level_for("llm_new_token") == logging.DEBUG


def test_message_starts_with_the_console_line_and_tells_the_answer() -> None:
    """An LLM end reads as the console line (duration, tokens) plus the answer, quoted."""
    event = make("llm_end", outputs=answer("The answer is 4."), duration_ms=12.0, model="m1",
                 usage={"input_tokens": 5, "output_tokens": 10, "total_tokens": 15})
    line = LEVELS(event)
    head = ConsoleFormatter("line", ansi=False)(event)
    assert line == f'{head} -> "The answer is 4."'
    assert "(12.0 ms)" in line and "5 in, 10 out, 15 total" in line


@pytest.mark.parametrize(("event", "tail"), [
    (make("tool_start", input_str="2 + 2"), ' "2 + 2"'),
    (make("tool_end", outputs=ToolMessage(content="4", tool_call_id="c1"), duration_ms=1.0),
     ' -> "4"'),
    (make("tool_end", outputs="4", duration_ms=1.0), ' -> "4"'),
    (make("chain_start", depth=0, inputs={"question": "why?"}), ' {"question":"why?"}'),
    (make("chain_end", depth=0, outputs={"output": "42"}, duration_ms=1.0),
     ' -> {"output":"42"}'),
    (make("chain_end", depth=0, outputs={"messages": [AIMessage(content="hi"),
                                                      AIMessage(content="last")]},
          duration_ms=1.0), ' -> "last"'),
    (make("llm_end", outputs=answer("", tool_calls=[
        {"name": "calculator", "args": {"expression": "2 + 2"}, "id": "c1"}]),
        duration_ms=1.0), ' -> calculator({"expression":"2 + 2"})'),
    (make("agent_action", tool="calculator", tool_input="2 + 2", log="x"), ' "2 + 2"'),
    (make("agent_finish", return_values={"output": "4"}, log="x"), ' -> {"output":"4"}'),
    (make("retriever_start", query="cats"), ' "cats"'),
])
def test_message_shows_the_content_in_brief(event: Event, tail: str) -> None:
    """Each kind's message is its console line plus what went in or came out."""
    head = ConsoleFormatter("line", ansi=False)(event)
    assert LEVELS(event) == head + tail


def test_inner_chains_and_placeholder_inputs_show_just_their_line() -> None:
    """The steps inside a trace (depth > 0) and a root given no inputs yet ({"input": ""},
    or inputs that come at its end) show just their console line."""
    for event in (make("chain_start", depth=0, inputs={"input": ""}),
                  make("chain_start", depth=0, inputs={}, defers_inputs=True),
                  make("chain_start", inputs={"question": "why?"}),
                  make("chain_end", outputs={"output": "42"}, duration_ms=1.0)):
        assert LEVELS(event) == ConsoleFormatter("line", ansi=False)(event)


def test_content_is_clipped_to_one_line() -> None:
    """Long or multi-line content is cut at CLIP characters and stays on the message's line;
    the run's control characters show as text."""
    long = "word " * 100
    line = LEVELS(make("tool_end", outputs=long + "\nmore", duration_ms=1.0))
    shown = line.split(" -> ", 1)[1]
    assert shown == json.dumps(long[:CLIP] + "...")
    line = LEVELS(make("tool_end", outputs="a\nb\x1b[2J\x9bc", duration_ms=1.0))
    assert "\n" not in line and "\x1b" not in line and "\x9b" not in line
    assert line.endswith('-> "a\\nb\\u001b[2J\\x9bc"')
    nested = LEVELS(make("chain_end", depth=0, outputs={"k": ["x" * 300]}, duration_ms=1.0))
    assert len(nested.split(" -> ", 1)[1]) == CLIP + 3


def test_fields_are_the_whole_record_as_json_values() -> None:
    """fields is the JSONL record, key for key, as plain JSON values."""
    event = make("llm_end", outputs=answer("x"), duration_ms=2.0)
    fields = LEVELS(event).fields
    assert fields == json_record(event) == json.loads(JsonlFormatter()(event))


def test_rename_moves_reserved_keys() -> None:
    """Keys the logger reserves are renamed; the rest keep their names and values."""
    event = make("chain_start", inputs={"q": 1})
    fields = LogFormatter(rename={"event": "lc_event", "name": "run_name"})(event).fields
    assert fields is not None
    assert fields["lc_event"] == "chain_start" and fields["run_name"] == "thing"
    assert "event" not in fields and "name" not in fields
    assert set(fields) == (set(json_record(event)) - {"event", "name"}) | {"lc_event",
                                                                              "run_name"}


def test_an_empty_console_line_logs_nothing() -> None:
    """A text event without text renders as an empty (false) line: the handler skips it."""
    assert not LEVELS(make("text", text=""))


def test_log_line_is_a_str_that_pickles() -> None:
    """A LogLine is the message string; it pickles with its level and fields."""
    line = LEVELS(make("chain_start", inputs={"q": 1}))
    assert isinstance(line, str) and isinstance(line, LogLine)
    copy = pickle.loads(pickle.dumps(line))
    assert (copy, copy.level, copy.fields) == (line, line.level, line.fields)


def test_levels_must_be_names_or_numbers() -> None:
    """A level that is neither a name nor a number is refused when the formatter is built."""
    with pytest.raises(TypeError):
        LogFormatter(level=None)  # type: ignore[arg-type]
