"""``chainsink export --otlp`` and ``CHAINSINK_OTLP`` deliver runs to a real OTLP/HTTP receiver.

The logs are written by chainsink's own ``FileCallbackHandler(format="jsonl")`` on real
workloads; the receiver is an ``http.server`` on 127.0.0.1 decoding OTLP protobuf with
opentelemetry-proto. The CLI and the zero-code processes run as real subprocesses.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gzip
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import workloads
from cli._support import REPO, cli_env, run_cli
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import chainsink
from chainsink.otel import OtelCallbackHandler
from chainsink.otel import attributes as A
from chainsink.otel._export import Replay
from chainsink.otel._mapping import ts_ns

from ._receiver import ReceivedSpan, Receiver, free_port

LOW64 = (1 << 64) - 1
Memory = tuple[TracerProvider, InMemorySpanExporter]


@dataclasses.dataclass
class Log:
    """A JSONL log of real runs, read back."""

    path: Path
    records: list[dict[str, Any]]

    def runs(self) -> dict[str, dict[str, Any]]:
        """run id -> {start, end (record or None), trace_id, parent_run_id}."""
        found: dict[str, dict[str, Any]] = {}
        for rec in self.records:
            run = found.setdefault(rec["run_id"], {"start": None, "end": None})
            if rec["event"].endswith("_start"):
                run["start"] = rec
            elif rec["event"].endswith(("_end", "_error")):
                run["end"] = rec
            run["trace_id"], run["parent_run_id"] = rec["trace_id"], rec["parent_run_id"]
        return found


def _mixed(handlers: list[Any]) -> None:
    workloads.retriever_chain(handlers)
    workloads.create_agent_workload(handlers)
    workloads.error_chain(handlers)
    asyncio.run(workloads.astream_lcel_concurrent(handlers, n=5))


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Log:
    """A log of a RAG chain, an agent, a failing chain and concurrent streams."""
    path = tmp_path_factory.mktemp("otel") / "runs.jsonl"
    with chainsink.FileCallbackHandler(path, format="jsonl") as handler:
        _mixed([handler])
    return Log(path, [json.loads(line) for line in path.read_text().splitlines()])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running OTLP/HTTP receiver."""
    with Receiver() as r:
        yield r


