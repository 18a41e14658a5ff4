"""The handler benchmark's TARGETS (bench/bench_handlers.py, issue 17): each comparison row's
pass/fail boundary on the medians of per-event overheads, rows skipped when a candidate did
not run, the check of issue 8's secrets in a handler's output, and the rows read back from the
start-up and reading benchmarks' JSON. No timing is measured here."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import _workloads as workloads
import bench_handlers as bench
import bench_startup

ROOT = Path(__file__).resolve().parent.parent
ALL = ("sync_stream", "astream10", "batch_threaded", "agent", "invoke_heavy", "secrets")


def _work(name: str) -> Any:
    secrets = ("sk-planted",) if name == "secrets" else ()
    return workloads.Workload(name, name, lambda callbacks: None, secrets=secrets)


def _results(deltas: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    return {"workloads": {name: {"delta_us_per_event": d} for name, d in deltas.items()}}


def _rows(deltas: dict[str, dict[str, list[float]]], *names: str) -> list[dict[str, Any]]:
    return bench.targets(_results(deltas), [_work(n) for n in names or tuple(deltas)])


@pytest.mark.parametrize("rule", bench.RULES, ids=lambda r: f"{r.candidate}-{r.reference}")
def test_each_rule_passes_at_its_limit_and_fails_just_over(rule: bench.Rule) -> None:
    """d(candidate) <= factor x d(reference), on the medians: at the limit PASS, over FAIL."""
    name = (rule.workloads or ("invoke_heavy",))[0]
    ref = [30.0, 29.0, 31.0]  # median 30
    limit = rule.factor * 30.0
    at = _rows({name: {rule.reference: ref, rule.candidate: [limit, 0.0, 1e9]}})
    over = _rows({name: {rule.reference: ref, rule.candidate: [limit + 0.01]}})
    mine = [t for t in at if t["candidate"] == rule.candidate and t["reference"] ==
            rule.reference]
    assert len(mine) == 1 and mine[0]["pass"] is True
    assert mine[0]["target"] == f"{rule.number} {rule.label} ({name})"
    assert mine[0]["allowed"] == pytest.approx(limit)
    failed = [t for t in over if t["candidate"] == rule.candidate and t["reference"] ==
              rule.reference]
    assert len(failed) == 1 and failed[0]["pass"] is False


def test_the_limits_are_issue_17s() -> None:
    """+30% over processors=(); 1.20x the fast path; half the console, a third of
    OpenInference, the OpenTelemetry handler half of it; 1.3x a logger's floor."""
    limits = {(r.candidate, r.reference): r.factor for r in bench.RULES}
    assert limits == pytest.approx({
        ("cs_file_jsonl", "cs_file_jsonl_noproc"): 1.30,
        ("cs_file_jsonl", "ref_fastpath_jsonl"): 1.20,
        ("cs_file_jsonl", "lc_console"): 0.5,
        ("cs_file_jsonl", "oi_langchain"): 1 / 3,
        ("cs_otel", "oi_langchain"): 0.5,
        ("cs_loguru", "ref_loguru_floor"): 1.3,
        ("cs_structlog", "ref_structlog_floor"): 1.3,
        ("cs_logging", "ref_logging_floor"): 1.3})


def test_rows_print_their_numbers() -> None:
    """Row 1 shows both overheads and the share redaction adds; the others the ratio."""
    found = _rows({"invoke_heavy": {"cs_file_jsonl_noproc": [65.7], "cs_file_jsonl": [123.2],
                                    "ref_fastpath_jsonl": [61.6]}})
    assert [bench.target_line(t) for t in found] == [
        "[FAIL] 1 redaction <= +30% over processors=() (invoke_heavy): 123.2 us vs 65.7 us "
        "(+88%)",
        "[FAIL] 2 near the floor: cs_file_jsonl <= 1.20x ref_fastpath_jsonl (invoke_heavy): "
        "123.2 us vs 61.6 us (2.00x)"]
    free = _rows({"w": {"cs_file_jsonl_noproc": [-0.5], "cs_file_jsonl": [3.0]}})
    assert free[0]["detail"] == "3.0 us vs -0.5 us (n/a)" and free[0]["pass"] is False


