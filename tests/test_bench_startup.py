"""The start-up benchmark's arithmetic (bench/bench_startup.py): medians, ratios to
``python -c pass`` and the verdict on issue 17's 3x target. No timing is measured here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import bench_startup as bench


def _stats(base: tuple[float, float], help_: tuple[float, float]) -> dict[str, dict[str, float]]:
    """``{command: {best_s, median_s}}`` from (best, median) pairs."""
    return {bench.BASELINE: {"best_s": base[0], "median_s": base[1], "cpu_median_s": 0.0},
            bench.HELP: {"best_s": help_[0], "median_s": help_[1], "cpu_median_s": 0.0}}


def test_summarize_takes_best_and_medians() -> None:
    """Best wall time is the minimum; wall and CPU are summarised by their medians."""
    got = bench.summarize([0.30, 0.10, 0.20, 0.90], [0.05, 0.01, 0.03])
    assert got == {"best_s": 0.10, "median_s": pytest.approx(0.25), "cpu_median_s": 0.03}


def test_ratios_are_to_the_baseline_median_and_best() -> None:
    """Each command's median over the baseline's median, best over the baseline's best."""
    got = bench.ratios(_stats((0.020, 0.025), (0.050, 0.100)))
    assert got[bench.BASELINE] == {"median": 1.0, "best": 1.0}
    assert got[bench.HELP] == {"median": pytest.approx(4.0), "best": pytest.approx(2.5)}


def test_verdict_is_judged_on_medians() -> None:
    """PASS at or under 3x of the medians, FAIL above, whatever the best-of-runs ratio says."""
    passed, line = bench.verdict(_stats((0.020, 0.025), (0.040, 0.075)), exits=[0])
    assert passed is True
    assert line.startswith("[PASS]") and "= 3.00x <= 3x" in line and "best-of-runs ratio 2.00x" \
        in line
    passed, line = bench.verdict(_stats((0.020, 0.025), (0.040, 0.080)))
    assert passed is False
    assert line.startswith("[FAIL]") and "80 ms / 25 ms = 3.20x > 3x" in line


def test_verdict_not_judged_when_help_failed() -> None:
    """A ``chainsink --help`` that exited non-zero is not judged: its time is not start-up."""
    passed, line = bench.verdict(_stats((0.020, 0.025), (0.030, 0.030)), exits=[0, 1])
    assert passed is None
    assert line.startswith("[----]") and "exited 0,1" in line