def export(*args: Any, cwd: Path, **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    return run_cli("export", *args, cwd=cwd, **kwargs)


def check_spans(spans: list[ReceivedSpan], log: Log, *, slack_ns: int = 0) -> None:
    """Every run of the log arrived once, with the log's ids and times (within ``slack_ns``:
    a live handler beside the log's stamps its own events) and its status."""
    by_run = {s.attributes[A.RUN_ID]: s for s in spans}
    assert len(by_run) == len(spans)
    runs = log.runs()
    assert set(by_run) == set(runs)
    for run_id, run in runs.items():
        span = by_run[run_id]
        assert span.span_id == int(run_id.replace("-", ""), 16) & LOW64
        assert span.trace_id == int(run["trace_id"].replace("-", ""), 16)
        parent = run["parent_run_id"]
        assert span.parent_span_id == (int(parent.replace("-", ""), 16) & LOW64
                                       if parent else None)
        assert abs(span.start_ns - ts_ns(run["start"]["ts"])) <= slack_ns
        assert abs(span.end_ns - ts_ns(run["end"]["ts"])) <= slack_ns
        failed = run["end"]["event"].endswith("_error")
        assert span.status_code == (2 if failed else 0), span.name
        assert span.scope == "chainsink"


def test_export_delivers_every_run_with_the_logs_ids_and_times(log: Log, receiver: Receiver,
                                                               tmp_path: Path) -> None:
    """Every run of the log arrives once, parented, with its ids, times and status."""
    proc = export(log.path, "--otlp", receiver.url, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    n = len(log.runs())
    assert proc.stderr.strip() == (f"chainsink: sent {n} runs from {log.path} to "
                                   f"{receiver.url}/v1/traces")
    check_spans(receiver.take(), log)


def test_exporting_twice_sends_identical_ids(log: Log, receiver: Receiver,
                                             tmp_path: Path) -> None:
    """The same log exported twice gives the same span ids, parents, times and attributes."""
    seen = []
    for _ in range(2):
        assert export(log.path, "--otlp", receiver.url + "/", cwd=tmp_path).returncode == 0
        seen.append(sorted((s.trace_id, s.span_id, s.parent_span_id, s.start_ns, s.end_ns,
                            s.name, json.dumps(s.attributes, sort_keys=True))
                           for s in receiver.take()))
    assert seen[0] == seen[1] and len(seen[0]) == len(log.runs())


def test_gzip_rotated_and_stdin_logs(log: Log, receiver: Receiver, tmp_path: Path) -> None:
    """A gzipped rotated log and a log on stdin are exported like the plain one."""
    half = len(log.records) // 2
    older = tmp_path / "runs.jsonl.1.gz"
    older.write_bytes(gzip.compress("".join(
        json.dumps(r) + "\n" for r in log.records[:half]).encode()))
    newer = tmp_path / "runs.jsonl"
    newer.write_text("".join(json.dumps(r) + "\n" for r in log.records[half:]))
    assert export(older, newer, "--otlp", receiver.url, cwd=tmp_path).returncode == 0
    check_spans(receiver.take(), log)
    proc = export("-", "--otlp", receiver.url, cwd=tmp_path, stdin=log.path.read_text())
    assert proc.returncode == 0, proc.stderr
    check_spans(receiver.take(), log)


def test_runs_without_an_end_are_sent_as_unfinished(log: Log, receiver: Receiver,
                                                    tmp_path: Path) -> None:
    """A log cut off mid-trace: its open runs arrive as errors marked chainsink.unfinished,
    ending at the trace's last record; nothing is dropped."""
    agent_trace = next(r["trace_id"] for r in log.records if r["name"] == "LangGraph")
    cut = max(i for i, r in enumerate(log.records)
              if r["trace_id"] == agent_trace and r["event"] == "tool_end")
    kept = log.records[:cut + 1]
    path = tmp_path / "cut.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in kept))
    proc = export(path, "--otlp", receiver.url, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    spans = {s.attributes[A.RUN_ID]: s for s in receiver.take()}
    runs = Log(path, kept).runs()
    assert set(spans) == set(runs)
    open_runs = {run_id for run_id, run in runs.items() if run["end"] is None}
    assert len(open_runs) == 2  # the agent and its tools node
    assert f"({len(open_runs)} unfinished: the log has no end for them)" in proc.stderr
    last = ts_ns(kept[-1]["ts"])
    for run_id in open_runs:
        span = spans[run_id]
        assert span.attributes[A.UNFINISHED] is True
        assert span.status_code == 2 and "no end" in span.status_message
        assert span.end_ns == last
    assert not [s for r, s in spans.items() if r not in open_runs and A.UNFINISHED in s.attributes]


def test_replayed_spans_are_the_live_handlers_spans(tmp_path: Path, memory: Memory) -> None:
    """One mapping, two drivers: a run recorded live by OtelCallbackHandler and the same run
    replayed from chainsink's JSONL log give spans with the same ids, names, kinds, parents,
    status and attributes."""
    provider, exporter = memory
    path = tmp_path / "live.jsonl"
    options: dict[str, Any] = {"capture_content": True,
                               "conventions": ("gen_ai", "openinference")}
    with chainsink.FileCallbackHandler(path, format="jsonl") as handler:
        _mixed([handler, OtelCallbackHandler(provider, **options)])
    live = {s.attributes[A.RUN_ID]: s for s in exporter.get_finished_spans()}
    replayed_to = InMemorySpanExporter()
    replay = Replay(replayed_to, **options)
    for line in path.read_text().splitlines():
        replay.feed(json.loads(line))
    replay.finish()
    replayed = {s.attributes[A.RUN_ID]: s for s in replayed_to.get_finished_spans()}
    assert set(live) == set(replayed) and replay.unfinished == 0
    for run_id, span in live.items():
        other = replayed[run_id]
        assert other.context is not None and span.context is not None
        assert (other.context.trace_id, other.context.span_id) == (
            span.context.trace_id, span.context.span_id)
        assert (other.parent and other.parent.span_id) == (span.parent and span.parent.span_id)
        assert (other.name, other.kind, other.status.status_code) == (
            span.name, span.kind, span.status.status_code)
        assert dict(other.attributes) == dict(span.attributes), span.name
        assert [e.name for e in other.events] == [e.name for e in span.events]


def test_otel_environment_variables_when_no_url_is_given(log: Log, receiver: Receiver,
                                                         tmp_path: Path) -> None:
    """Without --otlp the OTEL_EXPORTER_OTLP_* variables name the endpoint and headers;
    --header adds headers."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
           "OTEL_EXPORTER_OTLP_HEADERS": "x-team=blue"}
    proc = export(log.path, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert len(receiver.take()) == len(log.runs())
    assert {k.lower(): v for k, v in receiver.headers[-1].items()}["x-team"] == "blue"
    proc = export(log.path, "--otlp", receiver.url, "--header", "Authorization=Bearer abc",
                  cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert {k.lower(): v for k, v in receiver.headers[-1].items()}["authorization"] == (
        "Bearer abc")


def test_an_unreachable_endpoint_is_one_line_and_exit_1(log: Log, tmp_path: Path) -> None:
    """Nothing listening: after the exporter's bounded retries, one line and exit code 1."""
    url = f"http://127.0.0.1:{free_port()}"
    proc = export(log.path, "--otlp", url, "--timeout", "2", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"chainsink: export to {url}/v1/traces failed: ")
    assert "Connection refused" in proc.stderr


@pytest.mark.parametrize(("status", "said"), [(400, "HTTP 400"), (503, "gave up")])
def test_a_refusing_endpoint_is_one_line_and_exit_1(log: Log, tmp_path: Path, status: int,
                                                    said: str) -> None:
    """An endpoint that answers 400 (at once) or 503 (retried, bounded) gives one line and 1."""
    with Receiver(status=status) as refusing:
        proc = export(log.path, "--otlp", refusing.url, "--timeout", "2", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and said in proc.stderr, proc.stderr


@pytest.mark.parametrize("args", [["--otlp", "ftp://x"], ["--otlp", "localhost:4318"],
                                  ["--otlp", "http://x", "--header", "no-equals"],
                                  ["--timeout", "0"], ["--timeout", "inf"],
                                  ["--timeout", "1e10"], ["--timeout", "nan"],
                                  ["--otlp", "http://[::1"], ["--otlp", "http://x:99999"]])
def test_usage_errors_exit_2(log: Log, tmp_path: Path, args: list[str]) -> None:
    """A bad URL, header or timeout is a usage error: exit 2, no traceback."""
    proc = export(log.path, *args, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("chainsink export: error: ")


def test_run_with_a_malformed_otlp_url_is_a_usage_error(tmp_path: Path) -> None:
    """`chainsink run --otlp 'http://[::1'`: one usage line, exit 2, no traceback."""
    proc = run_cli("run", "--otlp", "http://[::1", "--", sys.executable, "-c", "pass",
                   cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "not a valid URL" in proc.stderr


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_is_not_a_delivery(log: Log, tmp_path: Path, status: int) -> None:
    """Only 2xx delivers: a 3xx answer is one line naming the status, and exit 1."""
    with Receiver(status=status) as redirecting:
        proc = export(log.path, "--otlp", redirecting.url, "--timeout", "2", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1 and f"HTTP {status}" in proc.stderr, proc.stderr
    assert "sent" not in proc.stderr


@contextlib.contextmanager
def _dripping(mode: str) -> Iterator[str]:
    """An endpoint that answers the status line and then one byte every 0.2 s, forever:
    ``headers`` drips a header, ``body`` promises 100 MB and drips it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            conn.sendall(b"HTTP/1.1 200 OK\r\n" if mode == "headers" else
                         b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
            while not stop.wait(0.2):
                conn.sendall(b"X")

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        server.close()


@pytest.mark.parametrize("mode", ["headers", "body"])
def test_a_dripping_endpoint_times_out(log: Log, tmp_path: Path, mode: str) -> None:
    """An endpoint that answers a byte at a time never finishes the request: the export is
    given up after --timeout (plus a second's grace), with one line saying so, and exit 1."""
    with _dripping(mode) as url:
        began = time.monotonic()
        proc = export(log.path, "--otlp", url, "--timeout", "1", cwd=tmp_path)
        took = time.monotonic() - began
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1 and "timed out after 1 s" in proc.stderr, proc.stderr
    assert took < 20


def _start(run_id: str, i: int = 0, **extra: Any) -> dict[str, Any]:
    return {"v": 1, "ts": f"2025-01-01T00:00:{i % 60:02d}.000000Z", "event": "chain_start",
            "run_id": run_id, "parent_run_id": None, "trace_id": run_id, "name": f"r{i}",
            "run_type": "chain", "tags": [], "metadata": {}, "inputs": {"q": "hello"}, **extra}


def _end(run_id: str, i: int = 0) -> dict[str, Any]:
    return {**_start(run_id, i), "event": "chain_end", "outputs": {"a": "b"},
            "duration_ms": 1}


class _Counting(InMemorySpanExporter):
    """Keeps spans, and the size of each export call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def export(self, spans: Any) -> Any:
        self.calls.append(len(spans))
        return super().export(spans)


def test_open_runs_are_bounded_and_unfinished_runs_go_in_batches() -> None:
    """Beyond max_open runs in flight the oldest are sent as unfinished at once; the rest
    are sent at the end in batches of batch_size, never in one request."""
    exporter = _Counting()
    replay = Replay(exporter, max_open=100, batch_size=64)
    ids = [str(uuid.UUID(int=(7 << 76) | (8 << 62) | i + 1)) for i in range(1000)]
    for i, run_id in enumerate(ids):
        replay.feed(_start(run_id, i))
        assert replay.sink.open_runs <= 100
    assert replay.unfinished == 900
    replay.finish()
    assert replay.unfinished == 1000 and replay.sent == 1000
    assert max(exporter.calls) <= 64
    spans = exporter.get_finished_spans()
    assert len(spans) == 1000 and all(s.attributes and s.attributes[A.UNFINISHED] for s in spans)
    assert sorted(s.attributes[A.RUN_ID] for s in spans if s.attributes) == sorted(ids)


_PEAK = ("import resource, subprocess, sys\n"
         "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)\n"
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")


def test_export_memory_stays_bounded_for_runs_that_never_end(receiver: Receiver,
                                                            tmp_path: Path) -> None:
    """Four times as many never-ended runs take less than 1.6 times the peak memory; every
    run is still sent (as unfinished)."""
    peaks = []
    for n in (25_000, 100_000):
        path = tmp_path / f"{n}.jsonl.gz"
        with gzip.open(path, "wb", compresslevel=1) as f:
            for i in range(n):
                f.write(json.dumps(_start(str(uuid.UUID(int=(9 << 76) | i + 1)), i)).encode()
                        + b"\n")
        done = subprocess.run([sys.executable, "-c", _PEAK, sys.executable, "-m", "chainsink",
                               "export", path, "--otlp", receiver.url], cwd=tmp_path,
                              capture_output=True, text=True, env=cli_env(), timeout=600,
                              check=False)
        assert done.returncode == 0, done.stderr
        peaks.append(int(done.stdout))
        assert receiver.requests > 0
        assert len(receiver.take()) == n
    assert peaks[1] < 1.6 * peaks[0], peaks


def test_records_with_unusable_run_ids_and_repeated_ends_are_skipped(
        receiver: Receiver, tmp_path: Path) -> None:
    """A run_id that is not a UUID, or is all zero (no valid trace id), is skipped with a
    warning naming the file and record; so is a second end of one run. The rest is sent
    with valid, distinct ids."""
    a, b = "aaaaaaaa-aaaa-7aaa-8aaa-aaaaaaaaaaaa", "bbbbbbbb-bbbb-7bbb-8bbb-bbbbbbbbbbbb"
    zero = "00000000-0000-0000-0000-000000000000"
    recs = [_start("not-a-uuid"), _end("not-a-uuid", 1), _start("12345"), _start(zero),
            _start(a), _end(a, 2), _end(a, 3), _start(b, 4), _end(b, 5)]
    path = tmp_path / "ids.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    proc = export(path, "--otlp", receiver.url, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    said = proc.stderr.splitlines()
    assert said[:5] == [
        f"chainsink: {path}: record 1: skipped: run_id 'not-a-uuid' is not a UUID",
        f"chainsink: {path}: record 2: skipped: run_id 'not-a-uuid' is not a UUID",
        f"chainsink: {path}: record 3: skipped: run_id '12345' is not a UUID",
        f"chainsink: {path}: record 4: skipped: run_id '{zero}' is the all-zero UUID, not a "
        "valid trace id",
        f"chainsink: {path}: record 7: skipped: a second chain_end for run {a}; ignored"]
    assert "sent 2 runs, 5 records skipped" in said[5]
    spans = receiver.take()
    assert sorted(s.attributes[A.RUN_ID] for s in spans) == [a, b]
    assert all(s.trace_id and s.span_id for s in spans)
    assert len({s.span_id for s in spans}) == 2
    assert ts_ns(recs[5]["ts"]) == next(s.end_ns for s in spans if s.attributes[A.RUN_ID] == a)


@pytest.mark.parametrize("kind", ["text", "missing", "empty", "binary", "directory"])
def test_bad_input_sends_nothing(receiver: Receiver, tmp_path: Path, kind: str) -> None:
    """An input that is not a log: one line naming it, exit 1, no request sent."""
    bad = tmp_path / f"{kind}.jsonl"
    if kind == "text":
        bad.write_text("hello\n")
    elif kind == "empty":
        bad.write_text("")
    elif kind == "binary":
        bad.write_bytes(bytes(range(256)) * 4)
    elif kind == "directory":
        bad.mkdir()
    proc = export(bad, "--otlp", receiver.url, cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and str(bad) in proc.stderr, proc.stderr
    assert receiver.requests == 0


# -- zero code: CHAINSINK_OTLP -------------------------------------------------------------------

APP = textwrap.dedent("""
    import sys
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    for i in range(3):
        model = GenericFakeChatModel(messages=iter([AIMessage(content=f"answer {i}")]))
        chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()
        print(chain.invoke({"q": f"question {i}"}))
    assert "chainsink" not in sys.argv[0]
""")


def _hook_is_current() -> None:
    """Skip (fail under CHAINSINK_STRICT) unless site-packages holds the repository's own
    start-up hook: an editable install has none, and a stale copy may not know CHAINSINK_OTLP."""
    import site

    from chainsink.cli._run import hook_installed

    wanted = (REPO / "chainsink-startup.pth").read_text()
    found = [Path(d) / "chainsink-startup.pth" for d in [*site.getsitepackages(),
                                                          site.getusersitepackages()]]
    current = any(p.exists() and p.read_text() == wanted for p in found)
    if not (hook_installed() and current):
        reason = "chainsink-startup.pth is missing or stale in site-packages"
        if os.environ.get("CHAINSINK_STRICT"):
            pytest.fail(f"{reason}: pip install '.[dev]'")
        pytest.skip(f"{reason} (an editable install): pip install .")


def test_chainsink_otlp_exports_a_process_that_never_imports_chainsink(
        receiver: Receiver, tmp_path: Path) -> None:
    """CHAINSINK_OTLP=URL on a plain LangChain program sends all its runs (flushed at exit);
    with CHAINSINK_LOG set too, the log and the spans have the same ids."""
    _hook_is_current()
    log = tmp_path / "app.jsonl"
    env = cli_env({"CHAINSINK_OTLP": receiver.url, "CHAINSINK_LOG": str(log)})
    proc = subprocess.run([sys.executable, "-c", APP], env=env, capture_output=True, text=True,
                          timeout=120, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["answer", "0", "answer", "1", "answer", "2"]
    assert proc.stderr == ""
    spans = receiver.take()
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    check_spans(spans, Log(log, recs), slack_ns=50_000_000)
    assert len([s for s in spans if s.parent_span_id is None]) == 3


def test_chainsink_run_otlp(receiver: Receiver, tmp_path: Path) -> None:
    """`chainsink run --otlp URL -- CMD` sends the command's runs; no JSONL log is written
    unless --log is given too."""
    _hook_is_current()
    proc = run_cli("run", "--otlp", receiver.url, "--", sys.executable, "-c", APP,
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    spans = receiver.take()
    assert len([s for s in spans if s.parent_span_id is None]) == 3
    assert len(spans) == 12  # each: sequence, prompt, model, parser
    assert not list(tmp_path.glob("*.jsonl"))


def test_chainsink_otlp_with_a_bad_url_says_so_and_runs_the_program(tmp_path: Path) -> None:
    """A CHAINSINK_OTLP that is not a URL is one line on stderr; the program runs as usual."""
    _hook_is_current()
    env = cli_env({"CHAINSINK_OTLP": "not a url"})
    proc = subprocess.run([sys.executable, "-c", APP], env=env, capture_output=True, text=True,
                          timeout=120, check=False, cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.split()[-1] == "2"
    assert proc.stderr.count("\n") == 1 and "CHAINSINK_OTLP" in proc.stderr
