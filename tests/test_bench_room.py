"""The handler benchmark's ROOM arithmetic (bench/bench_handlers.py): what each target leaves
chainsink per event, and the verdict printed next to it. No timing is measured here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import _workloads as workloads
import bench_handlers as bench


def _work(name: str, is_async: bool) -> object:
    return workloads.Workload(name, name, lambda callbacks: None, is_async=is_async)


def test_room_sets_each_target_against_the_floors() -> None:
    """Medians of per-event overheads give the room, the two floors and a verdict per target."""
    per_event = {"noop_inline": [3.0, 2.0, 4.0], "ref_orjson_min": [8.0],
                 "ref_fastpath_jsonl": [23.0], "cs_file_jsonl": [13.0], "lc_console": [50.0],
                 "ref_loguru_floor": [46.0], "cs_loguru": [60.0],
                 "ref_structlog_floor": [35.0], "cs_structlog": [60.0],
                 "ref_logging_floor": [20.0], "cs_logging": [60.0]}
    results = {"workloads": {
        "s": {"events": 100, "baseline_ms": [10.0, 9.0, 11.0], "delta_us_per_event": per_event},
        "a": {"events": 100, "baseline_ms": [10.0],
              "delta_us_per_event": {"noop_inline": [3.0], "ref_orjson_min": [8.0],
                                     "ref_fastpath_jsonl": [23.0], "cs_file_jsonl": [30.0]}},
        "gone": {"events": 10, "baseline_ms": [1.0],
                 "delta_us_per_event": {"cs_file_jsonl": [1.0]}},
    }}
    rooms = bench.room(results, [_work("s", False), _work("a", True), _work("gone", False)])
    got = {(r["workload"], r["target"]): r for r in rooms}
    assert set(got) == {("s", "cs_file_jsonl <= 1.15x"), ("s", "cs_loguru < lc_console"),
                        ("s", "cs_structlog < lc_console"), ("s", "cs_logging < lc_console"),
                        ("a", "cs_file_jsonl <= 1.20x")}
    jsonl = got["s", "cs_file_jsonl <= 1.15x"]
    # 0.15 x 10 ms / 100 events = 15 us, less the do-nothing handler's 3
    assert jsonl["room"] == pytest.approx(12.0)
    assert (jsonl["least"], jsonl["payload"], jsonl["spent"]) == (5.0, 20.0, 10.0)
    assert jsonl["verdict"] == "fits"
    assert got["a", "cs_file_jsonl <= 1.20x"]["room"] == pytest.approx(17.0)
    assert got["a", "cs_file_jsonl <= 1.20x"]["verdict"] == "below a line with payloads"
    loguru = got["s", "cs_loguru < lc_console"]
    assert (loguru["room"], loguru["spent"]) == (4.0, 14.0)
    assert loguru["verdict"] == "below a payload-less line"
    assert got["s", "cs_structlog < lc_console"]["verdict"] == "below a line with payloads"
    logging_ = got["s", "cs_logging < lc_console"]
    assert (logging_["room"], logging_["spent"], logging_["verdict"]) == (
        30.0, 40.0, "chainsink over")
