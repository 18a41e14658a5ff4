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
         large_rc: int = 0, html: tuple[float, float] = (60, 60),
         tail: tuple[float, float] = (20, 20), query: tuple[float, float] = (150, 150),
         html_rc: int = 0) -> list[dict[str, Any]]:
    """A 50 MB and a 1,000 MB set: the baseline, query, both stats engines, html and tail
    (the DuckDB engine's peak memory ``small_rss`` and ``large_rss``; the Python one's far
    less; html's, tail's and query's peaks on the small and the large set as given, html
    exiting ``html_rc`` on the large one)."""
    found = []
    for i, (set_, mb) in enumerate((("small", 50.0), ("large", 1000.0))):
        found.append(row(set_, "json.loads", mb=mb, wall=mb / 50, rss=20))
        found.append(row(set_, "query", mb=mb, wall=mb / 200, rss=query[i]))
        found.append(row(set_, "stats python", mb=mb, wall=mb / 12, rss=40))
        found.append(row(set_, "stats duckdb", mb=mb,
                         wall=large_wall if set_ == "large" else 1.0,
                         rss=large_rss if set_ == "large" else small_rss,
                         rc=large_rc if set_ == "large" else 0))
        found.append(row(set_, "html", mb=mb, wall=mb / 40, rss=html[i],
                         rc=html_rc if set_ == "large" else 0))
        found.append(row(set_, "tail", mb=mb, wall=mb / 20, rss=tail[i]))
    return found


def passes(found: list[dict[str, Any]]) -> list[bool]:
    """The verdicts' pass flags, in order."""
    return [g["pass"] for g in found]


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
    assert passes(found)[:2] == [True, True]
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
    assert passes(grown)[:2] == [False, True]
    slow = bench.verdicts(rows(small_rss=100, large_rss=120, large_wall=10.5),
                          small="small", large="large", auto_bytes=AUTO)
    assert passes(slow)[:2] == [True, False]
    crashed = bench.verdicts(rows(small_rss=100, large_rss=120, large_wall=5.0, large_rc=1),
                             small="small", large="large", auto_bytes=AUTO)
    assert passes(crashed)[:2] == [False, False]
    assert bench.verdict_lines(crashed)[1].startswith("  [FAIL]")


def test_verdicts_without_measurements_fail() -> None:
    """A set that was not measured fails both targets, saying so."""
    found = bench.verdicts([], small="small", large="large", auto_bytes=AUTO)
    assert passes(found) == [False] * 5
    assert all(g["detail"] == "not measured" for g in found)
    assert [g["ratio"] for g in found if "ratio" in g] == [None] * 4


def test_sizes_parse_in_decimal_units() -> None:
    """``--size`` takes 1GB, 300MB, 50M, plain bytes; anything else is refused."""
    assert bench.parse_size("1GB") == 10**9
    assert bench.parse_size("300MB") == 300 * 10**6
    assert bench.parse_size("50m") == 50 * 10**6
    assert bench.parse_size("4096") == 4096
    with pytest.raises(Exception, match="not a size"):
        bench.parse_size("lots")


def test_verdicts_keep_their_shape_and_order() -> None:
    """The JSON's "targets" list keeps its first two rows (stats memory, stats speed) and the
    keys target, pass and detail on every row; html, tail and query follow, one memory row
    each, their command named."""
    found = bench.verdicts(rows(small_rss=100, large_rss=120, large_wall=5.0),
                           small="small", large="large", auto_bytes=AUTO)
    assert [g["target"] for g in found] == [
        "chainsink stats memory flat as the input grows (at most 1.5x)",
        "chainsink stats at least 100 MB/s with DuckDB installed",
        "chainsink html memory flat as the input grows (at most 1.5x)",
        "chainsink tail memory flat as the input grows (at most 1.5x)",
        "chainsink query memory flat as the input grows (at most 1.5x)",
    ]
    assert all({"target", "pass", "detail"} <= g.keys() for g in found)
    assert all(isinstance(g["pass"], bool) for g in found)
    assert [g["command"] for g in found] == ["stats duckdb", "stats duckdb", "html", "tail",
                                             "query"]
    assert found[0]["ratio"] == pytest.approx(1.2)
    assert found[1]["mb_s"] == pytest.approx(200.0)


