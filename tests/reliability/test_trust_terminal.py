"""Log content is data: nothing a run carries controls the terminal it is shown on.

Runs whose names, inputs, outputs, prompts, tool I/O, errors, agent logs and custom events carry
terminal escapes (OSC 52 clipboard writes, OSC 0 titles, screen clears, C1 controls, ``\\r``
overwrites, backspaces, device queries) are recorded, then shown by ``chainsink tail`` (a real
process, every style, colour on and off) and by the consoles (stdout classic and detailed, text
and ANSI files). The bytes printed may hold chainsink's own SGR colour codes and nothing else that
a terminal acts on; each escape from the run shows as text (``\\x1b``, ``\\x9b``, ``\\r``).

``tail -f`` follows a log rewritten within one poll, and ``chainsink run --log`` refuses a log
it could not write before it runs anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import chaos
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.callbacks import StdOutCallbackHandler as CoreStdOut
from langchain_core.callbacks.manager import dispatch_custom_event
from langchain_core.language_models import FakeListLLM, GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.prompts import PromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import StructuredTool

import chainsink
from chainsink import Event
from chainsink.formatters import ConsoleFormatter

GROUP = "terminal control"
README = chaos.TESTS.parent / "README.md"

#: Escapes a model, a tool or a user can put into a run, each with a word to find it by.
PAYLOADS = {
    "osc52": "\x1b]52;c;Y2xpcGJvYXJk\x07",       # write the clipboard
    "osc0": "\x1b]0;pwned-title\x07",            # set the window title
    "osc8": "\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\",
    "clear": "\x1b[2J\x1b[H",                    # clear the screen, cursor home
    "up": "\x1b[1A\x1b[K",                       # cursor up, erase the line
    "dsr": "\x1b[6n",                             # ask the terminal to type an answer
    "dcs": "\x1bP+q544e\x1b\\",                  # a device control string
    "ris": "\x1bc",                               # reset the terminal
    "c1csi": "\x9b2J",                            # clear the screen with a C1 CSI
    "c1osc": "\x9d0;c1-title\x9c",               # a title with C1 OSC ... ST
    "cr": "visible\roverwritten",                 # overwrite the line start
    "bs": "shown\b\b\b\b\bhidden",                # back over what was shown
    "bel": "ding\x07",
    "conceal": "\x1b[8mconcealed\x1b[28m",        # an SGR code that hides text
}
HOSTILE = "[" + "|".join(PAYLOADS.values()) + "]"

#: Every escape code chainsink itself prints: LangChain's palette and bold italic, bold, dim,
#: reset, the detailed style's red, and the trace tag colours of ``tail``.
OWN_CODES = ["\x1b[0m", "\x1b[1m", "\x1b[2m", "\x1b[1;3m", "\x1b[31;1m", "\x1b[36;1m",
             "\x1b[33;1m", "\x1b[38;5;200m", "\x1b[32;1m",
             *(f"\x1b[{c}m" for c in (36, 33, 35, 32, 34, 96, 93, 95))]
_OWN = re.compile("|".join(map(re.escape, OWN_CODES)))
#: What a terminal acts on: C0 but newline and tab, DEL, C1 (a lone CR too: \r\n is a line end).
_CONTROL = re.compile("\r(?!\n)|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def leaks(text: str) -> list[str]:
    """The control characters in ``text`` other than those of chainsink's own colour codes."""
    return _CONTROL.findall(_OWN.sub("", text))


def shown(text: str) -> str:
    """``text`` as the README says chainsink shows run content: controls as ``\\xNN`` text."""
    def one(m: re.Match[str]) -> str:
        return "\\r" if m.group() == "\r" else f"\\x{ord(m.group()):02x}"
    return _CONTROL.sub(one, text)


# -- a run that carries every escape everywhere ------------------------------------------------


def _echo(text: str) -> str:
    return text + HOSTILE


