"""``chainsink serve`` over HTTP: its routes, what it follows, what it refuses, how it ends.

Each test drives a real ``python -m chainsink serve`` process on a free port of 127.0.0.1, over
real logs written by chainsink's own handlers; requests go through http.client or a raw socket
(so a path reaches the server as written). Waits are bounded loops, never measures.
"""

from __future__ import annotations

import gzip
import html
import json
import os
import re
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import chainsink

from ._serve_support import WAIT, Events, Serve, append_run
from ._support import XSS, Log, page_data, run_cli


@pytest.fixture(scope="module")
def serve_mixed(mixed_log: Log) -> Iterator[Serve]:
    """``chainsink serve`` over the mixed log (agents, RAG, a failure, markup), indexed."""
    server = Serve(mixed_log.path)
    events = Events(server)
    try:
        assert events.wait_for_ids(mixed_log.trace_ids), server.stderr()
    finally:
        events.close()
    yield server
    server.interrupt()


def test_page_lists_every_trace_with_the_reports_policy(serve_mixed: Serve,
                                                        mixed_log: Log) -> None:
    """``GET /`` is the report page listing every trace (no rows: they load on demand), with
    its Content-Security-Policy sent as a header too, nosniff, and the live script allowed."""
    status, headers, body = serve_mixed.get("/")
    assert status == 200
    page = body.decode()
    traces = page_data(page)["traces"]
    assert {t["id"] for t in traces} == set(mixed_log.trace_ids)
    assert all("rows" not in t for t in traces)
    meta = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert meta is not None
    assert headers["content-security-policy"] == html.unescape(meta.group(1))
    assert "connect-src 'self'" in headers["content-security-policy"]
    assert headers["content-security-policy"].count("'sha256-") == 2
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert page.count("<script>") == 2


def test_a_trace_is_loaded_with_its_rows(serve_mixed: Serve, mixed_log: Log) -> None:
    """``GET /trace?id=`` answers one trace as JSON with one row per run; an id that is not
    listed is a 404 in JSON."""
    for trace_id in mixed_log.trace_ids:
        full = serve_mixed.json(f"/trace?id={trace_id}")
        runs = sum(1 for r in mixed_log.records
                   if r["trace_id"] == trace_id and r["event"].endswith("_start"))
        assert full["id"] == trace_id
        assert len(full["rows"]) == runs == full["runs"]
    status, headers, body = serve_mixed.get("/trace?id=00000000-0000-0000-0000-000000000000")
    assert status == 404
    assert headers["content-type"] == "application/json"
    assert headers["x-content-type-options"] == "nosniff"
    assert b"error" in body


