"""``chainsink stats`` gives the same numbers with DuckDB as with the Python reader: on logs of
real runs (rotated and gzipped, errors, interrupted and aborted runs, open runs, several models,
cost, bad lines), ``stats --json``, the text and the warnings are the same either way."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import workloads

import chainsink
from chainsink.cli._stats_duck import AUTO_BYTES, ENGINE_ENV, engine_for

from ._support import cli_env, record_log, run_cli
from .test_query import ABANDONED, cost_log, interrupted_run

pytest.importorskip("duckdb")


def stats(engine: str, *args: Any, cwd: Path, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    """``chainsink stats ARGS`` in a fresh process with the engine forced."""
    done: subprocess.CompletedProcess[str] = run_cli(
        "stats", *args, cwd=cwd, env={ENGINE_ENV: engine, **(env or {})})
    return done


def same_either_way(*args: Any, cwd: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Assert that both engines print the same JSON, text and warnings; the JSON."""
    py = stats("python", "--json", *args, cwd=cwd, env=env)
    duck = stats("duckdb", "--json", *args, cwd=cwd, env=env)
    assert py.returncode == duck.returncode == 0, (py.stderr, duck.stderr)
    assert json.loads(duck.stdout) == json.loads(py.stdout)
    assert duck.stderr == py.stderr
    py_text = stats("python", *args, cwd=cwd, env=env)
    duck_text = stats("duckdb", *args, cwd=cwd, env=env)
    assert duck_text.stdout == py_text.stdout
    assert duck_text.stderr == py_text.stderr
    found: dict[str, Any] = json.loads(py.stdout)
    return found


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of logs: a rotating log partly gzipped (agents, RAG, streams, concurrent
    and failing runs, an interrupted chain), the log of a process that exited mid-run
    (aborted), a log cut mid-trace (open runs), and model calls of a priced model, an
    unpriced one and a private one."""
    root = tmp_path_factory.mktemp("engines")
    path = root / "app.jsonl"
    handler = chainsink.RotatingFileCallbackHandler(path, max_bytes=16 * 1024, backup_count=50)
    for name in ["agent_executor", "retriever_chain", "batch_threaded", "astream_concurrent",
                 "error_chain", "lcel_stream", "create_agent"]:
        workloads.run_workload(name, [handler])
    interrupted_run([handler])
    handler.close()
    rotated = sorted(root.glob("app.jsonl.[0-9]*"))
    assert len(rotated) >= 3
    for old in rotated[::2]:
        with open(old, "rb") as src, gzip.open(f"{old}.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        old.unlink()
    aborted = root / "aborted.jsonl"
    done = subprocess.run([sys.executable, "-c", ABANDONED, str(aborted)], env=cli_env(),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert b'"aborted":true' in aborted.read_bytes()
    whole = record_log(root / "whole.tmp", ["agent_executor", "lcel_stream"])
    lines = whole.path.read_bytes().splitlines(keepends=True)
    (root / "cut.jsonl").write_bytes(b"".join(lines[: len(lines) * 2 // 3]))  # open runs
    whole.path.unlink()
    cost_log(root / "cost.jsonl", private=True)
    return root


def _files(root: Path) -> list[str]:
    return sorted(str(p) for p in root.iterdir() if ".jsonl" in p.name)


def test_same_numbers_from_both_engines(logs: Path, tmp_path: Path) -> None:
    """Rotated and gzipped logs, errors, interrupted and aborted runs, open runs, tokens and
    cost by model, latency per name, the slowest traces: the same JSON and text from DuckDB as
    from the Python reader."""
    prices = tmp_path / "prices.toml"
    prices.write_text('["acme-private-1"]\ninput_mtok = 0.5\noutput_mtok = 1.5\n')
    found = same_either_way("--prices", prices, "--top", "50", *_files(logs), cwd=tmp_path)
    # the logs hold what the comparison is meant to cover
    assert found["errors"] > 0 and found["interrupted"] > 0 and found["failed_traces"] > 0
    assert found["incomplete_traces"] > 0 and found["interrupted_traces"] > 0
    assert found["tokens"]["calls"] > 0 and len(found["tokens_by_model"]) >= 3
    assert found["cost"]["priced"] > 0 and found["cost"]["unpriced_models"]
    assert found["tokens_by_model"]["acme-private-1"]["cost"] == 2.0
    assert any(t["status"] == "incomplete" for t in found["slowest_traces"])
    names = {Path(f).name for f in found["files"]}
    assert {"aborted.jsonl", "cut.jsonl", "cost.jsonl"} <= names
    assert any(n.endswith(".gz") for n in names) and len(names) > 10


def test_same_warnings_for_bad_lines(logs: Path, tmp_path: Path) -> None:
    """A log with bad lines (not JSON, not a record, a partial last line, more than ten) and
    odd records gets the same warnings, file and line, from both engines, and the same
    numbers; a file with no records is said the same way too."""
    bad = tmp_path / "bad.jsonl"
    good = (logs / "cost.jsonl").read_bytes().splitlines(keepends=True)
    odd = json.loads(good[0])
    odd["duration_ms"] = -5
    junk = [b"not json at all\n", b"[1, 2]\n", b'{"no": "event"}\n'] * 5
    bad.write_bytes(b"".join(good[:3] + junk + [json.dumps(odd).encode() + b"\n"] + good[3:])
                    + b'{"event": "chain_start", "run_id": "cut')
    notes = tmp_path / "notes.jsonl"
    notes.write_text("hello\nworld\n")
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text('{"no": "event"}\n{"level": "info"}\n')
    found = same_either_way(bad, notes, foreign, cwd=tmp_path)
    assert found["files"] == [str(bad)]
    said = stats("duckdb", bad, notes, foreign, cwd=tmp_path).stderr
    assert "partial last line" not in said  # past the first ten: counted
    assert "6 more bad lines skipped, 1 more odd records read in part" in said
    assert "notes.jsonl: a text log" in said and "foreign.jsonl: no chainsink records" in said


def test_same_numbers_without_the_price_table(logs: Path, tmp_path: Path) -> None:
    """Without genai-prices both engines leave cost unknown and say once how to get it."""
    from ._support import REPO

    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['genai_prices'] = None\n")
    env = {"PYTHONPATH": f"{REPO}{os.pathsep}{site}"}
    found = same_either_way(logs / "cost.jsonl", cwd=tmp_path, env=env)
    assert found["cost"]["price_table"] is None and found["cost"]["total"] is None


def test_duckdb_percentiles_are_exact_past_the_sample(tmp_path: Path) -> None:
    """Past 1,024 runs of a name DuckDB's p50 and p95 are the exact nearest-rank values of
    every duration (the Python reader's are estimated from a sample)."""
    from langchain_core.runnables import RunnableLambda

    path = tmp_path / "many.jsonl"
    handler = chainsink.FileCallbackHandler(path, mode="w", format="jsonl")
    step = RunnableLambda(lambda x: x, name="step")
    step.batch(list(range(3000)), config={"callbacks": [handler]})
    handler.close()
    durations = sorted(json.loads(line)["duration_ms"] for line in path.read_text().splitlines()
                       if '"chain_end"' in line)
    assert len(durations) == 3000
    done = stats("duckdb", "--json", path, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lat = json.loads(done.stdout)["latency_ms"]["step"]
    assert lat["runs"] == 3000
    assert lat["p50"] == durations[1500 - 1] and lat["p95"] == durations[2850 - 1]
    assert lat["max"] == durations[-1]


def test_engine_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB is chosen for inputs of AUTO_BYTES or more, the Python reader below that and for
    stdin; the environment variable forces either; a bad value is refused."""
    small = tmp_path / "small.jsonl"
    small.write_text("{}\n")
    big = tmp_path / "big.jsonl"
    with open(big, "wb") as f:  # sparse: its size is what counts
        f.truncate(AUTO_BYTES)
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    assert engine_for([str(small)]) == "python"
    assert engine_for([str(big)]) == "duckdb"
    assert engine_for([str(big), "-"]) == "python"
    monkeypatch.setenv(ENGINE_ENV, "python")
    assert engine_for([str(big)]) == "python"
    monkeypatch.setenv(ENGINE_ENV, "duckdb")
    assert engine_for([str(small)]) == "duckdb"
    monkeypatch.setenv(ENGINE_ENV, "sqlite")
    with pytest.raises(ValueError, match=ENGINE_ENV):
        engine_for([str(small)])


def test_a_damaged_gzip_falls_back_to_the_python_reader(logs: Path, tmp_path: Path) -> None:
    """A ``.gz`` cut short stops DuckDB; stats still answers, as the Python reader does."""
    whole = next(logs.glob("*.gz")).read_bytes()
    cut = tmp_path / "cut.jsonl.1.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    same_either_way(cut, logs / "cost.jsonl", cwd=tmp_path)
