"""``chainsink stats`` and the summary behind it: totals, latency, tokens, slowest traces."""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from pathlib import Path

from workloads import reported_model, reported_usage

from chainsink.report import Latency, LogSummary
from chainsink.report._summary import SAMPLE_SIZE

from ._support import Log


def _reported(log: Log) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Token usage the models reported to langchain-core's tracer: in total and by model."""
    total: Counter[str] = Counter()
    by_model: dict[str, Counter[str]] = {}
    for run in log.runs:
        if run.run_type != "llm":
            continue
        usage = reported_usage(run)
        if usage is None:
            continue
        total.update(usage)
        by_model.setdefault(reported_model(run) or "(unknown model)", Counter()).update(usage)
    return dict(total), {m: dict(c) for m, c in by_model.items()}


def test_stats_totals_equal_the_usage_the_models_reported(cli, concurrent_log: Log,
                                                          mixed_log: Log) -> None:
    """Token totals, in all and by model, equal the usage_metadata the fake models reported."""
    done = cli("stats", "--json", concurrent_log.path, mixed_log.path)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    total_a, by_model_a = _reported(concurrent_log)
    total_b, by_model_b = _reported(mixed_log)
    keys = ("input_tokens", "output_tokens", "total_tokens")
    assert total_a["total_tokens"] > 0
    for key in keys:
        assert stats["tokens"][key] == total_a[key] + total_b[key]
    for model in set(by_model_a) | set(by_model_b):
        for key in keys:
            expected = by_model_a.get(model, {}).get(key, 0) + by_model_b.get(model, {}).get(key, 0)
            assert stats["tokens_by_model"][model][key] == expected
    llm_runs = sum(1 for log in (concurrent_log, mixed_log) for r in log.runs
                   if r.run_type == "llm")
    assert stats["tokens"]["calls"] == llm_runs


def test_stats_counts_traces_runs_and_errors(cli, mixed_log: Log) -> None:
    """Traces, runs and failed runs match what langchain-core's tracer recorded."""
    done = cli("stats", "--json", mixed_log.path)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    roots = [r for r in mixed_log.runs if r.parent_run_id is None]
    assert stats["traces"] == len(roots)
    assert stats["runs"] == len(mixed_log.runs)
    assert stats["errors"] == sum(1 for r in mixed_log.runs if r.error)
    assert stats["failed_traces"] == sum(1 for r in roots if r.error)
    assert set(stats["latency_ms"]) == {r.name for r in mixed_log.runs}
    assert stats["latency_ms"]["explode"]["errors"] == 1


def test_stats_text_lists_names_models_and_the_slowest_traces(cli, mixed_log: Log) -> None:
    """The text output shows counts, each run name, the token total and the slowest traces."""
    done = cli("stats", mixed_log.path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    stats = json.loads(cli("stats", "--json", mixed_log.path).stdout)
    assert f"traces  {stats['traces']:>10,}" in out
    for name in {r.name for r in mixed_log.runs}:
        assert name.replace("\n", " ")[:39] in out
    total = stats["tokens"]
    assert any(line.split()[:1] == ["total"] and line.split()[-1] == f"{total['total_tokens']:,}"
               for line in out.splitlines())
    slowest = out.split("slowest traces\n", 1)[1].splitlines()
    durations = [t["duration_ms"] for t in stats["slowest_traces"]]
    assert durations == sorted(durations, reverse=True)
    assert len(slowest) == len(durations) == min(10, stats["traces"])


def test_latency_percentiles_are_exact_below_the_sample_size() -> None:
    """p50, p95 and max are the nearest-rank values while every duration fits the sample."""
    lat = Latency()
    values = list(range(1, 101))
    random.Random(1).shuffle(values)
    for v in values:
        lat.add(float(v))
    assert (lat.percentile(50), lat.percentile(95), lat.max, lat.count) == (50.0, 95.0, 100.0, 100)


def test_latency_memory_is_bounded_and_percentiles_stay_close() -> None:
    """Past the sample size memory stays bounded and percentiles stay within 5%."""
    lat = Latency()
    n = 50 * SAMPLE_SIZE
    for v in range(n):
        lat.add(float(v))
    assert len(lat.sample) == SAMPLE_SIZE
    assert (lat.count, lat.max) == (n, n - 1.0)
    assert abs(lat.percentile(50) - n / 2) < 0.05 * n
    assert abs(lat.percentile(95) - 0.95 * n) < 0.05 * n


def test_summary_keeps_small_state_and_picks_failed_traces_first(mixed_log: Log) -> None:
    """No trace stays open after a summary, and the picked traces are failed ones first."""
    summary = LogSummary(max_traces=3)
    for rec in mixed_log.records:
        summary.add(rec)
    summary.finish()
    assert summary._open == {}
    picked = summary.selected()
    assert len(picked) == 3
    failed = sum(1 for t in picked if t.errors)
    assert [bool(t.errors) for t in picked] == [True] * failed + [False] * (3 - failed)
    assert failed == min(3, summary.failed_traces)
    assert all(t.records is None for t in picked)  # records are kept only when asked


def test_report_module_exports_a_sorted_all() -> None:
    """chainsink.report and chainsink.cli export their public names with a sorted __all__."""
    from chainsink import cli, report

    for module in (report, cli):
        assert module.__all__ == sorted(module.__all__)
        for name in module.__all__:
            assert hasattr(module, name), (module.__name__, name)


def test_stats_of_an_unfinished_trace_counts_it_incomplete(cli, tmp_path: Path,
                                                           mixed_log: Log) -> None:
    """A log cut in the middle of a trace still summarises; that trace counts as incomplete."""
    first = mixed_log.trace_ids[0]
    cut = [r for r in mixed_log.records if r["trace_id"] == first][:-3]
    path = tmp_path / "cut.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in cut))
    done = cli("stats", "--json", path)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    assert (stats["traces"], stats["incomplete_traces"]) == (1, 1)


def test_a_gzipped_rotated_log_reads_like_the_plain_one(cli, tmp_path: Path,
                                                       mixed_log: Log) -> None:
    """A rotated log compressed with gzip (``app.jsonl.1.gz``) gives the same stats."""
    packed = tmp_path / "mixed.jsonl.1.gz"
    packed.write_bytes(gzip.compress(mixed_log.path.read_bytes()))
    plain = json.loads(cli("stats", "--json", mixed_log.path).stdout)
    done = cli("stats", "--json", packed)
    assert done.returncode == 0, done.stderr
    unpacked = json.loads(done.stdout)
    assert unpacked.pop("files") == [str(packed)]
    plain.pop("files")
    assert unpacked == plain