TRAVERSALS = [
    "/../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "/..%2f..%2f..%2fetc%2fpasswd",
    "//etc/passwd",
    "/etc/passwd",
    "/%2fetc%2fpasswd",
    "/..\\..\\..\\etc\\passwd",
    "/%5c..%5c..%5cetc%5cpasswd",
    "/trace/../../../etc/passwd",
    "/events/../../etc/passwd",
    "/trace?id=../../../../etc/passwd",
    "/trace?id=%2fetc%2fpasswd",
    "/?file=/etc/passwd",
    "http://127.0.0.1/../../etc/passwd",
    "/static/../../etc/passwd",
    "/.",
    "/index.html",
    "/favicon.ico",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_no_request_reaches_a_file(serve_mixed: Serve, target: str) -> None:
    """A path outside the fixed routes (dot-dot, encoded, double-encoded, absolute,
    backslashes) is a 404 or 400, with no file's content."""
    status, answer = serve_mixed.raw(f"GET {target} HTTP/1.1")
    if target == "/?file=/etc/passwd":  # the page, whatever the query says
        assert status == 200
    else:
        assert status in (400, 404), answer[:200]
    assert b"root:" not in answer
    assert b"root:x:" not in answer


@pytest.mark.parametrize("request_line", ["POST / HTTP/1.1", "PUT /trace HTTP/1.1",
                                          "GET /<script> x HTTP/1.1", "BREW / HTTP/1.1"])
def test_other_methods_and_bad_requests_get_the_same_headers(serve_mixed: Serve,
                                                             request_line: str) -> None:
    """Requests http.server answers itself (a method not served, a malformed request line)
    are refused with the page's policy and nosniff too, and no page."""
    status, answer = serve_mixed.raw(request_line)
    assert status in (400, 501), answer[:200]
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    assert "x-content-type-options: nosniff" in head
    assert "content-security-policy: default-src 'none'" in head
    assert b"chainsink-data" not in answer


def test_a_foreign_host_header_is_refused(serve_mixed: Serve) -> None:
    """A request naming another host (DNS rebinding), or none, is refused; the server's own
    address and localhost are served."""
    for host in ("evil.example", f"evil.example:{serve_mixed.port}", "127.0.0.1:1",
                 f"127.0.0.1.nip.io:{serve_mixed.port}"):
        status, answer = serve_mixed.raw("GET / HTTP/1.1", host=host)
        assert status == 403, (host, answer[:200])
        assert b"chainsink-data" not in answer
    for host in (f"127.0.0.1:{serve_mixed.port}", f"localhost:{serve_mixed.port}"):
        status, _ = serve_mixed.raw("GET / HTTP/1.1", host=host)
        assert status == 200, host


def _listening(port: int) -> list[str]:
    """The local addresses (hex, as /proc/net/tcp writes them) listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, _, hex_port = fields[1].partition(":")
            if int(hex_port, 16) == port and fields[3] == "0A":  # LISTEN
                found.append(address)
    return found


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="needs Linux /proc/net/tcp")
def test_listens_on_loopback_only_by_default(serve_mixed: Serve) -> None:
    """Without --host it listens on 127.0.0.1 alone (and says so), with no warning."""
    assert serve_mixed.host == "127.0.0.1"
    assert _listening(serve_mixed.port) == ["0100007F"]  # 127.0.0.1, little-endian hex
    assert "WARNING" not in serve_mixed.stderr()


def test_a_non_loopback_host_is_warned_about(mixed_log: Log) -> None:
    """--host 0.0.0.0 says loudly on stderr that the logs are visible to others."""
    server = Serve("--host", "0.0.0.0", mixed_log.path)
    try:
        err = server.stderr()
        assert "WARNING: listening on 0.0.0.0" in err
        assert "not a loopback address" in err
        status, _, _ = server.get("/")
        assert status == 200
    finally:
        code, _ = server.interrupt()
    assert code == 130


def test_ctrl_c_ends_it_cleanly_with_a_viewer_connected(mixed_log: Log) -> None:
    """SIGINT ends it with exit code 130 and no traceback, even with an event stream open."""
    server = Serve(mixed_log.path)
    events = Events(server)
    try:
        assert events.wait_for(mixed_log.records[0]["name"]) is not None
    finally:
        code, err = server.interrupt()
        events.close()
    assert code == 130
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("chainsink: serving")


def test_runs_appended_by_another_process_are_streamed(tmp_path: Path) -> None:
    """A run appended to the log by another process is sent on the event stream, and its
    trace loads with its rows."""
    log = tmp_path / "app.jsonl"
    append_run(log, "before_start")
    server = Serve(log)
    events = Events(server)
    try:
        assert events.wait_for("before_start") is not None
        append_run(log, "after_start")
        entry = events.wait_for("after_start")
        assert entry is not None, server.stderr()
        assert entry["status"] == "ok" and entry["runs"] == 2
        full = server.json(f"/trace?id={entry['id']}")
        assert [r["n"] for r in full["rows"]] == ["after_start", "after_start_inner"]
    finally:
        events.close()
        code, err = server.interrupt()
    assert code == 130
    assert "Traceback" not in err


def test_follows_rotation_and_truncation(tmp_path: Path) -> None:
    """Runs keep arriving across RotatingFileCallbackHandler's rotations (several within one
    run) and a truncation; a trace whose files were rotated away, and deleted, still loads."""
    log = tmp_path / "rot.jsonl"
    append_run(log, "rotating_0", "rotating")
    assert (tmp_path / "rot.jsonl.1").exists()  # the run is split across two files
    server = Serve(tmp_path)
    events = Events(server)
    try:
        first = events.wait_for("rotating_0")
        assert first is not None
        for i in range(1, 4):
            append_run(log, f"rotating_{i}", "rotating")
            assert events.wait_for(f"rotating_{i}") is not None, server.stderr()
        assert len(server.json(f"/trace?id={first['id']}")["rows"]) == 2
        with open(log, "r+b") as f:
            f.truncate(0)
        append_run(log, "after_truncation")
        assert events.wait_for("after_truncation") is not None, server.stderr()
    finally:
        events.close()
        code, err = server.interrupt()
    assert code == 130
    assert "Traceback" not in err


def test_a_directory_serves_plain_rotated_and_compressed_logs(tmp_path: Path) -> None:
    """A directory stands for its *.jsonl* files (a .gz one included, a lock file left out);
    a log created in it later is followed too."""
    logs = tmp_path / "logs"
    logs.mkdir()
    append_run(logs / "old.jsonl", "in_gzip")
    with open(logs / "old.jsonl", "rb") as src, gzip.open(logs / "app.jsonl.1.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    (logs / "old.jsonl").unlink()
    append_run(logs / "app.jsonl", "in_plain")
    (logs / "app.jsonl.lock").write_bytes(b"")
    server = Serve(logs)
    events = Events(server)
    try:
        gz = events.wait_for("in_gzip")
        assert gz is not None and events.wait_for("in_plain") is not None
        assert [r["n"] for r in server.json(f"/trace?id={gz['id']}")["rows"]] == [
            "in_gzip", "in_gzip_inner"]
        append_run(logs / "new.jsonl", "in_new_file")
        assert events.wait_for("in_new_file") is not None, server.stderr()
    finally:
        events.close()
        code, err = server.interrupt()
    assert code == 130
    assert "lock" not in err


def test_markup_in_a_log_is_sent_as_json_text(tmp_path: Path) -> None:
    """Markup from a log reaches the page only inside JSON (escaped in the page, as
    application/json on its own)."""
    from ._support import record_log, xss_workload

    log = record_log(tmp_path / "xss.jsonl", [xss_workload])
    server = Serve(log.path)
    events = Events(server)
    try:
        assert events.wait_for_ids(log.trace_ids)
        _, _, body = server.get("/")
        page = body.decode()
        for payload in XSS:
            assert payload not in page
        for trace_id in log.trace_ids:
            status, headers, raw = server.get(f"/trace?id={trace_id}")
            assert status == 200 and headers["content-type"] == "application/json"
            assert headers["x-content-type-options"] == "nosniff"
            assert json.loads(raw)["rows"]
    finally:
        events.close()
        server.interrupt()


def test_unusable_inputs_and_a_taken_port_are_one_line_errors(tmp_path: Path,
                                                              mixed_log: Log) -> None:
    """A missing file, a text log and a port in use each give one line and exit 1; stdin is
    a usage error."""
    text = tmp_path / "run.log"
    text.write_text("> Entering new chain...\n")
    done = run_cli("serve", tmp_path / "missing.jsonl", text, cwd=tmp_path, timeout=WAIT)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"chainsink: {tmp_path / 'missing.jsonl'}: no such file",
        f"chainsink: {text}: a text log, not JSONL (chainsink html renders text logs)"]
    server = Serve(mixed_log.path)
    try:
        taken = run_cli("serve", "--port", server.port, mixed_log.path, cwd=tmp_path,
                        timeout=WAIT)
    finally:
        server.interrupt()
    assert taken.returncode == 1
    assert len(taken.stderr.splitlines()) == 1
    assert "cannot listen" in taken.stderr and "Traceback" not in taken.stderr
    assert run_cli("serve", "-", cwd=tmp_path, timeout=WAIT).returncode == 2


def test_an_empty_directory_is_served_and_fills_in(tmp_path: Path) -> None:
    """A directory with no log yet is served; the first log written in it shows up."""
    server = Serve(tmp_path)
    events = Events(server)
    try:
        status, _, body = server.get("/")
        assert status == 200 and page_data(body.decode())["traces"] == []
        append_run(tmp_path / "first.jsonl", "first_run")
        assert events.wait_for("first_run") is not None, server.stderr()
    finally:
        events.close()
        code, _ = server.interrupt()
    assert code == 130


def test_the_oldest_traces_are_forgotten_past_max_traces(tmp_path: Path) -> None:
    """With --max-traces 2, three traces list the newest two; the summary counts three."""
    log = tmp_path / "app.jsonl"
    handler = chainsink.FileCallbackHandler(log, format="jsonl")
    from langchain_core.runnables import RunnableLambda

    for i in range(3):
        RunnableLambda(lambda x: x, name=f"run_{i}").invoke("x", config={"callbacks": [handler]})
    handler.close()
    server = Serve("--max-traces", "2", log)
    events = Events(server)
    try:
        assert events.wait_for("run_2") is not None
        _, _, body = server.get("/")
        names = [t["name"] for t in page_data(body.decode())["traces"]]
        assert names == ["run_1", "run_2"]
        assert "the oldest are no longer listed" in server.stderr()
    finally:
        events.close()
        server.proc.send_signal(signal.SIGINT)
        server.interrupt()


def _jsonl_run(trace: str, name: str) -> str:
    """One chain run as chainsink writes it (start and end), for logs made by the hundred."""
    common = {"v": 1, "event": "", "run_id": trace, "parent_run_id": None, "trace_id": trace,
              "name": name, "run_type": "chain", "tags": [], "metadata": {}}
    return (json.dumps({**common, "event": "chain_start", "ts": "2026-12-01T00:00:00.000000Z",
                        "inputs": {"q": 1}}) + "\n"
            + json.dumps({**common, "event": "chain_end", "ts": "2026-12-01T00:00:00.500000Z",
                          "outputs": {"a": 1}, "duration_ms": 500.0}) + "\n")


def test_a_fifo_is_refused_in_one_line_and_the_other_logs_are_served(tmp_path: Path) -> None:
    """A FIFO named beside a log is refused in one line naming it, without waiting for a
    writer; the log is indexed and its trace loads."""
    log = tmp_path / "app.jsonl"
    log.write_text(_jsonl_run("good-trace", "good"))
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    server = Serve(log, fifo)  # never announced while the FIFO's open waits for a writer
    try:
        status = 0
        for _ in range(int(WAIT / 0.1)):
            status, _, _ = server.get("/trace?id=good-trace")
            if status == 200:
                break
            time.sleep(0.1)
        assert status == 200, server.stderr()
    finally:
        code, err = server.interrupt()
    assert code == 130
    lines = [line for line in err.splitlines() if "pipe.jsonl" in line]
    assert lines == [f"chainsink: {fifo}: not a regular file (a FIFO, socket or device): "
                     "serve reads files it can read back"], err
    assert "indexing stopped" not in err and "Traceback" not in err


def test_many_rotated_logs_are_served_under_a_low_descriptor_limit(tmp_path: Path) -> None:
    """A directory of 300 rotated generations under ``ulimit -n 64`` is indexed and served
    (each file is opened, indexed and closed in turn); traces of many files load, each file
    opened again when one of its traces is."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.jsonl").write_text(_jsonl_run("r0", "n0"))
    for i in range(1, 301):
        (logs / f"app.jsonl.{i}").write_text(_jsonl_run(f"r{i}", f"n{i}"))
    with gzip.open(logs / "app.jsonl.301.gz", "wt") as f:
        f.write(_jsonl_run("r301", "n301"))
    server = Serve(logs, nofile=64)
    events = Events(server)
    try:
        ids = [f"r{i}" for i in range(302)]
        assert events.wait_for_ids(ids), server.stderr()[-2000:]
        for i in [*range(0, 302, 10), 301, 1, 301]:  # more files than descriptors kept
            rows = server.json(f"/trace?id=r{i}")["rows"]
            assert [r["n"] for r in rows] == [f"n{i}"], i
    finally:
        events.close()
        code, err = server.interrupt()
    assert code == 130
    assert "Too many open files" not in err and "Traceback" not in err, err[-2000:]


