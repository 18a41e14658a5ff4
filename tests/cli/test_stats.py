"""``chainsink stats`` and the summary behind it: totals, latency, tokens, slowest traces."""

from __future__ import annotations

import gzip
import json
import os
import random
from collections import Counter
from pathlib import Path

from workloads import reported_model, reported_usage

from chainsink.report import Latency, LogSummary
from chainsink.report._summary import SAMPLE_SIZE

from ._support import Log
from .test_query import PRICED_MODEL, calc_price, cost_log  # the cost log is query's


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
    # total, calls, input, output, total tokens (then the cost)
    assert any(line.split()[:1] == ["total"] and line.split()[4] == f"{total['total_tokens']:,}"
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


# -- cost -----------------------------------------------------------------------------------------

def test_stats_json_prices_each_model_and_lists_the_unpriced(cli, tmp_path: Path) -> None:
    """stats --json: a known model's cost is genai-prices' price of its calls, the fake model's
    is null and listed in unpriced_models, the total is null; the table's version is named and
    each of the slowest traces carries its cost."""
    import genai_prices
    from workloads import CHAT_MODEL_NAME

    log = cost_log(tmp_path / "cost.jsonl")
    done = cli("stats", "--json", log)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    stats = json.loads(done.stdout)
    assert stats["tokens_by_model"][PRICED_MODEL]["cost"] == 2 * calc_price()
    assert stats["tokens_by_model"][CHAT_MODEL_NAME]["cost"] is None
    cost = stats["cost"]
    assert cost["total"] is None
    assert cost["priced"] == 2 * calc_price()
    assert cost["unpriced_models"] == [CHAT_MODEL_NAME]
    assert cost["price_table"] == f"genai-prices {genai_prices.__version__}"
    by_cost = sorted((t["cost"] is None, t["cost"]) for t in stats["slowest_traces"])
    assert by_cost == [(False, calc_price()), (False, calc_price()), (True, None)]


def test_stats_text_shows_cost_per_model_total_and_unpriced(cli, tmp_path: Path) -> None:
    """stats prints a cost column (the fake model unpriced, the total unknown), the price
    table's version and the unpriced models; the slowest traces show their cost."""
    from workloads import CHAT_MODEL_NAME

    from chainsink.cli._stats import usd

    log = cost_log(tmp_path / "cost.jsonl")
    done = cli("stats", log)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    row = next(line for line in lines if line.startswith(PRICED_MODEL))
    assert row.split()[-1] == usd(2 * calc_price())
    assert next(line for line in lines if line.startswith(CHAT_MODEL_NAME)).split()[-1] \
        == "unpriced"
    assert next(line for line in lines if line.startswith("total ")).split()[-1] == "unknown"
    assert any(line.startswith("prices: genai-prices ") for line in lines)
    assert f"unpriced models: {CHAT_MODEL_NAME} " in done.stdout
    assert sum(f", {usd(calc_price())}, started" in line for line in lines) == 2
    assert sum(", cost unknown, started" in line for line in lines) == 1
    assert "$0.000000" not in done.stdout


def test_stats_prices_file_prices_a_private_model(cli, tmp_path: Path) -> None:
    """--prices FILE (and CHAINSINK_PRICES) price a private model the table does not know."""
    log = cost_log(tmp_path / "cost.jsonl", private=True)
    prices = tmp_path / "prices.toml"
    prices.write_text('["acme-private-1"]\ninput_mtok = 0.5\noutput_mtok = 1.5\n'
                      '["fake-chat-1"]\ninput_mtok = 0\noutput_mtok = 0\n')
    for args, env in ((["--prices", prices], None), ([], {"CHAINSINK_PRICES": str(prices)})):
        done = cli("stats", "--json", *args, log, env=env)
        assert done.returncode == 0, done.stderr
        stats = json.loads(done.stdout)
        assert stats["tokens_by_model"]["acme-private-1"]["cost"] == 2.0
        assert stats["cost"]["unpriced_models"] == []
        assert stats["cost"]["total"] == 2.0 + 2 * calc_price()
        assert stats["cost"]["user_prices"] is True


def test_stats_refuses_a_bad_prices_file_in_one_line(cli, tmp_path: Path) -> None:
    """A malformed price file is a usage error: exit 2, one line naming the problem."""
    log = cost_log(tmp_path / "cost.jsonl")
    prices = tmp_path / "prices.toml"
    prices.write_text('["acme"]\ninput_mtok = 1\n')
    done = cli("stats", "--prices", prices, log)
    assert done.returncode == 2
    assert "output_mtok is required" in done.stderr.splitlines()[-1]
    assert "Traceback" not in done.stderr


def test_stats_without_the_extra_says_once_how_to_get_cost(cli, tmp_path: Path) -> None:
    """Without genai-prices installed, stats shows no cost column and says in one stderr line
    how to get cost; --json carries null costs and every model as unpriced."""
    from workloads import CHAT_MODEL_NAME

    from ._support import REPO

    log = cost_log(tmp_path / "cost.jsonl")
    # a directory on the path whose sitecustomize makes `import genai_prices` fail, as it
    # does when the package is not installed (sys.modules[name] = None)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['genai_prices'] = None\n")
    env = {"PYTHONPATH": f"{REPO}{os.pathsep}{site}"}
    done = cli("stats", log, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        'chainsink: cost: pip install "chainsink[cost]" to see what calls cost']
    assert " cost" not in next(line for line in done.stdout.splitlines()
                               if line.startswith("tokens by model"))
    assert "$" not in done.stdout
    done = cli("stats", "--json", log, env=env)
    assert done.returncode == 0
    stats = json.loads(done.stdout)
    assert stats["cost"]["price_table"] is None and stats["cost"]["total"] is None
    assert stats["cost"]["unpriced_models"] == sorted([PRICED_MODEL, CHAT_MODEL_NAME])
    assert 'pip install "chainsink[cost]"' in stats["cost"]["note"]
