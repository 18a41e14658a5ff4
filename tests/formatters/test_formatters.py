"""Formatters are pure functions of an event: tested by calling them on events."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from chainsink.formatters import (
    ConsoleFormatter,
    JsonlFormatter,
    LogFormatter,
    color_enabled,
    strip_ansi,
)

from ._events import ROOT, RUN, make


def test_jsonl_has_schema_keys_in_order() -> None:
    """A JSONL line carries v, ts (RFC 3339 UTC with microseconds) and the run keys first."""
    line = JsonlFormatter()(make("chain_end", outputs={"a": 1}, duration_ms=1.5))
    assert line.endswith("\n") and line.count("\n") == 1
    rec = json.loads(line)
    assert list(rec)[:11] == ["v", "ts", "event", "run_id", "parent_run_id", "trace_id",
                              "depth", "name", "run_type", "tags", "metadata"]
    assert rec["v"] == 1
    assert rec["ts"] == "2025-01-02T03:04:05.000000Z"
    assert rec["run_id"] == str(RUN) and rec["trace_id"] == str(ROOT)
    assert rec["outputs"] == {"a": 1} and rec["duration_ms"] == 1.5


def test_jsonl_never_contains_a_raw_newline() -> None:
    """Newlines and carriage returns inside values are escaped, so one event is one line."""
    line = JsonlFormatter()(make("text", text="a\nb\rc\u2028"))
    assert line.count("\n") == 1 and "\r" not in line


def test_classic_stdout_chain_lines_are_bold() -> None:
    """Classic stdout style prints LangChain's bold Entering/Finished lines."""
    fmt = ConsoleFormatter("classic")
    assert fmt(make("chain_start")) == "\n\n\x1b[1m> Entering new thing chain...\x1b[0m\n"
    assert fmt(make("chain_end")) == "\n\x1b[1m> Finished chain.\x1b[0m\n"


def test_classic_file_style_matches_file_handler() -> None:
    """Classic file style has no bold and leaves tool output uncoloured, like LangChain's file."""
    fmt = ConsoleFormatter("classic", like="file", color="green")
    assert fmt(make("chain_start")) == "\n\n> Entering new thing chain...\n"
    out = fmt(make("tool_end", outputs=4, display={"color": "blue",
                                                   "observation_prefix": "Observation: ",
                                                   "llm_prefix": "Thought:"}))
    assert out == "\nObservation: 4\nThought:"


def test_classic_prints_nothing_for_llm_events() -> None:
    """Events LangChain's handler ignores render as the empty string."""
    assert ConsoleFormatter("classic")(make("llm_new_token", token="x")) == ""


def test_plain_output_strips_ansi_from_content() -> None:
    """With ansi=False no escape code survives, even ones inside the run's own text."""
    fmt = ConsoleFormatter("classic", ansi=False)
    out = fmt(make("text", text="\x1b[31mred\x1b[0m", display={"color": "green", "end": "\n"}))
    assert out == "red\n"


def test_detailed_shows_llm_output_usage_and_red_errors() -> None:
    """Detailed style shows generations, model, token usage and errors in red."""
    fmt = ConsoleFormatter("detailed")
    result = LLMResult(generations=[[ChatGeneration(message=AIMessage(content="the answer"))]])
    end = fmt(make("llm_end", outputs=result, duration_ms=3.25, model="m1",
                   usage={"input_tokens": 2, "output_tokens": 3, "total_tokens": 5}))
    assert "the answer" in end and "[m1]" in end and "5 total" in end and "3.2" in end
    assert end.startswith("  ")  # depth 1 is indented
    err = fmt(make("chain_error", error={"type": "ValueError", "message": "boom"},
                   duration_ms=1.0))
    assert "\x1b[31;1m" in err and "ValueError: boom" in err


def test_detailed_custom_event() -> None:
    """A custom event shows its name and data under its run."""
    out = ConsoleFormatter("detailed", ansi=False)(
        make("custom_event", event_name="progress", data={"percent": 30}))
    assert out.strip() == 'progress {"percent":30}'


def test_line_style_is_the_detailed_first_line_for_every_kind() -> None:
    """The one-line style (the start of the logger handlers' message) shows what the detailed
    console's first line shows, for every event kind, though it skips building the detailed
    body; the logger message goes on with the content in brief (here, the model's answer)."""
    result = LLMResult(generations=[[ChatGeneration(message=AIMessage(content="the answer"))]])
    error = {"type": "ValueError", "message": "boom"}
    events = [
        make("chain_start", inputs={"q": "hi"}), make("chain_start", depth=0, inputs="x"),
        make("chain_end", outputs={"a": 1}, duration_ms=1.5,
             usage_by_model={"m": {"input_tokens": 1, "output_tokens": 2,
                                   "total_tokens": 3, "calls": 1}}),
        make("llm_start", prompts=["p1", "p2"]),
        make("chat_model_start", messages=[[AIMessage(content="m")]]),
        make("llm_end", outputs=result, duration_ms=3.25, model="m1",
             usage={"input_tokens": 2, "output_tokens": 3, "total_tokens": 5}),
        make("tool_start", input_str="2 + 2"), make("tool_end", outputs="4", duration_ms=2.0),
        make("retriever_start", query="cats"),
        make("retriever_end", outputs={"documents": [{"page_content": "c", "metadata": {}}]},
             duration_ms=1.0),
        make("chain_error", error=error, duration_ms=1.0),
        make("tool_error", error=error, interrupted=True), make("llm_error", error=error),
        make("agent_action", tool="calculator", log="I should add"),
        make("agent_finish", log="4\nis the answer"),
        make("text", text="Thought: add\nthen answer"), make("retry", attempt=2, error=error),
        make("custom_event", event_name="progress", data={"percent": 30}),
        make("llm_new_token", token="tok"),
    ]
    line, detailed = ConsoleFormatter("line", ansi=False), ConsoleFormatter("detailed", ansi=False)
    message = LogFormatter()
    for event in events:
        expected = detailed(event).split("\n", 1)[0].strip() if event.event != "llm_new_token" \
            else "token tok"
        assert line(event) == expected, event.event
        assert line(event), event.event
        assert message(event).startswith(expected), event.event
        if event.event == "llm_end":
            assert message(event) == expected + ' -> "the answer"'


def test_bad_options_fail_at_construction() -> None:
    """Unknown style or like values raise ValueError when the formatter is built."""
    with pytest.raises(ValueError):
        ConsoleFormatter("fancy")
    with pytest.raises(ValueError):
        ConsoleFormatter("classic", like="printer")
    with pytest.raises(ValueError, match="ansi=False"):
        ConsoleFormatter("classic", color=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ConsoleFormatter("classic", color="purple")


def test_color_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_COLOR beats FORCE_COLOR beats isatty."""

    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert color_enabled(Tty()) is True
    assert color_enabled(None) is False
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert color_enabled(None) is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert color_enabled(Tty()) is False


def test_strip_ansi() -> None:
    """strip_ansi removes SGR and other CSI sequences."""
    assert strip_ansi("\x1b[32;1m\x1b[1;3mhi\x1b[0m \x1b[2Kx") == "hi x"
