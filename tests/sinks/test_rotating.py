"""Rotation: whole records in every file, nothing lost, under threads, tasks and processes."""

from __future__ import annotations

import asyncio
import glob
import gzip
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import workloads

from chainsink import RotatingFileCallbackHandler
from chainsink.sinks import RotatingFileSink


def all_files(path: Path) -> list[str]:
    return sorted(glob.glob(f"{path}*"))


def read_all(path: Path) -> list[dict[str, Any]]:
    """Every record in the log and its backups; fails on any line that is not whole JSON."""
    records = []
    for name in all_files(path):
        if name.endswith(".lock"):
            continue
        opener = gzip.open if name.endswith(".gz") else open
        with opener(name, "rt", encoding="utf-8") as f:
            for line in f.read().splitlines():
                records.append(json.loads(line))
    return records


def assert_complete_runs(records: list[dict[str, Any]]) -> None:
    starts: dict[str, int] = {}
    ends: dict[str, int] = {}
    for rec in records:
        if rec["event"].endswith("_start"):
            starts[rec["run_id"]] = starts.get(rec["run_id"], 0) + 1
        elif rec["event"].endswith(("_end", "_error")):
            ends[rec["run_id"]] = ends.get(rec["run_id"], 0) + 1
    assert starts and set(starts) == set(ends)
    assert set(starts.values()) == {1} and set(ends.values()) == {1}


def test_threads_and_tasks_share_one_rotating_handler(tmp_path: Path) -> None:
    """8-thread batch and 40 astream tasks at max_bytes=20_000: many files, all runs whole."""
    path = tmp_path / "run.jsonl"
    handler = RotatingFileCallbackHandler(path, max_bytes=20_000, backup_count=10_000)
    workloads.batch_lcel_threaded([handler], n=32)
    asyncio.run(workloads.astream_lcel_concurrent([handler], n=40))
    handler.close()
    files = [f for f in all_files(path) if not f.endswith(".lock")]
    assert len(files) > 5
    for name in files:
        size = Path(name).stat().st_size
        assert size <= 20_000
    records = read_all(path)
    assert_complete_runs(records)
    roots = [r for r in records if r["event"] == "chain_end" and r["parent_run_id"] is None]
    assert len(roots) == 32 + 40


def test_oversized_record_gets_its_own_file(tmp_path: Path) -> None:
    """A record bigger than max_bytes is written whole, alone, never split."""
    path = tmp_path / "big.log"
    sink = RotatingFileSink(path, max_bytes=100, backup_count=5)
    sink.write("a" * 50 + "\n")
    sink.write("b" * 500 + "\n")
    sink.write("c" * 50 + "\n")
    sink.close()
    assert Path(f"{path}.2").read_text() == "a" * 50 + "\n"
    assert Path(f"{path}.1").read_text() == "b" * 500 + "\n"
    assert path.read_text() == "c" * 50 + "\n"


def test_backup_count_keeps_the_newest(tmp_path: Path) -> None:
    """Only backup_count rotated files are kept, like CPython's RotatingFileHandler."""
    path = tmp_path / "r.log"
    sink = RotatingFileSink(path, max_bytes=10, backup_count=2)
    for i in range(6):
        sink.write(f"line{i:04d}\n")  # 9 bytes: one per file
        sink.flush()
    sink.close()
    assert path.read_text() == "line0005\n"
    assert Path(f"{path}.1").read_text() == "line0004\n"
    assert Path(f"{path}.2").read_text() == "line0003\n"
    assert not Path(f"{path}.3").exists()


def test_compress_gzips_rotated_files(tmp_path: Path) -> None:
    """compress=True leaves .1.gz, .2.gz ... holding the rotated records."""
    path = tmp_path / "z.jsonl"
    handler = RotatingFileCallbackHandler(path, max_bytes=2_000, backup_count=100, compress=True)
    for _ in range(5):
        workloads.invoke_lcel([handler])
    handler.close()
    assert Path(f"{path}.1.gz").exists()
    assert_complete_runs(read_all(path))


@pytest.mark.parametrize("kwargs", [
    {"max_bytes": 0, "backup_count": 1},
    {"max_bytes": -5, "backup_count": 1},
    {"max_bytes": 10, "backup_count": 0},
    {"max_bytes": "10", "backup_count": 1},
    {"max_bytes": 10, "backup_count": 1, "format": "csv"},
])
def test_options_checked_at_construction(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    """Bad sizes, counts and formats raise ValueError when the handler is built."""
    with pytest.raises(ValueError):
        RotatingFileCallbackHandler(tmp_path / "x.jsonl", **kwargs)


ROTATING_WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[3])
    import workloads
    from chainsink import RotatingFileCallbackHandler
    handler = RotatingFileCallbackHandler(sys.argv[1], max_bytes=30_000, backup_count=100_000)
    for i in range(int(sys.argv[2])):
        workloads.invoke_lcel([handler])
    # no close(): records still queued at exit must land too
""")


def test_processes_rotate_one_file_safely(tmp_path: Path) -> None:
    """4 processes writing and rotating one file: every line whole, every run complete."""
    path = tmp_path / "shared.jsonl"
    tests_dir = str(Path(__file__).resolve().parent.parent)
    procs = [subprocess.Popen([sys.executable, "-c", ROTATING_WRITER, str(path), "40", tests_dir])
             for _ in range(4)]
    assert [p.wait(timeout=180) for p in procs] == [0, 0, 0, 0]
    files = [f for f in all_files(path) if not f.endswith(".lock")]
    assert len(files) > 3
    records = read_all(path)
    assert_complete_runs(records)
    roots = [r for r in records if r["event"] == "chain_end" and r["parent_run_id"] is None]
    assert len(roots) == 160