def test_rows_run_on_every_workload_but_logger_rows_on_two() -> None:
    """Rows 1-3 on each workload run, sync and async; row 4 only on batch_threaded and agent."""
    everyone = {"cs_file_jsonl": [1.0], "cs_file_jsonl_noproc": [1.0],
                "ref_fastpath_jsonl": [1.0], "lc_console": [4.0], "oi_langchain": [9.0],
                "cs_otel": [1.0], "cs_loguru": [1.0], "ref_loguru_floor": [1.0],
                "cs_structlog": [1.0], "ref_structlog_floor": [1.0], "cs_logging": [1.0],
                "ref_logging_floor": [1.0]}
    found = _rows({name: dict(everyone) for name in ALL})
    per = {name: [t for t in found if t["workload"] == name] for name in ALL}
    assert {name: len(rows) for name, rows in per.items()} == {
        "sync_stream": 5, "astream10": 5, "batch_threaded": 8, "agent": 8, "invoke_heavy": 5,
        "secrets": 0}
    assert all(t["pass"] for t in found)
    # grouped by rule, workloads in their order
    assert [t["target"] for t in found][:5] == [
        f"1 redaction <= +30% over processors=() ({name})" for name in ALL[:-1]]


def test_the_secrets_workload_is_timed_but_not_judged() -> None:
    """Where every record is masked the slow path runs by design: its cost is printed beside
    processors=(), not held to the targets about records with nothing to mask."""
    results = _results({"secrets": {"cs_file_jsonl": [90.0], "cs_file_jsonl_noproc": [20.0]},
                        "agent": {"cs_file_jsonl": [9.0], "cs_file_jsonl_noproc": [8.0]}})
    works = [_work("secrets"), _work("agent")]
    assert [t["workload"] for t in bench.targets(results, works)] == ["agent"]
    assert bench.masking_cost(results, works) == [
        "masking every record (secrets, not a target): cs_file_jsonl 90.0 us vs 20.0 us per "
        "event with processors=()"]


def test_rows_are_skipped_when_a_candidate_did_not_run() -> None:
    """No OpenTelemetry packages, no --only match, a crashed candidate: its rows are left out;
    a workload not run has no rows."""
    found = _rows({"agent": {"cs_file_jsonl": [5.0], "lc_console": [20.0],
                             "cs_loguru": [50.0], "ref_loguru_floor": [40.0],
                             "cs_structlog": [50.0]}},
                  "agent", "missing")
    assert [t["target"] for t in found] == [
        "3 cs_file_jsonl <= 0.50x lc_console (agent)",
        "4 cs_loguru <= 1.30x ref_loguru_floor (agent)"]
    assert [t["pass"] for t in found] == [True, True]
    assert _rows({"agent": {}}) == []


# -- issue 8's secrets --------------------------------------------------------------------------


SECRET = "sk-proj-Str3amedKey0123456789abcdef"
OTHER = "Tc-pass-7781qq"


def _token(run: str, text: str) -> bytes:
    return json.dumps({"v": 1, "event": "llm_new_token", "run_id": run, "token": text},
                      ensure_ascii=False).encode() + b"\n"


def test_leaks_finds_a_secret_written_whole() -> None:
    """Written whole anywhere (a text log, a JSONL payload, after CJK text) it is found;
    masked it is not."""
    assert bench.leaks(b"", [SECRET]) == []
    assert bench.leaks(f"APIキーは{SECRET}です\n".encode(), [SECRET, OTHER]) == [SECRET]
    line = json.dumps({"inputs": {"q": f"use {OTHER}"}}, ensure_ascii=False).encode()
    assert bench.leaks(line, [SECRET, OTHER]) == [OTHER]
    assert bench.leaks(b'{"inputs": {"q": "use ***"}}\nAPI\xe3\x82\xad***', [SECRET, OTHER]) == []


def test_leaks_sees_through_colour_codes() -> None:
    """An ANSI log that colours a secret in parts still shows it."""
    data = f"\x1b[1m> {SECRET[:10]}\x1b[0m\x1b[32m{SECRET[10:]}\x1b[0m\n".encode()
    assert bench.leaks(data, [SECRET]) == [SECRET]


def test_leaks_puts_a_runs_streamed_tokens_together() -> None:
    """A secret streamed across token records is found in what the run's tokens spell, even
    when another run's tokens are interleaved; tokens of different runs are not joined, and
    lines that are not JSON are skipped."""
    pieces = [SECRET[i:i + 4] for i in range(0, len(SECRET), 4)]
    data = b"not json llm_new_token\n"
    for i, piece in enumerate(pieces):
        data += _token("a", piece) + _token("b", str(i))
    assert all(piece.encode() in data for piece in pieces) and SECRET.encode() not in data
    assert bench.leaks(data, [SECRET, OTHER]) == [SECRET]
    split = _token("a", OTHER[:5]) + _token("b", OTHER[5:])
    assert bench.leaks(split, [OTHER]) == []
    masked = b"".join(_token("a", p) for p in ("Your key is ", "***", " - keep it safe."))
    assert bench.leaks(masked, [SECRET]) == []


