"""File output: lazy, whole lines, nothing lost at exit, safe across threads and processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from chainsink import FileCallbackHandler
from chainsink.sinks import FileSink, make_sink


def chain() -> Any:
    model = GenericFakeChatModel(messages=iter([AIMessage(content="a b")]))
    return ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_opened_lazily_and_mode_checked_at_construction(tmp_path: Path) -> None:
    """No file appears until the first record; a bad mode fails when the handler is built."""
    path = tmp_path / "run.log"
    handler = FileCallbackHandler(path)
    assert not path.exists()
    chain().invoke({"q": "x"}, config={"callbacks": [handler]})
    assert path.exists()
    handler.close()
    with pytest.raises(ValueError, match="mode"):
        FileCallbackHandler(tmp_path / "bad.log", "r")
    with pytest.raises(ValueError, match="format"):
        FileCallbackHandler(tmp_path / "bad.log", format="xml")


def test_no_deprecation_warning_without_with(tmp_path: Path) -> None:
    """Used without `with`, the handler emits no warning at all (langchain-core's does)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        handler = FileCallbackHandler(tmp_path / "run.log", format="text")
        chain().invoke({"q": "x"}, config={"callbacks": [handler]})
        handler.close()
    assert "> Entering new RunnableSequence chain..." in (tmp_path / "run.log").read_text()


def test_sync_trace_is_on_disk_when_invoke_returns(tmp_path: Path) -> None:
    """In synchronous code the whole trace is in the file as soon as invoke() returns."""
    path = tmp_path / "run.jsonl"
    handler = FileCallbackHandler(path, format="jsonl")
    chain().invoke({"q": "x"}, config={"callbacks": [handler]})
    recs = lines(path)
    assert recs[0]["event"] == "chain_start" and recs[-1]["event"] == "chain_end"
    handler.close()


def test_mode_w_truncates_and_a_appends(tmp_path: Path) -> None:
    """mode='w' replaces old content on the first write; mode='a' appends."""
    path = tmp_path / "run.log"
    path.write_text("old\n")
    with FileCallbackHandler(path, "a", format="jsonl") as h:
        chain().invoke({"q": "x"}, config={"callbacks": [h]})
    assert path.read_text().startswith("old\n")
    with FileCallbackHandler(path, "w", format="jsonl") as h:
        chain().invoke({"q": "x"}, config={"callbacks": [h]})
    assert not path.read_text().startswith("old")


def test_write_after_close_is_reported_once(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Running a chain with a closed handler works; stderr gets one line."""
    handler = FileCallbackHandler(tmp_path / "run.jsonl", format="jsonl")
    handler.close()
    handler.close()  # twice is fine
    for _ in range(3):
        assert chain().invoke({"q": "x"}, config={"callbacks": [handler]}) == "a b"
    err = [line for line in capsys.readouterr().err.splitlines() if "chainsink" in line]
    assert len(err) == 1 and "after close" in err[0]


def test_unopenable_file_is_reported_once(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A path in a missing directory: the run succeeds and stderr gets one line."""
    handler = FileCallbackHandler(tmp_path / "missing" / "run.jsonl", format="jsonl")
    for _ in range(3):
        assert chain().invoke({"q": "x"}, config={"callbacks": [handler]}) == "a b"
    err = [line for line in capsys.readouterr().err.splitlines() if "chainsink" in line]
    assert len(err) == 1 and "No such file" in err[0]


def test_deleted_file_is_recreated(tmp_path: Path) -> None:
    """If the log is deleted while open, later records go to a new file at the same path."""
    path = tmp_path / "run.jsonl"
    with FileCallbackHandler(path, format="jsonl") as handler:
        chain().invoke({"q": "1"}, config={"callbacks": [handler]})
        path.unlink()
        chain().invoke({"q": "2"}, config={"callbacks": [handler]})
    recs = lines(path)
    assert recs[0]["event"] == "chain_start" and recs[0]["inputs"] == {"q": "2"}
    assert all(r.get("inputs") != {"q": "1"} for r in recs)


def test_threads_never_split_lines(tmp_path: Path) -> None:
    """8 threads writing 2,000 records each through one sink: every line whole, none lost."""
    path = tmp_path / "t.jsonl"
    sink = FileSink(path)

    def work(n: int) -> None:
        for i in range(2000):
            sink.write(json.dumps({"t": n, "i": i, "pad": "x" * (i % 300)}) + "\n")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sink.close()
    recs = lines(path)
    assert len(recs) == 16000
    assert {(r["t"], r["i"]) for r in recs} == {(n, i) for n in range(8) for i in range(2000)}


WRITER = textwrap.dedent("""
    import sys
    from chainsink import FileCallbackHandler
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.prompts import ChatPromptTemplate
    handler = FileCallbackHandler(sys.argv[1], format="jsonl")  # never closed
    for i in range(int(sys.argv[2])):
        model = GenericFakeChatModel(messages=iter([AIMessage(content="w " * 20)]))
        chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model
        for _ in chain.stream({"q": f"{sys.argv[3]}-{i}"}, config={"callbacks": [handler]}):
            pass
""")


def test_processes_append_without_close(tmp_path: Path) -> None:
    """4 processes appending to one JSONL file, none calling close(): every line whole."""
    path = tmp_path / "shared.jsonl"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), "30", f"p{n}"])
             for n in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    recs = lines(path)
    roots = [r for r in recs if r["event"] == "chain_end" and r["parent_run_id"] is None]
    assert len(roots) == 120
    assert sorted(r["inputs"]["q"] for r in roots) == sorted(
        f"p{n}-{i}" for n in range(4) for i in range(30))
    starts = sum(r["event"] in ("chain_start", "chat_model_start") for r in recs)
    ends = sum(r["event"] in ("chain_end", "llm_end") for r in recs)
    assert starts == ends == 120 * 3


def test_pending_records_reach_the_file_at_exit(tmp_path: Path) -> None:
    """Records still queued when the interpreter exits are written, without close()."""
    path = tmp_path / "exit.log"
    code = ("import sys; from chainsink.sinks import FileSink; s = FileSink(sys.argv[1]);"
            "[s.write(f'{i}\\n') for i in range(5000)]")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=60)
    assert path.read_text().split() == [str(i) for i in range(5000)]


def _child_writes(path: str) -> None:
    sink = make_sink(path)
    for i in range(1000):
        sink.write(f"{os.getpid()} {i}\n")  # no flush, no close: os._exit follows


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork start method needs POSIX")
def test_forked_multiprocessing_children_flush_at_exit(tmp_path: Path) -> None:
    """multiprocessing children started by fork leave via os._exit; their records still land."""
    path = tmp_path / "fork.log"
    parent = FileSink(path)
    parent.write("parent-before-fork\n")  # pending at fork: written once, by the parent
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_child_writes, args=(str(path),)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    parent.close()
    text = path.read_text().splitlines()
    assert text.count("parent-before-fork") == 1
    assert len([t for t in text if t != "parent-before-fork"]) == 3000
