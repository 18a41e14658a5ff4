"""Helpers for the CLI tests: logs of real runs on fake models, and the CLI as a real process."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import workloads
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_core.tracers.run_collector import RunCollectorCallbackHandler

import chainsink
from chainsink.cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]

#: Markup a model, a run name, a tag, metadata or an error message may carry into a log.
XSS = (
    '<img src=x onerror="window.__xss=1">',
    "<script>window.__xss=2</script>",
    '"><svg onload="window.__xss=3">',
    "</script><script>window.__xss=4</script>",
)
XSS_RUN_NAME = "<script>window.__xss=5</script>"
XSS_TAG = '<img src=x onerror="window.__xss=6">'
XSS_ERROR_STEP = '<svg onload="window.__xss=7">'


def xss_workload(handlers: list[Any]) -> None:
    """A chain whose model answers with markup, under a hostile name, tag and metadata, and a
    step that fails with markup in its message."""
    model = GenericFakeChatModel(messages=iter([AIMessage(content=" ".join(XSS))]))
    chain = (ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser())
    chain.invoke({"q": XSS[0]}, config={
        "callbacks": handlers, "run_name": XSS_RUN_NAME, "tags": [XSS_TAG],
        "metadata": {"<b>key</b>": XSS[1]}})

    def explode(_: Any) -> Any:
        raise ValueError(XSS[0] + XSS[1])

    with contextlib.suppress(ValueError):
        RunnableLambda(explode, name=XSS_ERROR_STEP).invoke("x", config={"callbacks": handlers})


def run_cli(*args: Any, cwd: Path, stdin: str | bytes | None = None,
            env: dict[str, str] | None = None, timeout: float = 120,
            text: bool = True) -> subprocess.CompletedProcess[Any]:
    """Run ``python -m chainsink ARGS`` in a fresh process and wait for it."""
    return subprocess.run(
        [sys.executable, "-m", "chainsink", *map(str, args)], cwd=cwd, input=stdin,
        capture_output=True, text=text, timeout=timeout, env=cli_env(env), check=False)


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a CLI child: this checkout first on the path, no forced colour."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("FORCE_COLOR", "NO_COLOR", "CHAINSINK_LOG", "CHAINSINK_DEBUG")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


@dataclasses.dataclass
class Log:
    """A JSONL log of real runs, and what a reference tracer saw of the same runs."""

    path: Path
    records: list[dict[str, Any]]
    runs: list[Any]  # langchain-core tracer Runs, every run of every trace

    @property
    def names(self) -> set[str]:
        """Every run name in the log."""
        return {r["name"] for r in self.records}

    @property
    def trace_ids(self) -> list[str]:
        """Trace ids in order of first appearance."""
        return list(dict.fromkeys(r["trace_id"] for r in self.records))


def record_log(path: Path, parts: list[str | Callable[[list[Any]], Any]]) -> Log:
    """Run each workload (a name in ``workloads`` or a function) with a JSONL
    FileCallbackHandler and a RunCollector attached."""
    collector = RunCollectorCallbackHandler()
    handler = chainsink.FileCallbackHandler(path, mode="w", format="jsonl")
    for part in parts:
        if isinstance(part, str):
            workloads.run_workload(part, [handler, collector])
        else:
            part([handler, collector])
    handler.close()
    records = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    return Log(path, records, workloads.collected_runs(collector))


#: An agent (classic and LangGraph), a RAG chain, a failing chain, a stream and hostile markup.
MIXED: list[str | Callable[[list[Any]], Any]] = [
    "agent_executor", "create_agent", "retriever_chain", "error_chain", "lcel_stream",
    xss_workload]


#: The detail data block of a report page.
DATA = re.compile(r'<script type="application/json" id="chainsink-data">(.*?)</script>', re.DOTALL)


def page_data(html: str) -> dict[str, Any]:
    """The detail data embedded in a report page."""
    match = DATA.search(html)
    assert match, "no data block"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def run_main(argv: list[str]) -> tuple[int, str, str]:
    """``chainsink.cli.main(argv)`` in this process: exit code, stdout, stderr."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    err = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(argv)
    out.flush()
    return code, out.buffer.getvalue().decode("utf-8"), err.getvalue()  # type: ignore[attr-defined]


