"""The same logs give the same answer in any order, a log rotated while it is read is read as it
was, and memory stays bounded for logs full of traces that never ended.

Rotated logs come from a real :class:`chainsink.RotatingFileCallbackHandler`; every command runs
as a real process.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
import workloads

import chainsink

from ._support import Log, cli_env, page_data

#: Enough runs that a 3 kB rotating log rotates past ``.10`` (so a shell glob sorts ``.10``
#: between ``.1`` and ``.2``), with traces that span a rotation.
WORKLOADS = ["retriever_chain", "error_chain", "agent_executor", "lcel_invoke", "create_agent",
             "error_chain", "lcel_stream", "retriever_chain", "agent_executor", "error_chain"]


def _rotated(tmp_path: Path, *, compress: bool) -> list[Path]:
    """A rotating log of :data:`WORKLOADS`; returns its files oldest first."""
    path = tmp_path / "app.jsonl"
    handler = chainsink.RotatingFileCallbackHandler(path, max_bytes=3000, backup_count=60,
                                                    compress=compress)
    for name in WORKLOADS:
        workloads.run_workload(name, [handler])
    handler.close()
    rotated = [p for p in tmp_path.iterdir() if p.name.split(".")[2:3] != ["lock"]
               and p != path]
    return [*sorted(rotated, key=lambda p: int(p.name.split(".")[2]), reverse=True), path]


def _text(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def _cli(*args: Any, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chainsink", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env=cli_env(), timeout=300,
                          check=False)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_rotated_logs_give_the_chronological_answer_in_any_order(tmp_path: Path,
                                                                 compress: bool) -> None:
    """``stats --json`` and ``html`` of a rotated log's files, named in glob order, reversed,
    shuffled or oldest first, equal each other and the report of the files joined in
    chronological order; the rotation lock file matched by the glob is left out quietly."""
    logs = tmp_path / "logs"
    logs.mkdir()
    files = _rotated(logs, compress=compress)
    assert (logs / "app.jsonl.lock").exists() and len(files) > 11
    homes: dict[str, set[int]] = {}
    for i, f in enumerate(files):
        for line in _text(f).splitlines():
            homes.setdefault(orjson.loads(line)["trace_id"], set()).add(i)
    spanning = {trace for trace, where in homes.items() if len(where) > 1}
    assert spanning, "no trace spans a rotation"
    joined = tmp_path / "joined.jsonl"
    joined.write_bytes(b"".join(_text(f) for f in files))
    reference = json.loads(_cli("stats", "--json", joined, cwd=tmp_path).stdout)
    reference.pop("files")

    glob = sorted(str(p.relative_to(tmp_path)) for p in logs.iterdir())  # as a shell sorts it
    gz = ".gz" if compress else ""
    assert glob[:3] == ["logs/app.jsonl", f"logs/app.jsonl.1{gz}", f"logs/app.jsonl.10{gz}"]
    shuffled = glob[:]
    random.Random(5).shuffle(shuffled)
    orders = {"glob": glob, "reversed": glob[::-1], "shuffled": shuffled,
              "oldest first": [str(f.relative_to(tmp_path)) for f in files]}
    outputs = {}
    for name, order in orders.items():
        done = _cli("stats", "--json", *order, cwd=tmp_path)
        assert done.returncode == 0 and done.stderr == "", (name, done.stderr)
        outputs[name] = json.loads(done.stdout)
    for name, stats in outputs.items():
        assert stats == outputs["oldest first"], name
        assert {k: v for k, v in stats.items() if k != "files"} == reference, name

    pages = {}
    for name in ("glob", "oldest first"):
        out = tmp_path / f"{name}.html"
        done = _cli("html", *orders[name], "-o", out, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        pages[name] = page_data(out.read_text())["traces"]
    assert pages["glob"] == pages["oldest first"]
    assert {t["id"] for t in pages["glob"]} >= spanning


# -- a log rotated while html reads it ----------------------------------------------------------


def _big_log(path: Path, log: Log, size: int) -> None:
    """``log``'s records again and again, under fresh ids, to ``size`` bytes."""
    data = log.path.read_bytes()
    ids = sorted({r["run_id"] for r in log.records})
    with open(path, "wb") as f:
        written = 0
        while written < size:
            chunk = data
            for old in ids:
                chunk = chunk.replace(old.encode(), str(uuid.uuid4()).encode())
            f.write(chunk)
            written += len(chunk)