def test_secrets_target_passes_only_when_nothing_leaked() -> None:
    """PASS names the candidates checked; FAIL lists each leak; nothing checked, no row."""
    clean = bench.secrets_target({"cs_file_text": [], "cs_file_jsonl": []}, 12)
    assert clean is not None and bench.target_line(clean) == (
        "[PASS] 1 redaction strict on issue 8's payloads: 12 secrets, 0 found in "
        "cs_file_text, cs_file_jsonl")
    leaked = bench.secrets_target({"cs_file_text": [], "cs_rotating": [SECRET, OTHER]}, 12)
    assert leaked is not None and leaked["pass"] is False
    assert leaked["detail"] == f"12 secrets; found 2 in cs_rotating ({SECRET}, {OTHER})"
    assert bench.secrets_target({}, 12) is None


def test_secrets_are_checked_in_chainsinks_redacting_file_handlers() -> None:
    """chainsink's file-writing candidates, but not the one built with processors=()."""
    names = ["none", "ref_fastpath_jsonl", "lc_file", "cs_stdout_classic", "cs_file_text",
             "cs_file_ansi", "cs_file_jsonl", "cs_rotating", "cs_loguru",
             "cs_file_jsonl_noproc", "cs_structlog"]
    cands = [bench.Candidate(n, "x", n, bench._none) for n in names]
    assert bench.checked_for_secrets(cands) == ["cs_file_text", "cs_file_ansi", "cs_file_jsonl",
                                                "cs_rotating", "cs_loguru"]


@pytest.mark.parametrize(("source", "secrets"), [
    ("tests/processors/test_redaction.py",
     [workloads.PROMPT_KEY, workloads.META_KEY, workloads.CJK_KEY, workloads.REPR_PASSWORD,
      workloads.JSON_API_KEY, workloads.URL_PASSWORD, workloads.QUERY_PASSWORD]),
    ("tests/reliability/test_trust_secrets.py",
     [workloads.STREAMED_KEY, workloads.ANSWER_CJK_KEY, workloads.ANSWER_GH_TOKEN,
      workloads.TOOL_PASSWORD, workloads.TOOL_API_KEY]),
])
def test_the_secrets_workload_plants_issue_8s_payloads(source: str, secrets: list[str]) -> None:
    """The copied secrets are still the redaction tests' own, and all are planted."""
    text = (ROOT / source).read_text(encoding="utf-8")
    assert [s for s in secrets if s not in text] == []
    assert set(secrets) <= set(workloads.SECRETS)


@pytest.fixture(scope="module")
def secrets_workload() -> Iterator[Any]:
    loop = asyncio.new_event_loop()
    try:
        yield workloads.make_workloads(loop)["secrets"]
    finally:
        loop.close()


def test_the_secrets_workload_writes_every_secret_when_nothing_redacts(
        secrets_workload: Any, tmp_path: Path) -> None:
    """Without processors every planted secret reaches the JSONL (so the check has something
    to find), the streamed ones only split across tokens; with the defaults none does."""
    import chainsink

    assert secrets_workload.name in workloads.DEFAULT_WORKLOADS
    assert secrets_workload.secrets == workloads.SECRETS
    bare = chainsink.FileCallbackHandler(tmp_path / "bare.jsonl", format="jsonl",
                                         processors=[])
    masked = chainsink.FileCallbackHandler(tmp_path / "masked.jsonl", format="jsonl")
    secrets_workload.run([bare, masked])
    bare.close()
    masked.close()
    data = (tmp_path / "bare.jsonl").read_bytes()
    assert bench.leaks(data, workloads.SECRETS) == list(workloads.SECRETS)
    tokens = b"".join(line for line in data.splitlines() if b"llm_new_token" in line)
    assert workloads.STREAMED_KEY.encode() not in tokens
    assert bench.leaks((tmp_path / "masked.jsonl").read_bytes(), workloads.SECRETS) == []


def test_the_fast_path_uses_chainsinks_secret_check() -> None:
    """ref_fastpath_jsonl decides with the Redactor's own scan: a key in a dict repr, which no
    value pattern matches, is a hit."""
    from chainsink.processors import Redactor

    assert bench._CHECK.__func__ is Redactor._has_secret  # type: ignore[attr-defined]
    assert bench._CHECK(json.dumps({"q": "{'user': 'bob', 'password': 'hunter2-abc'}"}).encode())
    assert not bench._CHECK(b'{"q": "What is 2 + 2?"}')


# -- rows 5 and 6: the start-up and reading benchmarks, run as children ------------------------