def hostile_workload(handlers: list[Any]) -> None:
    """An agent, an LLMChain, an LCEL chain, a tool, a custom event and a failing step, with
    :data:`HOSTILE` in their names, prompts, answers, logs, tool I/O and error messages."""
    from langchain_classic.agents import AgentExecutor, create_react_agent
    from langchain_classic.chains import LLMChain
    from workloads import REACT_PROMPT, calculator

    config: Any = {"callbacks": handlers}
    llm = FakeListLLM(responses=[
        f"Thought: use it {HOSTILE}\nAction: calculator\nAction Input: 2 + 2",
        f"Thought: done {HOSTILE}\nFinal Answer: 4 {HOSTILE}"])
    agent = create_react_agent(llm, [calculator], PromptTemplate.from_template(REACT_PROMPT))
    AgentExecutor(agent=agent, tools=[calculator]).invoke({"input": HOSTILE}, config=config)

    LLMChain(llm=FakeListLLM(responses=[HOSTILE]), prompt=PromptTemplate.from_template(
        "Say {x}")).invoke({"x": HOSTILE}, config=config)

    def custom(x: str) -> str:
        dispatch_custom_event("progress" + HOSTILE, {"note": HOSTILE})
        return x

    model = GenericFakeChatModel(messages=iter([AIMessage(content=HOSTILE)]))
    chain = RunnableLambda(_echo, name="echo" + HOSTILE) | model | RunnableLambda(custom)
    chain.invoke(HOSTILE, config={**config, "run_name": "root" + HOSTILE})
    tool = StructuredTool.from_function(func=_echo, name="tool" + HOSTILE, description="echo")
    tool.invoke({"text": HOSTILE}, config=config)

    def explode(_: Any) -> Any:
        raise ValueError("failed" + HOSTILE)

    with contextlib.suppress(ValueError):
        RunnableLambda(explode, name="explode" + HOSTILE).invoke("x", config=config)


@pytest.fixture(scope="module")
def hostile_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The JSONL log of :func:`hostile_workload`."""
    path = tmp_path_factory.mktemp("hostile") / "hostile.jsonl"
    handler = chainsink.FileCallbackHandler(path, format="jsonl", mode="w")
    hostile_workload([handler])
    handler.close()
    return path


def _records(path: Path) -> int:
    return len(path.read_bytes().splitlines())


# -- chainsink tail ----------------------------------------------------------------------------


@pytest.mark.parametrize("color", ["color", "no-color"])
@pytest.mark.parametrize("style", ["classic", "detailed", "line"])
def test_tail_prints_escapes_from_the_log_as_text(hostile_log: Path, style: str,
                                                  color: str) -> None:
    """`chainsink tail` (a real process) prints no control from the log, only its own colours,
    and shows each escape of the run as text."""
    env = chaos.python_env(**({"FORCE_COLOR": "1"} if color == "color" else {}))
    env.pop("NO_COLOR", None)
    args = ["--no-color"] if color == "no-color" else []
    done = subprocess.run([chaos.PY, "-m", "chainsink", "tail", "--style", style, *args,
                           str(hostile_log)], capture_output=True, env=env, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode("utf-8")  # strict
    found = leaks(out)
    chaos.count(GROUP, inputs=len(PAYLOADS), records=_records(hostile_log), lost=int(bool(found)))
    assert not found, sorted(set(found))
    assert ("\x1b[" in out) == (color == "color")
    if style != "line":  # the line style shows each event's first line only
        assert shown(PAYLOADS["osc52"]) in out
        assert shown(PAYLOADS["c1osc"]) in out


def test_tail_shows_a_hostile_trace_id_tag_as_text(tmp_path: Path, hostile_log: Path) -> None:
    """A trace id (the [tag] of interleaved traces) with escapes in it prints as text too."""
    lines = hostile_log.read_bytes().splitlines()
    forged = []
    for i, line in enumerate(lines[:6]):
        rec = orjson.loads(line)
        rec["trace_id"] = f"{i}\x1b]0;t\x07\x9b2J"
        forged.append(orjson.dumps(rec))
    log = tmp_path / "tags.jsonl"
    log.write_bytes(b"\n".join(forged + lines) + b"\n")
    done = subprocess.run([chaos.PY, "-m", "chainsink", "tail", str(log)], capture_output=True,
                          env=chaos.python_env(FORCE_COLOR="1"), timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    found = leaks(done.stdout.decode())
    chaos.count(GROUP, inputs=6, records=len(forged) + len(lines), lost=int(bool(found)))
    assert not found, sorted(set(found))
    assert "[]0;t\\x07\\x9b2J]" in done.stdout.decode()  # the tag: the id's last 8 chars


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_stats_prints_no_control_from_the_log(hostile_log: Path, as_json: bool) -> None:
    """`chainsink stats` (and `--json`) show run names, models and errors with escapes as text;
    `--json` stays valid JSON with DEL and C1 escaped as \\u00XX."""
    done = subprocess.run([chaos.PY, "-m", "chainsink", "stats", *(["--json"] * as_json),
                           str(hostile_log)], capture_output=True, env=chaos.python_env(),
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode("utf-8")
    found = leaks(out)
    chaos.count(GROUP, inputs=len(PAYLOADS), records=_records(hostile_log), lost=int(bool(found)))
    assert not found, sorted(set(found))
    if as_json:
        names = json.dumps(json.loads(out), ensure_ascii=False)
        assert PAYLOADS["c1osc"] in names  # escaped on the terminal, the same string as data


# -- the consoles ------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["classic", "detailed"])
def test_stdout_console_prints_escapes_from_the_run_as_text(
        style: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """StdOutCallbackHandler, classic and (coloured) detailed, prints no control from the run."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")
    handler = chainsink.StdOutCallbackHandler(style=style)
    hostile_workload([handler])
    out = capsys.readouterr().out
    found = leaks(out)
    chaos.count(GROUP, inputs=len(PAYLOADS), records=out.count("\n"), lost=int(bool(found)))
    assert not found, sorted(set(found))
    assert "\x1b[1m" in out  # chainsink's own colours stay
    assert shown(PAYLOADS["osc52"]) in out and shown(PAYLOADS["cr"]) in out