def _reading(pid: int, path: Path) -> tuple[int, int] | None:
    """``(fd, offset)`` of the descriptor through which process ``pid`` reads ``path``."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != str(path):
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                pos = int(info.readline().split()[1])
            return int(fd), pos
        except (OSError, ValueError, IndexError):
            continue
    return None


def _rotate_mid_read(tmp_path: Path, log: Log, rotate: Any) -> tuple[
        subprocess.CompletedProcess[str], Path, Path]:
    """Run ``html`` on a big log, call ``rotate(path)`` once the report has read a fifth of it
    and no more than three quarters; return the run, its page and the reference page (the same
    log, left alone)."""
    path = tmp_path / "app.jsonl"
    _big_log(path, log, 24 * 2**20)
    size = path.stat().st_size
    ref_log = tmp_path / "ref.jsonl"
    ref_log.write_bytes(path.read_bytes())
    ref = tmp_path / "ref.html"
    assert _cli("html", ref_log, "-o", ref, "--max-traces", "40", cwd=tmp_path).returncode == 0
    out = tmp_path / "out.html"
    proc = subprocess.Popen([sys.executable, "-m", "chainsink", "html", str(path), "-o",
                             str(out), "--max-traces", "40"], cwd=tmp_path, env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while True:
            seen = _reading(proc.pid, path)
            if seen is not None and seen[1] >= size // 5:
                assert seen[1] <= size * 3 // 4, "the report read too far before the rotation"
                rotate(path)
                break
            assert proc.poll() is None, "the report ended before the rotation"
            time.sleep(0.002)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), out, ref


def test_a_log_rotated_while_html_reads_it_is_reported_as_it_was(tmp_path: Path,
                                                                 mixed_log: Log) -> None:
    """The log is renamed to ``.1`` and a new, empty one takes its name while ``html`` reads it:
    the page is the one of the log as it was (no trace emptied), with no complaint."""

    def rotate(path: Path) -> None:
        path.rename(path.with_name("app.jsonl.1"))
        path.write_bytes(b"")

    done, out, ref = _rotate_mid_read(tmp_path, mixed_log, rotate)
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines()
            if not line.startswith("chainsink: wrote ")] == []
    traces = page_data(out.read_text())["traces"]
    assert all(t["rows"] for t in traces)
    assert traces == page_data(ref.read_text())["traces"]


def test_a_log_truncated_while_html_reads_it_is_reported(tmp_path: Path,
                                                         mixed_log: Log) -> None:
    """The log is truncated in place (copytruncate) while ``html`` reads it: the page is
    written, and one line says the log changed under the report, instead of traces silently
    shown empty."""

    def truncate(path: Path) -> None:
        os.truncate(path, 0)

    done, out, _ = _rotate_mid_read(tmp_path, mixed_log, truncate)
    assert done.returncode == 0, done.stderr
    changed = [line for line in done.stderr.splitlines() if "changed while" in line]
    assert len(changed) == 1 and changed[0].startswith(f"chainsink: {tmp_path / 'app.jsonl'}: ")
    assert page_data(out.read_text())["traces"]


# -- memory: traces that never ended -------------------------------------------------------------


def _never_ended(path: Path, traces: int) -> None:
    """A gzipped log of ``traces`` traces that started, called a model, streamed a few tokens
    and never ended (their workers were killed)."""
    rnd = random.Random(traces)
    with gzip.open(path, "wb", compresslevel=1) as f:
        for i in range(traces):
            root, llm = str(uuid.UUID(int=rnd.getrandbits(128))), str(
                uuid.UUID(int=rnd.getrandbits(128)))
            ts = f"2026-01-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.{i:06d}Z"
            base = {"v": 1, "ts": ts, "run_id": root, "parent_run_id": None, "trace_id": root,
                    "name": "agent", "run_type": "chain", "tags": ["worker"],
                    "metadata": {"worker": i % 7}}
            lines = [dict(base, event="chain_start", inputs={"question": f"question {i}?"}),
                     dict(base, event="chat_model_start", run_id=llm, parent_run_id=root,
                          name="model", run_type="llm",
                          messages=[[{"type": "human", "content": f"question {i}, in full"}]])]
            lines += [dict(base, event="llm_new_token", run_id=llm, parent_run_id=root,
                           name="model", run_type="llm", token=f"t{k}") for k in range(3)]
            f.write(b"".join(orjson.dumps(rec) + b"\n" for rec in lines))


_PEAK = ("import resource, subprocess, sys\n"
         "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)\n"
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")


def _peak_rss_kib(*args: Any, cwd: Path) -> int:
    """The peak resident memory of ``chainsink ARGS``, from a fresh wrapper process."""
    done = subprocess.run([sys.executable, "-c", _PEAK, sys.executable, "-m", "chainsink",
                           *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          env=cli_env(), timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def test_memory_stays_bounded_for_traces_that_never_ended(tmp_path: Path) -> None:
    """Four times as many never-ended traces in a read-once ``.gz`` log take less than 1.6
    times the peak memory, for ``stats`` and ``html``; every trace is still counted."""
    small, large = tmp_path / "25k.jsonl.gz", tmp_path / "100k.jsonl.gz"
    _never_ended(small, 25_000)
    _never_ended(large, 100_000)
    peaks = {}
    for command in (["stats"], ["html", "-o", tmp_path / "r.html"]):
        peaks[command[0]] = [_peak_rss_kib(*command, log, cwd=tmp_path) for log in (small, large)]
    for command, (low, high) in peaks.items():
        assert high < 1.6 * low, (command, peaks)
    done = _cli("stats", "--json", large, cwd=tmp_path)
    stats = json.loads(done.stdout)
    assert (stats["traces"], stats["incomplete_traces"], stats["runs"]) == (
        100_000, 100_000, 200_000)