def _startup_json(help_s: float, base_s: float, rc: list[int] | None = None) -> str:
    stats = {bench_startup.BASELINE: {"best_s": base_s, "median_s": base_s, "cpu_median_s": 0},
             bench_startup.HELP: {"best_s": help_s, "median_s": help_s, "cpu_median_s": 0}}
    return json.dumps({"stats": stats, "target": 3.0,
                       "raw": {bench_startup.HELP: {"rc": rc or [0]}}})


def test_startup_rows_are_judged_from_the_childs_numbers() -> None:
    """Row 5 is bench_startup's own verdict on the medians it saved; not judged is FAIL."""
    rows, error = bench.child_targets("startup", 0, _startup_json(0.12, 0.04))
    assert error is None
    assert [bench.target_line(t) for t in rows] == [
        "[PASS] 5 chainsink --help within 3x of python -c pass: median 120 ms / 40 ms = "
        "3.00x <= 3x (best-of-runs ratio 3.00x)"]
    rows, _ = bench.child_targets("startup", 0, _startup_json(0.2, 0.04))
    assert rows[0]["pass"] is False and "5.00x > 3x" in rows[0]["detail"]
    rows, _ = bench.child_targets("startup", 0, _startup_json(0.01, 0.04, rc=[1]))
    assert rows[0]["pass"] is False
    assert rows[0]["detail"] == "not judged, chainsink --help exited 1"


def test_reading_rows_are_the_childs_targets_numbered() -> None:
    """Row 6 is each of bench_query's targets as it saved them."""
    saved = {"rows": [], "targets": [
        {"target": "chainsink stats memory flat as the input grows (at most 1.5x)",
         "pass": True, "detail": "stats duckdb: 258 MB on 50 MB, 359 MB on 1,000 MB = 1.39x"},
        {"target": "chainsink stats at least 100 MB/s with DuckDB installed", "pass": False,
         "detail": "42.0 MB/s on 50 MB (stats python, exit 0)"}]}
    rows, error = bench.child_targets("reading", 0, json.dumps(saved))
    assert error is None
    assert [bench.target_line(t) for t in rows] == [
        "[PASS] 6 chainsink stats memory flat as the input grows (at most 1.5x): stats duckdb: "
        "258 MB on 50 MB, 359 MB on 1,000 MB = 1.39x",
        "[FAIL] 6 chainsink stats at least 100 MB/s with DuckDB installed: 42.0 MB/s on 50 MB "
        "(stats python, exit 0)"]


@pytest.mark.parametrize(("kind", "rc", "text", "error"), [
    ("startup", 2, None, "bench_startup.py exited 2"),
    ("reading", 1, '{"targets": []}', "bench_query.py exited 1"),
    ("reading", 0, None, "bench_query.py saved no readable JSON"),
    ("startup", 0, "{not json", "bench_startup.py saved no readable JSON"),
    ("startup", 0, "{}", "bench_startup.py's JSON has no verdict (KeyError: 'stats')"),
    ("reading", 0, '{"targets": [{"target": "x"}]}',
     "bench_query.py's JSON has no verdict (KeyError: 'pass')"),
    ("reading", 0, '{"targets": []}', "bench_query.py judged no target"),
])
def test_a_failed_child_gives_an_error_and_no_rows(kind: str, rc: int, text: str | None,
                                                   error: str) -> None:
    """A child that fails, saves nothing, or saves no verdict: no row, one error."""
    assert bench.child_targets(kind, rc, text) == ([], error)


def test_child_commands_and_when_they_run() -> None:
    """--quick shortens both children; they run by default, not when the run is narrowed with
    --only or --workloads unless asked for, and never when turned off."""
    startup = bench.child_command("startup", "/t/s.json", quick=False)
    assert startup[0] == sys.executable and startup[1].endswith("bench/bench_startup.py")
    assert startup[2:] == ["--json", "/t/s.json"]
    assert bench.child_command("startup", "/t/s.json", quick=True)[2:] == [
        "--runs", str(bench.QUICK_STARTUP_RUNS), "--json", "/t/s.json"]
    assert bench.child_command("reading", "/t/q.json", quick=True)[1:] == [
        str(ROOT / "bench" / "bench_query.py"), "--quick", "--json", "/t/q.json"]

    def run(*argv: str) -> list[str]:
        return bench.children_to_run(bench.parse_args(list(argv)))

    assert run() == ["startup", "reading"]
    assert run("--quick", "--no-reading") == ["startup"]
    assert run("--no-startup", "--no-reading") == []
    assert run("--only", "cs_file_jsonl") == []
    assert run("--workloads", "secrets", "--reading") == ["reading"]
    assert run("--only", "cs_*", "--startup", "--no-reading") == ["startup"]
    with pytest.raises(SystemExit):
        run("--reading", "--no-reading")
