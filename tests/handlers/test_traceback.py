"""Error records carry the traceback of the exception LangChain reports, masked and capped."""

from __future__ import annotations

import contextlib
import json
import traceback
import uuid
from pathlib import Path
from typing import Any

import workloads
from langchain_core.runnables import RunnableLambda

from chainsink import CallbackHandler
from chainsink.processors import Redactor, Truncator

#: An OpenAI-looking key (not a real one): the Redactor's patterns mask it anywhere.
FAKE_KEY = "sk-proj-abcdefghijklmnopqrstuvwx"


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _errors(path: Path) -> list[dict[str, Any]]:
    return [r for r in _records(path) if r["event"].endswith("_error")]


def _connect(api_key: str) -> None:
    raise PermissionError(f"the key {api_key} was refused")


def _login(_: Any) -> Any:
    _connect(api_key="sk-proj-abcdefghijklmnopqrstuvwx")  # the key stands on this source line


def _chained(_: Any) -> Any:
    try:
        workloads._explode(None)
    except ValueError as exc:
        raise RuntimeError("step failed") from exc


def _interrupt(_: Any) -> Any:
    raise KeyboardInterrupt


def test_error_records_carry_the_traceback_python_prints(tmp_path: Path) -> None:
    """Every error record of a failing chain has error.traceback: Python's text, ending with
    the frame that raised and the exception line, after type and message."""
    path = tmp_path / "run.jsonl"
    with CallbackHandler(path) as handler:
        exc = workloads.error_chain([handler])
    errors = _errors(path)
    assert [r["name"] for r in errors] == ["explode", "RunnableSequence"]
    for rec in errors:
        error = rec["error"]
        assert list(error) == ["type", "message", "traceback"]
        tb = error["traceback"]
        assert tb.startswith("Traceback (most recent call last):\n  File ")
        assert tb.endswith("ValueError: boom\n")
        assert "in _explode\n    raise ValueError(ERROR_MESSAGE)\n" in tb
    # what Python prints for the exception where it was caught, from the run's frames on
    frames = errors[-1]["error"]["traceback"].removeprefix("Traceback (most recent call last):\n")
    assert "".join(traceback.format_exception(exc)).endswith(frames)


def test_chained_causes_are_kept_as_python_prints_them(tmp_path: Path) -> None:
    """`raise ... from ...`: the cause's traceback, the 'direct cause' line, then the error."""
    path = tmp_path / "run.jsonl"
    with CallbackHandler(path) as handler, contextlib.suppress(RuntimeError):
        RunnableLambda(_chained, name="chained").invoke(1, config={"callbacks": [handler]})
    tb = _errors(path)[0]["error"]["traceback"]
    cause = tb.index("ValueError: boom\n")
    link = tb.index("The above exception was the direct cause of the following exception:")
    assert cause < link < tb.index("RuntimeError: step failed")


def _ping(n: int) -> None:
    if n == 0:
        raise ValueError("bottom")
    _pong(n - 1)


def _pong(n: int) -> None:
    _ping(n - 1)  # two functions: Python folds only a frame repeating the one before it


def test_only_the_last_50_frames_are_kept(tmp_path: Path) -> None:
    """A deep recursion keeps the 50 frames nearest the raise."""
    path = tmp_path / "run.jsonl"
    with CallbackHandler(path) as handler, contextlib.suppress(ValueError):
        RunnableLambda(lambda _: _ping(80), name="deep").invoke(
            1, config={"callbacks": [handler]})
    tb = _errors(path)[0]["error"]["traceback"]
    assert tb.count('  File "') == 50
    assert tb.endswith('raise ValueError("bottom")\nValueError: bottom\n')
    assert "in _call_with_config" not in tb  # LangChain's outer frames are the ones left out


def test_secrets_in_the_message_and_a_source_line_are_masked(tmp_path: Path) -> None:
    """The default processors reach error.traceback: a key in the exception's message and in
    a frame's source line is masked there as in the message."""
    path = tmp_path / "run.jsonl"
    with CallbackHandler(path) as handler, contextlib.suppress(PermissionError):
        RunnableLambda(_login, name="login").invoke(1, config={"callbacks": [handler]})
    error = _errors(path)[0]["error"]
    assert error["message"] == "the key *** was refused"
    tb = error["traceback"]
    assert '_connect(api_key="***")' in tb  # the source line of _login's frame
    assert tb.endswith("PermissionError: the key *** was refused\n")
    assert FAKE_KEY not in path.read_text()