@pytest.mark.parametrize("style", ["classic", "detailed"])
@pytest.mark.parametrize("fmt", ["text", "ansi"])
def test_file_console_writes_escapes_from_the_run_as_text(tmp_path: Path, fmt: str,
                                                          style: str) -> None:
    """FileCallbackHandler text and ansi, classic and detailed, write no control from the run."""
    path = tmp_path / f"run.{fmt}"
    handler = chainsink.FileCallbackHandler(path, format=fmt, style=style)
    hostile_workload([handler])
    handler.close()
    out = path.read_bytes().decode("utf-8")
    found = leaks(out)
    chaos.count(GROUP, inputs=len(PAYLOADS), records=out.count("\n"), lost=int(bool(found)))
    assert not found, sorted(set(found))
    assert ("\x1b" in out) == (fmt == "ansi")
    assert shown(PAYLOADS["dsr"]) in out and shown(PAYLOADS["bs"]) in out


def test_classic_is_langchain_core_with_escapes_shown_as_text(
        capsys: pytest.CaptureFixture[str]) -> None:
    """style="classic" prints langchain-core's bytes exactly, except that run content's
    controls show as text and its colour codes other than LangChain's own are dropped."""
    hostile_workload([CoreStdOut()])
    core = capsys.readouterr().out
    hostile_workload([chainsink.StdOutCallbackHandler()])
    ours = capsys.readouterr().out
    assert leaks(core)  # langchain-core passes them to the terminal
    own = "|".join(map(re.escape, OWN_CODES))
    expected = "".join(
        m.group(1) or shown(m.group(2) or "")
        for m in re.finditer(f"({own})|\x1b\\[[0-9;]*m|([^\x1b]+|\x1b)", core, re.DOTALL))
    assert ours == expected
    chaos.count(GROUP, inputs=len(PAYLOADS), records=ours.count("\n"), lost=int(ours != expected))


