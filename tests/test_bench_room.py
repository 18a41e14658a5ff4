"""The handler benchmark's ROOM arithmetic (bench/bench_handlers.py): for each failing target,
what it allows the candidate per event next to the floors measured in the same run, and the
verdict printed next to it. No timing is measured here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import _workloads as workloads
import bench_handlers as bench


def _work(name: str) -> Any:
    return workloads.Workload(name, name, lambda callbacks: None)


def _results(**per_workload: dict[str, list[float]]) -> dict[str, Any]:
    return {"workloads": {name: {"delta_us_per_event": deltas}
                          for name, deltas in per_workload.items()}}


def test_room_sets_each_failing_target_against_the_floors() -> None:
    """A failing row gets what it allows, the dispatch and payload-less line floors (medians),
    what the candidate takes, the factor it would meet and a verdict; passing rows get none."""
    floors = {"noop_inline": [3.0, 2.0, 4.0], "ref_orjson_min": [8.0, 9.0, 7.0]}
    results = _results(
        # allows 1.2 x 10 = 12 >= the line's 8: chainsink over
        over={**floors, "ref_fastpath_jsonl": [10.0], "cs_file_jsonl": [15.0]},
        # allows 0.5 x 10 = 5: more than dispatch (3), less than a line (8)
        short={**floors, "lc_console": [10.0], "cs_file_jsonl": [6.0]},
        # allows 1.3 x 2 = 2.6: less than LangChain's dispatch of a do-nothing handler
        tiny={**floors, "cs_file_jsonl_noproc": [2.0], "cs_file_jsonl": [5.0]},
        # passes: no row
        fine={**floors, "ref_fastpath_jsonl": [10.0], "cs_file_jsonl": [11.0]},
        # fails, but the floors did not run: no row
        bare={"ref_fastpath_jsonl": [10.0], "cs_file_jsonl": [30.0]},
    )
    found = bench.targets(results, [_work(n) for n in ("over", "short", "tiny", "fine", "bare")])
    assert sum(not t["pass"] for t in found) == 4
    rooms = {r["workload"]: r for r in bench.room(results, found)}
    assert set(rooms) == {"over", "short", "tiny"}
    over = rooms["over"]
    assert over["target"] == "2 near the floor: cs_file_jsonl <= 1.20x ref_fastpath_jsonl"
    assert (over["allowed"], over["dispatch"], over["line"], over["spent"]) == pytest.approx(
        (12.0, 3.0, 8.0, 15.0))
    assert over["needed"] == pytest.approx(1.5)
    assert over["verdict"] == "chainsink over"
    assert rooms["short"]["allowed"] == pytest.approx(5.0)
    assert rooms["short"]["needed"] == pytest.approx(0.6)
    assert rooms["short"]["verdict"] == "below a payload-less line"
    assert rooms["tiny"]["target"] == "1 redaction <= +30% over processors=()"
    assert rooms["tiny"]["verdict"] == "below LangChain's dispatch"


def test_room_boundaries_and_a_reference_at_or_below_zero() -> None:
    """Allowing exactly the dispatch or exactly a line is not below it; a reference that costs
    nothing (a noisy median) gives no factor to meet."""
    floors = {"noop_inline": [4.0], "ref_orjson_min": [8.0]}
    results = _results(
        at_dispatch={**floors, "lc_console": [8.0], "cs_file_jsonl": [9.0]},  # allows 4
        at_line={**floors, "lc_console": [16.0], "cs_file_jsonl": [9.0]},  # allows 8
        free={**floors, "ref_fastpath_jsonl": [0.0], "cs_file_jsonl": [1.0]},
    )
    found = bench.targets(results, [_work(n) for n in ("at_dispatch", "at_line", "free")])
    rooms = {r["workload"]: r for r in bench.room(results, found)}
    assert rooms["at_dispatch"]["verdict"] == "below a payload-less line"
    assert rooms["at_line"]["verdict"] == "chainsink over"
    assert rooms["free"]["needed"] is None
    assert rooms["free"]["verdict"] == "below LangChain's dispatch"


def test_room_leaves_out_rows_that_are_not_comparisons() -> None:
    """The secrets row and the child benchmarks' rows have no per-event numbers: no ROOM."""
    results = _results(w={"noop_inline": [1.0], "ref_orjson_min": [2.0]})
    rows = [{"target": "1 redaction strict on issue 8's payloads", "pass": False,
             "detail": "12 secrets; found 1 in cs_file_text (x)"},
            {"target": "5 chainsink --help within 3x of python -c pass", "pass": False,
             "detail": "median 228 ms / 40 ms = 5.65x > 3x"}]
    assert bench.room(results, rows) == []


def test_room_sets_the_redaction_row_against_the_secret_check() -> None:
    """Row 1 fails below what processors=() plus the secret check alone take (the checked fast
    path over the unchecked one): ``below the secret check``, with the check shown; where the
    check fits what is allowed, ``chainsink over``; without the unchecked fast path, no check."""
    floors = {"noop_inline": [3.0], "ref_orjson_min": [8.0],
              "ref_fastpath_jsonl": [45.0], "ref_fastpath_unchecked": [20.0]}
    results = _results(
        # allows 1.3 x 40 = 52 < 40 + the check's 25 = 65
        heavy={**floors, "cs_file_jsonl_noproc": [40.0], "cs_file_jsonl": [70.0]},
        # allows 1.3 x 100 = 130 >= 100 + 25
        light={**floors, "cs_file_jsonl_noproc": [100.0], "cs_file_jsonl": [140.0]},
        unknown={"noop_inline": [3.0], "ref_orjson_min": [8.0], "ref_fastpath_jsonl": [45.0],
                 "cs_file_jsonl_noproc": [40.0], "cs_file_jsonl": [70.0]},
    )
    found = bench.targets(results, [_work(n) for n in ("heavy", "light", "unknown")])
    rooms = {(r["workload"], r["target"][0]): r for r in bench.room(results, found)}
    heavy = rooms[("heavy", "1")]
    assert heavy["check"] == pytest.approx(25.0)
    assert heavy["verdict"] == "below the secret check"
    assert rooms[("light", "1")]["verdict"] == "chainsink over"
    assert rooms[("unknown", "1")]["check"] is None
    assert rooms[("unknown", "1")]["verdict"] == "chainsink over"
    # row 2 on the same workload gets no check
    assert rooms[("heavy", "2")]["check"] is None
