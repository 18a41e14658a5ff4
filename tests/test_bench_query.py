"""The query/stats benchmark's arithmetic (bench/bench_query.py): throughput, ratios to the
``json.loads`` baseline, which ``stats`` a user gets, and the verdicts on issue 17's reading
row. No timing is measured here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import bench_query as bench

AUTO = 64 * 2**20


def row(set_: str, command: str, *, mb: float, wall: float, rss: float, rc: int = 0,
        disk_mb: float | None = None) -> dict[str, Any]:
    """A measured row as the benchmark records it."""
    return {"set": set_, "command": command, "input_bytes": mb * 1e6,
            "disk_bytes": (mb if disk_mb is None else disk_mb) * 1e6, "wall_s": wall,
            "user_s": wall, "sys_s": 0.0, "maxrss_mb": rss, "rc": rc}


def rows(*, small_rss: float, large_rss: float, large_wall: float,
         large_rc: int = 0) -> list[dict[str, Any]]:
    """A 50 MB and a 1,000 MB set: the baseline, query and both stats engines (the DuckDB
    engine's peak memory ``small_rss`` and ``large_rss``; the Python one's far less)."""
    found = []
    for set_, mb in (("small", 50.0), ("large", 1000.0)):
        found.append(row(set_, "json.loads", mb=mb, wall=mb / 50, rss=20))
        found.append(row(set_, "query", mb=mb, wall=mb / 200, rss=150))
        found.append(row(set_, "stats python", mb=mb, wall=mb / 12, rss=40))
        found.append(row(set_, "stats duckdb", mb=mb,
                         wall=large_wall if set_ == "large" else 1.0,
                         rss=large_rss if set_ == "large" else small_rss,
                         rc=large_rc if set_ == "large" else 0))
    return found


def test_throughput_is_input_over_wall_and_zero_when_failed() -> None:
    """MB/s is uncompressed input over wall time; a failed run reads at 0 MB/s."""
    assert bench.throughput(row("s", "query", mb=100, wall=2.0, rss=1)) == pytest.approx(50.0)
    assert bench.throughput(row("s", "query", mb=100, wall=2.0, rss=1, rc=1)) == 0.0


def test_ratios_are_to_the_json_loads_baseline_on_the_same_set() -> None:
    """Each command's throughput over the json.loads loop's on the same set."""
    got = bench.ratios(rows(small_rss=100, large_rss=120, large_wall=5.0))
    assert got[("small", "json.loads")] == pytest.approx(1.0)
    assert got[("small", "query")] == pytest.approx(4.0)
    assert got[("large", "stats duckdb")] == pytest.approx(200 / 50)


def test_stats_as_used_follows_the_auto_engine() -> None:
    """Below the auto threshold a user gets the Python reader, at or above it DuckDB."""
    measured = rows(small_rss=100, large_rss=120, large_wall=5.0)
    small = bench.stats_as_used(measured, "small", AUTO)
    large = bench.stats_as_used(measured, "large", AUTO)
    assert small is not None and small["command"] == "stats python"
    assert large is not None and large["command"] == "stats duckdb"
    assert bench.stats_as_used(measured, "missing", AUTO) is None


def test_verdicts_pass_when_flat_and_fast() -> None:
    """The engine the large set gets (DuckDB) keeps its memory within 1.5x of its own on the
    small set (not of the Python reader's) and reads 100 MB/s or more: both PASS."""
    found = bench.verdicts(rows(small_rss=100, large_rss=150, large_wall=10.0),
                           small="small", large="large", auto_bytes=AUTO)
    assert [g["pass"] for g in found] == [True, True]
    lines = bench.verdict_lines(found)
    assert lines[0].startswith("  [PASS] chainsink stats memory flat") and "1.50x" in lines[0]
    assert "stats duckdb: 100 MB on 50 MB, 150 MB on 1,000 MB" in lines[0]
    assert lines[1].startswith("  [PASS] chainsink stats at least 100 MB/s") \
        and "100.0 MB/s" in lines[1]


def test_verdicts_fail_when_memory_grows_or_reading_is_slow() -> None:
    """Memory past 1.5x fails the flat target; under 100 MB/s fails the speed target; a
    failed large run fails both."""
    grown = bench.verdicts(rows(small_rss=100, large_rss=151, large_wall=5.0),
                           small="small", large="large", auto_bytes=AUTO)
    assert [g["pass"] for g in grown] == [False, True]
    slow = bench.verdicts(rows(small_rss=100, large_rss=120, large_wall=10.5),
                          small="small", large="large", auto_bytes=AUTO)
    assert [g["pass"] for g in slow] == [True, False]
    crashed = bench.verdicts(rows(small_rss=100, large_rss=120, large_wall=5.0, large_rc=1),
                             small="small", large="large", auto_bytes=AUTO)
    assert [g["pass"] for g in crashed] == [False, False]
    assert bench.verdict_lines(crashed)[1].startswith("  [FAIL]")


def test_verdicts_without_measurements_fail() -> None:
    """A set that was not measured fails both targets, saying so."""
    found = bench.verdicts([], small="small", large="large", auto_bytes=AUTO)
    assert [g["pass"] for g in found] == [False, False]
    assert all(g["detail"] == "not measured" for g in found)


def test_sizes_parse_in_decimal_units() -> None:
    """``--size`` takes 1GB, 300MB, 50M, plain bytes; anything else is refused."""
    assert bench.parse_size("1GB") == 10**9
    assert bench.parse_size("300MB") == 300 * 10**6
    assert bench.parse_size("50m") == 50 * 10**6
    assert bench.parse_size("4096") == 4096
    with pytest.raises(Exception, match="not a size"):
        bench.parse_size("lots")