#: Every event kind with its content fields filled with text drawn per example.
def _event(kind: str, text: str, depth: int) -> Event:
    data: dict[str, Any] = {
        "inputs": {"q": text}, "outputs": text, "prompts": [text], "input_str": text,
        "query": text, "messages": [[{"type": "human", "content": text}]], "token": text,
        "log": text, "text": text, "tool": text, "event_name": text, "data": {"d": text},
        "model": text, "error": {"type": text, "message": text}, "attempt": text,
        "display": {"observation_prefix": text, "llm_prefix": text, "end": text,
                    "color": "green"},
        "usage_by_model": {text: {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2,
                                  "calls": 1}},
        "duration_ms": 1.0}
    if kind == "llm_end":
        data["outputs"] = {"generations": [[{"text": text}]]}
    if kind == "retriever_end":
        data["outputs"] = {"documents": [{"page_content": text, "metadata": {"k": text}}]}
    return Event(event=kind, ts=0.0, run_id=uuid.uuid4(), parent_run_id=None,
                 trace_id=uuid.uuid4(), depth=depth, name=text, run_type=text, tags=[text],
                 metadata={"m": text}, data=data)


CONTENT = st.one_of(
    chaos.strings, st.sampled_from(list(PAYLOADS.values())),
    st.lists(st.sampled_from([*PAYLOADS.values(), *chaos.SPECIAL_STRINGS, "x", "\n"]),
             max_size=6).map("".join))
FORMATTERS = [ConsoleFormatter(style, ansi=ansi, like=like)
              for style in ("classic", "detailed", "line") for ansi in (True, False)
              for like in ("stdout", "file")]


@chaos.examples(300)
@given(kind=st.sampled_from(chainsink.EVENT_KINDS), text=CONTENT, depth=st.integers(0, 3))
def test_no_console_style_passes_a_control_from_an_event(kind: str, text: str,
                                                         depth: int) -> None:
    """Every style, coloured or not, stdout or file flavour, for every event kind: content
    with any control characters in any field renders with none but chainsink's own codes."""
    event = _event(kind, text, depth)
    bad = 0
    for formatter in FORMATTERS:
        found = leaks(formatter(event))
        bad += bool(found)
        assert not found, (formatter.style, formatter.ansi, formatter.like, found)
    chaos.count(GROUP, inputs=1, records=len(FORMATTERS), lost=bad)


# -- tail -f: a rewrite within one poll --------------------------------------------------------


