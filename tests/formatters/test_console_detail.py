"""The detailed console: a failure's traceback collapsed under it, [tag]s once traces
interleave, and a prompt shown once."""

from __future__ import annotations

import re
import uuid
import warnings
from typing import Any

import pytest
import workloads

from chainsink import Event, StdOutCallbackHandler
from chainsink.formatters import ConsoleFormatter

from ._events import make

TRACEBACK = """Traceback (most recent call last):
  File "/app/main.py", line 10, in main
    run()
  File "/app/run.py", line 4, in run
    step()
  File "/app/step.py", line 2, in step
    raise ValueError("boom")
ValueError: boom
"""
TAG = re.compile(r"^\[([0-9a-f]{8})\] ")
PROMPT_LINE = "Answer the following questions as best you can."


def _failure(tb: Any = TRACEBACK, **data: Any) -> Event:
    return make("chain_error", depth=0, duration_ms=1.0,
                error={"type": "ValueError", "message": "boom", "traceback": tb}, **data)


def test_detailed_error_shows_the_frame_that_raised_and_counts_the_rest() -> None:
    """Under the error line: how many lines were left out, the raising frame, the exception."""
    text = ConsoleFormatter("detailed", ansi=False)(_failure())
    assert text == ("! chain thing failed (1.0 ms): ValueError: boom\n"
                    "    traceback (5 earlier lines not shown):\n"
                    '      File "/app/step.py", line 2, in step\n'
                    '        raise ValueError("boom")\n'
                    "    ValueError: boom\n")


def test_detailed_traceback_is_dimmed_in_colour() -> None:
    """With colour, every traceback line is dim; the error line stays red."""
    lines = ConsoleFormatter("detailed", ansi=True)(_failure()).splitlines()
    assert lines[0].startswith("\x1b[31;1m! chain thing failed")
    assert len(lines) == 5
    assert all("\x1b[2m" in line and line.endswith("\x1b[0m") for line in lines[1:])


def test_a_long_exception_and_a_group_keep_the_tail_compact() -> None:
    """At most TRACEBACK_LINES lines from the last frame on; an exception group's frames
    (``|``-prefixed) are found too."""
    long_message = TRACEBACK + "".join(f"note {i}\n" for i in range(20))
    body = ConsoleFormatter("detailed", ansi=False)(_failure(long_message)).splitlines()[1:]
    assert body[0] == "    traceback (5 earlier lines not shown, 15 later lines not shown):"
    assert len(body) == 1 + 8
    group = ("  + Exception Group Traceback (most recent call last):\n"
             '  |   File "/app/a.py", line 1, in a\n'
             "  | ExceptionGroup: two (2 sub-exceptions)\n"
             "  +-+---------------- 1 ----------------\n"
             "    | Traceback (most recent call last):\n"
             '    |   File "/app/b.py", line 3, in b\n'
             "    |     raise KeyError(1)\n"
             "    | KeyError: 1\n"
             "    +------------------------------------\n")
    body = ConsoleFormatter("detailed", ansi=False)(_failure(group)).splitlines()[1:]
    assert body[0] == "    traceback (5 earlier lines not shown):"
    assert body[1].endswith('|   File "/app/b.py", line 3, in b')


def test_no_traceback_and_other_styles_are_unchanged() -> None:
    """A record without a traceback shows the error line alone; classic prints nothing for
    errors and the line style only the error line."""
    bare = make("chain_error", depth=0, duration_ms=1.0,
                error={"type": "ValueError", "message": "boom"})
    assert ConsoleFormatter("detailed", ansi=False)(bare) == (
        "! chain thing failed (1.0 ms): ValueError: boom\n")
    assert ConsoleFormatter("classic", ansi=False)(_failure()) == ""
    assert ConsoleFormatter("line", ansi=False)(_failure()) == (
        "! chain thing failed (1.0 ms): ValueError: boom")
    aborted = ConsoleFormatter("detailed", ansi=False)(_failure(aborted=True))
    assert "traceback" not in aborted


