"""``chainsink export --parquet``: the runs (and with ``--events`` the records) of logs of real
runs as Parquet files that pandas reads back."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pytest

from ._support import Log, run_main

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")


def _query(sql: str, *files: Path) -> list[dict[str, Any]]:
    code, out, err = run_main(["query", sql, *map(str, files), "--format", "json"])
    assert code == 0, err
    rows: list[dict[str, Any]] = json.loads(out)
    return rows


def _plain(value: Any) -> Any:
    """A value pandas read back, in the form ``query --format json`` gives it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.isoformat()
    if hasattr(value, "tolist"):  # a numpy array (a list column) or scalar
        return _plain(value.tolist())
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _rows(frame: Any, json_columns: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    rows = {}
    for rec in frame.to_dict("records"):
        row = {k: _plain(v) for k, v in rec.items()}
        for key in json_columns:
            if isinstance(row[key], str):
                row[key] = json.loads(row[key])
        for key in ("input_tokens", "output_tokens", "total_tokens"):
            if row[key] is not None:
                row[key] = int(row[key])
        rows[row["run_id"]] = row
    return rows


def test_runs_parquet_holds_the_runs_view(mixed_log: Log, tmp_path: Path) -> None:
    """The Parquet file reads back with pandas with the rows of ``select * from runs``: every
    run langchain-core saw, same columns, same values."""
    out = tmp_path / "runs.parquet"
    code, stdout, err = run_main(["export", str(mixed_log.path), "--parquet", str(out)])
    assert code == 0, err
    assert stdout == ""
    assert f"wrote {len(mixed_log.runs)} runs to {out}" in err
    frame = pd.read_parquet(out)
    expected = {r["run_id"]: r for r in _query("select * from runs", mixed_log.path)}
    assert list(frame.columns) == list(next(iter(expected.values())))
    assert len(frame) == len(mixed_log.runs)
    got = _rows(frame, ("metadata",))
    assert got.keys() == {str(run.id) for run in mixed_log.runs}
    assert got == expected
    assert str(frame["start_time"].dtype).startswith("datetime64")
    assert {"ok", "error"} <= set(frame["status"])


def test_events_parquet_beside_the_runs(mixed_log: Log, tmp_path: Path) -> None:
    """``--events`` also writes every record, to ``OUT`` with ``-events`` before the suffix."""
    out = tmp_path / "day.parquet"
    code, _, err = run_main(["export", str(mixed_log.path), "--parquet", str(out), "--events"])
    assert code == 0, err
    events = pd.read_parquet(tmp_path / "day-events.parquet")
    assert len(events) == len(mixed_log.records)
    assert sorted(events["run_id"]) == sorted(r["run_id"] for r in mixed_log.records)
    assert list(events["ts"]) == sorted(events["ts"])
    ends = events[events["event"] == "llm_end"]
    usage = [u for u in ends["usage"] if u is not None]
    assert usage and all(set(u) == {"input_tokens", "output_tokens", "total_tokens",
                                    "input_token_details", "output_token_details"}
                         for u in usage)
    assert len(pd.read_parquet(out)) == len(mixed_log.runs)


def test_parquet_of_no_records_fails(tmp_path: Path) -> None:
    """Inputs without a chainsink record write nothing, say why, and exit 1."""
    text = tmp_path / "notes.jsonl"
    text.write_text("hello\nworld\n")
    out = tmp_path / "runs.parquet"
    code, _, err = run_main(["export", str(text), "--parquet", str(out)])
    assert code == 1
    assert "notes.jsonl: no chainsink records (2 bad lines)" in err
    assert not out.exists()


def test_parquet_usage_errors(mixed_log: Log, tmp_path: Path) -> None:
    """``--events`` without ``--parquet``, stdin, and a directory as OUT are usage errors."""
    for argv in (["export", str(mixed_log.path), "--events"],
                 ["export", "-", "--parquet", str(tmp_path / "x.parquet")],
                 ["export", str(mixed_log.path), "--parquet", str(tmp_path)]):
        code, _, err = run_main(argv)
        assert code == 2, (argv, err)


def test_parquet_runs_carry_their_cost(tmp_path: Path) -> None:
    """The runs Parquet's ``cost`` is what ``query`` gives: genai-prices' price of a known
    model's run, NULL (never 0) for an unknown model's, and ``--prices`` prices a private one."""
    pytest.importorskip("genai_prices")
    from .test_query import PRICED_MODEL, calc_price, cost_log

    log = cost_log(tmp_path / "cost.jsonl", private=True)
    prices = tmp_path / "prices.toml"
    prices.write_text('["acme-private-1"]\ninput_mtok = 0.5\noutput_mtok = 1.5\n')
    out = tmp_path / "runs.parquet"
    code, _, err = run_main(["export", str(log), "--parquet", str(out), "--prices", str(prices)])
    assert code == 0, err
    frame = pd.read_parquet(out)
    costs = {m: [_plain(c) for c in frame[frame["model"] == m]["cost"]]
             for m in set(frame["model"].dropna())}
    assert costs == {PRICED_MODEL: [calc_price()] * 2, "fake-chat-1": [None],
                     "acme-private-1": [2.0]}
    assert frame[frame["model"].isna()]["cost"].isna().all()