def test_each_command_is_judged_flat_on_its_own_memory() -> None:
    """html, tail and query each pass when their own large-set peak is within 1.5x of their
    own small-set peak (the boundary included), and fail past it, independently."""
    found = bench.verdicts(rows(small_rss=100, large_rss=120, large_wall=5.0,
                                html=(60, 90), tail=(20, 31), query=(200, 610)),
                           small="small", large="large", auto_bytes=AUTO)
    assert passes(found) == [True, True, True, False, False]
    lines = bench.verdict_lines(found)
    assert lines[2] == ("  [PASS] chainsink html memory flat as the input grows (at most 1.5x): "
                        "html: 60 MB on 50 MB, 90 MB on 1,000 MB = 1.50x")
    assert lines[3].startswith("  [FAIL] chainsink tail memory flat") and "= 1.55x" in lines[3]
    assert "query: 200 MB on 50 MB, 610 MB on 1,000 MB = 3.05x" in lines[4]
    assert found[4]["ratio"] == pytest.approx(3.05)


def test_a_failed_run_fails_its_memory_verdict_only() -> None:
    """html exiting non-zero on the large set fails html's row (saying so), even with flat
    memory; the other rows do not change."""
    found = bench.verdicts(rows(small_rss=100, large_rss=120, large_wall=5.0, html_rc=1),
                           small="small", large="large", auto_bytes=AUTO)
    assert passes(found) == [True, True, False, True, True]
    assert found[2]["detail"].endswith("= 1.00x (exit 1 on the large set)")


def test_a_command_missing_from_one_set_is_not_measured() -> None:
    """A command measured on the small set only fails its row as not measured."""
    measured = [r for r in rows(small_rss=100, large_rss=120, large_wall=5.0)
                if not (r["command"] == "tail" and r["set"] == "large")]
    got = bench.flat_verdict(measured, "tail", small="small", large="large")
    assert got["pass"] is False and got["detail"] == "not measured" and got["ratio"] is None


def test_command_lines_for_html_and_tail() -> None:
    """html writes its page where it is told (needing a path); tail runs in its default style,
    not following."""
    files = [Path("logs/app.jsonl.1.gz"), Path("logs/app.jsonl")]
    html, env = bench.command_line("html", files, Path("out/report.html"))
    assert html[-5:] == ["html", "logs/app.jsonl.1.gz", "logs/app.jsonl", "-o",
                         "out/report.html"] and env == {}
    with pytest.raises(ValueError, match="page"):
        bench.command_line("html", files)
    tail, env = bench.command_line("tail", files)
    assert tail[-3:] == ["tail", "logs/app.jsonl.1.gz", "logs/app.jsonl"] and env == {}
    assert not {"-f", "--follow", "--style"} & set(tail)
    assert bench.TAIL_STYLE == "detailed"
    assert set(bench.COMMANDS) >= {"html", "tail", "query", "stats duckdb", "stats python"}


def test_html_lines_say_what_the_page_covers() -> None:
    """Each html run's page size and the summary line it printed."""
    r = row("large", "html", mb=1000, wall=20, rss=60)
    r.update(output_bytes=1_300_000,
             stderr="chainsink: wrote /tmp/x/report-large.html: 2,200 traces (200 in detail), "
                    "13,250 runs, 220 errors\n")
    failed = row("small", "html", mb=50, wall=1, rss=60, rc=1)
    assert bench.html_lines([failed, r]) == [
        "html on large: 1.3 MB page (2,200 traces (200 in detail), 13,250 runs, 220 errors)"]