def test_real_failure_shows_its_traceback_once_per_trace(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A failing chain: the failing step shows where it raised; the enclosing run failing with
    the same exception says 'as above' instead of repeating it."""
    workloads.error_chain([StdOutCallbackHandler(style="detailed")])
    out = capsys.readouterr().out
    assert re.search(r"  ! chain explode failed \([\d.]+ ms\): ValueError: boom\n"
                     r"      traceback \(\d+ earlier lines not shown\):\n"
                     r'        File ".*workloads.py", line \d+, in _explode\n'
                     r"          raise ValueError\(ERROR_MESSAGE\)\n"
                     r"      ValueError: boom\n"
                     r"! chain RunnableSequence failed \([\d.]+ ms\): ValueError: boom\n"
                     r"    traceback: as above\n", out), out


def _lines_by_trace(out: str) -> list[tuple[str | None, str]]:
    return [(m.group(1) if (m := TAG.match(line)) else None, TAG.sub("", line))
            for line in out.splitlines() if line.strip()]


def test_stdout_tags_lines_once_traces_interleave(capsys: pytest.CaptureFixture[str]) -> None:
    """A second trace starting while the first is open turns [tag]s on, for every line after,
    each with its own trace's tag; the lines before stay bare."""
    handler = StdOutCallbackHandler(style="detailed")
    first = workloads._lcel_chain().stream({"topic": "one"}, config={"callbacks": [handler]})
    next(first)
    before = capsys.readouterr().out
    workloads.invoke_lcel([handler])
    during = capsys.readouterr().out
    list(first)
    after = capsys.readouterr().out
    assert before and not any(tag for tag, _ in _lines_by_trace(before))
    second = _lines_by_trace(during)
    assert second and all(tag is not None for tag, _ in second)
    assert len({tag for tag, _ in second}) == 1
    rest = _lines_by_trace(after)
    assert rest and all(tag is not None for tag, _ in rest)
    assert {tag for tag, _ in rest}.isdisjoint({tag for tag, _ in second})
    # the text behind the tags is the detailed console's
    assert second[0][1] == "> Entering new RunnableSequence chain..."


def test_stdout_runs_one_after_another_stay_untagged(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Traces that never overlap print no tags, however many there are."""
    handler = StdOutCallbackHandler(style="detailed")
    for _ in range(3):
        workloads.invoke_lcel([handler])
    out = capsys.readouterr().out
    assert out.count("> Entering new RunnableSequence chain...") == 3
    assert not any(tag for tag, _ in _lines_by_trace(out))


def test_tags_follow_open_traces_not_late_runs() -> None:
    """The formatter's rule on hand-made events: a trace after another ended is bare; a run
    of an ended trace arriving late is not a new trace; one starting inside another tags."""
    f = ConsoleFormatter("detailed", ansi=False, trace_tags=True)
    a, b, c = uuid.UUID(int=0xA1), uuid.UUID(int=0xB2), uuid.UUID(int=0xC3)

    def ev(kind: str, trace: uuid.UUID, run: uuid.UUID | None = None) -> Event:
        run = run or trace
        return Event(kind, 0.0, run, None if run == trace else trace, trace,
                     0 if run == trace else 1, "x", "chain", [], {}, {})

    assert not f(ev("chain_start", a)).startswith("[")
    assert not f(ev("chain_end", a)).startswith("[")
    assert not f(ev("chain_start", b)).startswith("[")
    assert not f(ev("chain_error", a, uuid.UUID(int=5))).startswith("[")  # a's late run
    assert f(ev("chain_start", c)).startswith("[000000c3] > Entering new x chain...")
    assert f(ev("chain_end", b)).startswith("[000000b2] > Finished x chain.")
    plain = ConsoleFormatter("detailed", ansi=False)
    plain(ev("chain_start", a))
    assert not plain(ev("chain_start", b)).startswith("[")  # tags are asked for


def test_react_agent_prompt_is_printed_once(capsys: pytest.CaptureFixture[str]) -> None:
    """The ReAct agent (create_react_agent): each step's prompt shows in full at the model's
    start only; the inner prompt template's output is not repeated before it."""
    workloads.agent_executor([StdOutCallbackHandler(style="detailed")])
    out = capsys.readouterr().out
    assert out.count(PROMPT_LINE) == 2  # two steps, once each
    assert out.count("> Finished PromptTemplate prompt.") == 2
    assert re.search(r"> Finished PromptTemplate prompt\. \([\d.]+ ms\)\n *> LLM FakeListLLM "
                     r"started\n *" + re.escape(PROMPT_LINE), out)


def test_classic_react_agent_prompt_is_printed_once(
        capsys: pytest.CaptureFixture[str]) -> None:
    """langchain-classic's ZeroShotAgent (an LLMChain per step): the prompt LLMChain prints as
    'Prompt after formatting' is not printed again at the model's start."""
    from langchain_classic.agents import AgentType, initialize_agent
    from langchain_core.language_models import FakeListLLM

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # initialize_agent is deprecated, and still used
        agent = initialize_agent([workloads.calculator],
                                 FakeListLLM(responses=list(workloads.REACT_RESPONSES)),
                                 agent=AgentType.ZERO_SHOT_REACT_DESCRIPTION)
    agent.invoke({"input": "What is 2 + 2?"},
                 config={"callbacks": [StdOutCallbackHandler(style="detailed")]})
    out = capsys.readouterr().out
    assert out.count(PROMPT_LINE) == 2
    assert out.count("Prompt after formatting:") == 2
    assert out.count("prompt: as formatted above") == 2


def test_llm_chain_prompt_shows_once_and_stays_when_the_model_is_not_seen(
        capsys: pytest.CaptureFixture[str]) -> None:
    """LLMChain with request callbacks: once, then 'as formatted above'; with callbacks on the
    LLMChain only (its model unseen), the formatted prompt is still there."""
    prompt = "What is a good name for a company that makes colorful socks?"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workloads.llm_chain([StdOutCallbackHandler(style="detailed")], mode="request")
        request = capsys.readouterr().out
        workloads.llm_chain([StdOutCallbackHandler(style="detailed")], mode="constructor")
        constructor = capsys.readouterr().out
    assert request.count(prompt) == 1
    assert "> LLM FakeListLLM started\n      prompt: as formatted above\n" in request
    assert constructor.count(prompt) == 1
    assert "Prompt after formatting:" in constructor
    assert "> LLM" not in constructor


def test_a_different_prompt_at_the_model_start_is_shown() -> None:
    """A model start whose prompt differs from what its LLMChain printed shows its own."""
    f = ConsoleFormatter("detailed", ansi=False)
    chain, llm = uuid.UUID(int=1), uuid.UUID(int=2)
    text = Event("text", 0.0, chain, None, chain, 0, "LLMChain", "chain", [], {},
                 {"text": "Prompt after formatting:\n\x1b[32;1m\x1b[1;3mHello\x1b[0m",
                  "display": {"end": "\n"}})
    start = Event("llm_start", 0.0, llm, chain, chain, 1, "llm", "llm", [], {},
                  {"prompts": ["Goodbye"]})
    assert "Hello" in f(text)
    assert f(start) == "  > LLM llm started\n      Goodbye\n"
    f(text)
    assert f(start._replace(data={"prompts": ["Hello"]})).endswith("prompt: as formatted above\n")