class _Tail:
    """A running ``chainsink tail -f --no-color`` and what it printed."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen(
            [chaos.PY, "-m", "chainsink", "tail", "-f", "--no-color", str(path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=chaos.python_env())
        self.out = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while chunk := os.read(self.proc.stdout.fileno(), 65536):
            self.out += chunk

    def wait_for(self, needle: str, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.out.decode(errors="replace"):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> str:
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(20)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.proc.stdout.close()
        with self.proc.stderr:
            return self.proc.stderr.read().decode()


def _steps(path: Path, names: list[str], mode: str = "a") -> None:
    handler = chainsink.FileCallbackHandler(path, format="jsonl", mode=mode)
    for name in names:
        RunnableLambda(lambda x: x, name=name).invoke("hi", config={"callbacks": [handler]})
    handler.close()


@pytest.mark.parametrize("longer", [True, False], ids=["longer", "same-size"])
def test_follow_rereads_a_log_truncated_and_rewritten_within_one_poll(tmp_path: Path,
                                                                      longer: bool) -> None:
    """The file is truncated and written again, as long as before or longer, while tail is
    stopped (so within one poll): tail notices and prints the new runs from the start."""
    log = tmp_path / "app.jsonl"
    _steps(log, ["old_a", "old_b"])
    size = log.stat().st_size
    tail = _Tail(log)
    try:
        assert tail.wait_for("> Finished old_b chain"), tail.out
        tail.proc.send_signal(signal.SIGSTOP)
        if longer:
            names = ["new_a", "new_b", "new_c"]
            _steps(log, names, mode="w")
            assert log.stat().st_size > size
        else:  # the same records renamed, written over the old ones: the size stays
            names = ["new_a", "new_b"]
            new = log.read_bytes().replace(b'"old_', b'"new_')
            with open(log, "r+b") as f:
                f.truncate(0)
                f.write(new)
            assert log.stat().st_size == size
        tail.proc.send_signal(signal.SIGCONT)
        assert tail.wait_for(f"> Finished {names[-1]} chain"), tail.out
    finally:
        err = tail.stop()
    text = tail.out.decode()
    for name in names:
        assert text.count(f"> Entering new {name} chain") == 1, text
    assert "Traceback" not in err
    assert err.splitlines() == [f"chainsink: {log}: truncated; reading it again from the start"]


# -- chainsink run --log -----------------------------------------------------------------------


def _unwritable(tmp_path: Path) -> dict[str, Path]:
    missing = tmp_path / "no-such-dir" / "app.jsonl"
    directory = tmp_path / "a-dir"
    directory.mkdir()
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere the mode allows nobody: use sysfs's root
        read_only = Path("/sys")
    return {"missing dir": missing, "a directory": directory,
            "read-only dir": read_only / "app.jsonl"}


def test_run_refuses_a_log_it_cannot_write_before_running_anything(tmp_path: Path) -> None:
    """`chainsink run --log PATH` with PATH in a missing directory, a directory, or in a
    read-only directory: one line, a non-zero exit, and the command never runs."""
    marker = tmp_path / "ran"
    app = f"open({str(marker)!r}, 'a').write('x')"
    for what, log in _unwritable(tmp_path).items():
        done = subprocess.run([chaos.PY, "-m", "chainsink", "run", "--log", str(log), "--",
                               chaos.PY, "-c", app], capture_output=True, text=True,
                              env=chaos.python_env(), timeout=60, check=False)
        assert done.returncode == 1, (what, done.returncode, done.stderr)
        lines = done.stderr.splitlines()
        assert len(chaos.chainsink_lines(done.stderr)) == 1 == len(lines), (what, lines)
        assert str(log) in lines[0], (what, lines)
        assert not marker.exists(), f"{what}: the command ran"
    # a writable log: the command runs, and no empty log is left behind by the check
    ok = tmp_path / "ok.jsonl"
    done = subprocess.run([chaos.PY, "-m", "chainsink", "run", "--log", str(ok), "--",
                           chaos.PY, "-c", app], capture_output=True, text=True,
                          env=chaos.python_env(), timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert marker.exists()
    assert not ok.exists()

    # a FIFO with no reader is a writable log: the check must not wait for a reader
    marker.unlink()
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    done = subprocess.run([chaos.PY, "-m", "chainsink", "run", "--log", str(fifo), "--",
                           chaos.PY, "-c", app], capture_output=True, text=True,
                          env=chaos.python_env(), timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert marker.exists()


# -- the README's --event ----------------------------------------------------------------------


def test_readme_event_examples_are_what_tail_accepts(tmp_path: Path, hostile_log: Path) -> None:
    """Each `chainsink tail ... --event ...` line of the README runs as written (repeated and
    comma-separated kinds), and the synopsis spells the option as the CLI takes it."""
    readme = README.read_text()
    examples = [line.split("#")[0].split() for line in readme.splitlines()
                if line.startswith("chainsink tail") and "--event" in line]
    assert examples, "the README shows no --event example"
    assert "[--event KIND[,KIND...]]..." in readme
    for words in examples:
        args = [str(hostile_log) if w.endswith(".jsonl") else w for w in words[2:]]
        kinds = {k for i, w in enumerate(words) if i and words[i - 1] == "--event"
                 for k in w.split(",")}
        done = subprocess.run([chaos.PY, "-m", "chainsink", "tail", "--style", "line",
                               "--no-color", *args], capture_output=True, text=True,
                              env=chaos.python_env(), timeout=60, check=False)
        assert done.returncode == 0, (words, done.stderr)
        wanted = [r for r in map(orjson.loads, hostile_log.read_bytes().splitlines())
                  if r["event"] in kinds]
        assert len(done.stdout.splitlines()) == len(wanted) > 0, words