def test_a_rotated_file_renamed_after_indexing_is_found_and_one_replaced_is_not_misread(
        tmp_path: Path) -> None:
    """A trace in ``app.jsonl.1`` still loads after rotation renamed that file ``.2`` (it is
    opened again by its inode); a trace whose file was replaced by another file of the same
    name is not read from the newcomer (it is gone: 404)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.jsonl").write_text(_jsonl_run("live", "live"))
    (logs / "app.jsonl.1").write_text(_jsonl_run("moved", "moved"))
    (logs / "app.jsonl.5").write_text(_jsonl_run("replaced", "replaced"))
    others = [f"other{i}" for i in range(20)]
    for i, other in enumerate(others):
        (logs / f"app.jsonl.{100 + i}").write_text(_jsonl_run(other, other))
    server = Serve(logs)
    events = Events(server)
    try:
        assert events.wait_for_ids(["live", "moved", "replaced", *others]), server.stderr()
        for other in others:  # the files opened last are these: "moved" and "replaced" not
            assert server.json(f"/trace?id={other}")["name"] == other
        os.rename(logs / "app.jsonl.1", logs / "app.jsonl.2")
        newcomer = logs / "new.tmp"
        newcomer.write_text(_jsonl_run("replaced", "impostor"))  # same id, offsets, length
        os.replace(newcomer, logs / "app.jsonl.5")
        assert [r["n"] for r in server.json("/trace?id=moved")["rows"]] == ["moved"]
        status, _, body = server.get("/trace?id=replaced")
        assert status == 404 and b"impostor" not in body, (status, body[:300])
    finally:
        events.close()
        code, err = server.interrupt()
    assert code == 130
    assert "Traceback" not in err


def test_a_streamed_model_runs_time_to_first_token_is_shown(concurrent_log: Log) -> None:
    """A chat model run that streamed its answer carries its time to first token (the index
    keeps each run's first streamed token, and no other)."""
    streamed = [r for r in concurrent_log.records if r["event"] == "llm_new_token"]
    assert streamed
    trace = streamed[0]["trace_id"]
    model_runs = {r["run_id"] for r in streamed if r["trace_id"] == trace}
    server = Serve(concurrent_log.path)
    events = Events(server)
    try:
        assert events.wait_for_ids([trace]), server.stderr()
        rows = server.json(f"/trace?id={trace}")["rows"]
    finally:
        events.close()
        server.interrupt()
    timed = [r for r in rows if r.get("ttft") is not None]
    assert len(timed) == len(model_runs) and all(r["ttft"] >= 0 for r in timed), rows