def test_a_long_traceback_is_cut_by_the_truncator(tmp_path: Path) -> None:
    """Truncation reaches error.traceback like any other string."""
    path = tmp_path / "run.jsonl"
    with CallbackHandler(path, processors=(Redactor(), Truncator(max_chars=300))) as handler:
        workloads.error_chain([handler])
    tb = _errors(path)[0]["error"]["traceback"]
    assert tb.startswith("Traceback (most recent call last):")
    assert "...[truncated " in tb
    assert len(tb) < 400


def _deep(n: int) -> Any:
    if n == 0:
        raise ValueError("the innermost failure " + "x" * 2_000)
    try:
        return _deep(n - 1)
    except Exception as exc:  # each level adds a cause: a long chained traceback
        raise RuntimeError(f"level {n} " + "y" * 2_000) from exc


def test_a_very_long_traceback_keeps_its_end(tmp_path: Path) -> None:
    """A traceback longer than the record keeps (chained failures with long messages) keeps
    its end, where the exception was raised, under the default processors."""
    path = tmp_path / "run.jsonl"
    with CallbackHandler(path) as handler, contextlib.suppress(RuntimeError):
        RunnableLambda(lambda _: _deep(12), name="deep").invoke(
            1, config={"callbacks": [handler]})
    tb = _errors(path)[0]["error"]["traceback"]
    assert tb.startswith("...[") and "chars of traceback cut]" in tb.splitlines()[0]
    assert tb.rstrip().endswith("RuntimeError: level 12 " + "y" * 2_000)
    assert "_deep" in tb and len(tb) < 20_000


def test_an_exception_never_raised_has_no_traceback(tmp_path: Path) -> None:
    """An exception handed over without having been raised has type and message only."""
    path = tmp_path / "run.jsonl"
    run_id = uuid.uuid4()
    with CallbackHandler(path) as handler:
        handler.on_chain_start({"name": "made"}, {"x": 1}, run_id=run_id)
        handler.on_chain_error(ValueError("never raised"), run_id=run_id)
    assert _errors(path)[0]["error"] == {"type": "ValueError", "message": "never raised"}


def test_stops_and_chainsinks_own_closes_have_no_traceback(tmp_path: Path) -> None:
    """A run stopped without failing (Ctrl-C) and a run chainsink aborts carry no traceback:
    neither is a fault to debug, and an abort raised nothing."""
    path = tmp_path / "stop.jsonl"
    with CallbackHandler(path) as handler, contextlib.suppress(KeyboardInterrupt):
        RunnableLambda(_interrupt, name="stop").invoke(1, config={"callbacks": [handler]})
    stopped = _errors(path)
    assert stopped and all(r["interrupted"] for r in stopped)
    assert all("traceback" not in r["error"] for r in stopped)

    path = tmp_path / "abort.jsonl"
    handler = CallbackHandler(path)
    stream = workloads._lcel_chain().stream({"topic": "x"}, config={"callbacks": [handler]})
    next(stream)
    handler.abort_open_runs()
    handler.close()
    aborted = _errors(path)
    assert aborted and all(r["aborted"] for r in aborted)
    assert all(set(r["error"]) == {"type", "message"} for r in aborted)
    stream.close()


class _NameRaises(type):
    @property
    def __name__(cls) -> str:  # type: ignore[override]
        raise RuntimeError("no name")


class _Nameless(Exception, metaclass=_NameRaises):
    pass


def _raise_nameless(_: Any) -> Any:
    raise _Nameless("odd")


def test_an_exception_class_whose_name_raises_keeps_its_record(tmp_path: Path) -> None:
    """A hostile metaclass (its ``__name__`` raises): the failure is still recorded, with its
    message and traceback, under the type ``<unknown>``."""
    path = tmp_path / "run.jsonl"
    with CallbackHandler(path) as handler, contextlib.suppress(_Nameless):
        RunnableLambda(_raise_nameless, name="odd").invoke(1, config={"callbacks": [handler]})
    error = _errors(path)[0]["error"]
    assert error["type"] == "<unknown>" and error["message"] == "odd"
    assert "_raise_nameless" in error["traceback"]