# -- the report's content: answers, tool calls, tracebacks -------------------------------------

#: Words that occur only in the answer of one model call of :func:`content_log`.
ANSWER_ONLY = "quokkas hum in violet"
#: A metadata value and an invocation parameter of that call.
CUSTOMER = "acme-customer-7731"
TEMPERATURE = 0.25


def answer_workload(handlers: list[Any]) -> str:
    """A chain whose model (called with a temperature and max_tokens) answers
    :data:`ANSWER_ONLY`, run with :data:`CUSTOMER` in its metadata."""
    model = workloads.UsageFakeChatModel(messages=iter([AIMessage(
        content=f"In the valley, {ANSWER_ONLY} at dusk.",
        usage_metadata=workloads.make_usage(12, 8),  # type: ignore[arg-type]
        response_metadata={"model_name": workloads.CHAT_MODEL_NAME})]))
    chain = (ChatPromptTemplate.from_messages([("human", "What do {animal} do?")])
             | model.bind(temperature=TEMPERATURE, max_tokens=64) | StrOutputParser())
    result: str = chain.invoke({"animal": "quokkas"}, config={
        "callbacks": handlers, "run_name": "answer_chain", "metadata": {"customer": CUSTOMER}})
    return result


def markup_failure(handlers: list[Any]) -> BaseException:
    """A step that fails with markup in its message (so in its traceback); returns the error."""

    def explode_with_markup(_: Any) -> Any:
        raise ValueError(XSS[1])

    try:
        RunnableLambda(explode_with_markup, name="markup_step").invoke(
            "x", config={"callbacks": handlers})
    except ValueError as exc:
        return exc
    raise AssertionError("markup_step did not raise")


def record_with_tracebacks(path: Path,
                           parts: list[Callable[[list[Any]], BaseException | Any]]) -> bool:
    """Append the JSONL records of each workload to ``path``; where a workload returns an
    exception and its error records carry no ``error.traceback`` (a handler from before
    tracebacks were logged), write that exception's traceback into them, as the handler does.
    Returns whether the handler itself wrote every traceback."""
    import traceback

    written = True
    with path.open("ab") as out:
        for part in parts:
            one = path.with_name(f"{path.stem}.part.jsonl")
            handler = chainsink.FileCallbackHandler(one, mode="w", format="jsonl")
            result = part([handler])
            handler.close()
            text = ("".join(traceback.format_exception(result))
                    if isinstance(result, BaseException) else None)
            for line in one.read_bytes().splitlines():
                rec = orjson.loads(line)
                error = rec.get("error")
                if isinstance(error, dict) and text is not None and "traceback" not in error:
                    written = False
                    error["traceback"] = text
                out.write(orjson.dumps(rec) + b"\n")
            one.unlink()
    return written


class PipeReader:
    """Everything a child process has written on one of its pipes so far, read on a thread
    (so the child never blocks on a full pipe), decoded with ``errors``."""

    def __init__(self, stream: Any, errors: str = "strict") -> None:
        self._fd = stream.fileno()
        self._errors = errors
        self._data = b""
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while chunk := os.read(self._fd, 65536):
            with self._lock:
                self._data += chunk

    def text(self) -> str:
        """What was written so far."""
        with self._lock:
            return self._data.decode(errors=self._errors)

    def wait(self, found: Callable[[str], Any], proc: subprocess.Popen[bytes],
             timeout: float) -> Any:
        """Wait (bounded by ``timeout`` seconds) until ``found(text)`` is truthy, and return
        it (None at the deadline); once ``proc`` has exited, what it says of everything
        written."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hit = found(self.text())
            if hit or proc.poll() is not None:
                return hit or found(self.text())
            time.sleep(0.05)
        return None

    def join(self, timeout: float) -> None:
        """Wait (bounded) for the pipe's end: the child has exited and all is read."""
        self._thread.join(timeout)


def ctrl_c(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """Press Ctrl-C in a child (SIGINT); its exit code (killed if it outlives ``timeout``)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
