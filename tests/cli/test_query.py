"""``chainsink query``: SQL over logs of real runs, through the ``events`` and ``runs`` views."""

from __future__ import annotations

import collections
import contextlib
import csv
import gzip
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import workloads
from langchain_core.runnables import RunnableLambda
from langchain_core.tracers.run_collector import RunCollectorCallbackHandler

import chainsink

from ._support import MIXED, Log, cli_env, record_log, run_cli, run_main

pytest.importorskip("duckdb")


def interrupted_run(handlers: list[Any]) -> None:
    """A chain stopped by Ctrl-C in a step: chainsink flags its error records interrupted."""

    def stop(_: Any) -> Any:
        raise KeyboardInterrupt

    chain = RunnableLambda(lambda x: x, name="before") | RunnableLambda(stop, name="ctrl_c")
    with contextlib.suppress(KeyboardInterrupt):
        chain.invoke(1, config={"callbacks": handlers, "run_name": "interrupted_chain"})


#: A process that exits while a chain runs: chainsink closes its open runs as aborted.
ABANDONED = """
import sys, threading, time
from chainsink import FileCallbackHandler
from langchain_core.runnables import RunnableLambda
handler = FileCallbackHandler(sys.argv[1], format="jsonl")
chain = RunnableLambda(lambda x: x, name="first") | RunnableLambda(lambda x: time.sleep(600),
                                                                   name="stuck")
threading.Thread(target=chain.invoke, args=(1,), daemon=True,
                 kwargs={"config": {"callbacks": [handler], "run_name": "aborted_chain"}}).start()
time.sleep(1.0)
"""


@pytest.fixture(scope="module")
def aborted_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The log of a process that exited while its chain ran."""
    path = tmp_path_factory.mktemp("aborted") / "aborted.jsonl"
    proc = subprocess.run([sys.executable, "-c", ABANDONED, str(path)], env=cli_env(),
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert b'"aborted":true' in path.read_bytes()
    return path


#: A name that would clear the screen and ring the bell if printed raw.
HOSTILE_NAME = "evil\x1b[2J\x1b]52;c;aGk=\x07\x9b31m"


def hostile_name(handlers: list[Any]) -> None:
    """A run whose name is terminal control sequences."""
    RunnableLambda(lambda x: x, name=HOSTILE_NAME).invoke(1, config={"callbacks": handlers})


WORKLOADS = [*MIXED, "astream_concurrent", "batch_threaded", "lcel_invoke", interrupted_run,
             hostile_name]


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Log:
    """A log of agents, RAG, a failing chain, streams, concurrent runs and an interrupted
    chain, with what langchain-core's RunCollector saw of the same runs."""
    return record_log(tmp_path_factory.mktemp("query") / "runs.jsonl", WORKLOADS)


def query(sql: str, *files: Any) -> list[dict[str, Any]]:
    """``chainsink query SQL FILES --format json`` in this process: the rows."""
    code, out, err = run_main(["query", sql, *map(str, files), "--format", "json"])
    assert code == 0, err
    rows: list[dict[str, Any]] = json.loads(out)
    return rows


def reported_tokens(runs: list[Any]) -> dict[str, tuple[int, int, int]]:
    """Input, output and total tokens per model, as the models reported them."""
    totals: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0])
    for run in runs:
        usage = workloads.reported_usage(run) if run.run_type == "llm" else None
        if usage:
            t = totals[workloads.reported_model(run) or "?"]
            for i, key in enumerate(("input_tokens", "output_tokens", "total_tokens")):
                t[i] += usage[key]
    return {m: (t[0], t[1], t[2]) for m, t in totals.items()}


TOKENS_SQL = ("select coalesce(model, '?') as model, sum(input_tokens) as i, "
              "sum(output_tokens) as o, sum(total_tokens) as t from runs "
              "where total_tokens is not null group by 1")


def test_runs_are_the_runs_langchain_saw(log: Log) -> None:
    """``select count(*) from runs`` is the number of runs langchain-core's RunCollector saw,
    and the run ids are the same."""
    assert query("select count(*) as n from runs", log.path) == [{"n": len(log.runs)}]
    ids = {r["run_id"] for r in query("select run_id from runs", log.path)}
    assert ids == {str(run.id) for run in log.runs}


def test_tokens_per_model_are_the_models_usage(log: Log) -> None:
    """Tokens summed per model equal what the fake models reported."""
    rows = query(TOKENS_SQL, log.path)
    got = {r["model"]: (r["i"], r["o"], r["t"]) for r in rows}
    expected = reported_tokens(log.runs)
    assert expected and sum(t[2] for t in expected.values()) > 0
    assert got == expected


def test_rotated_and_gzipped_logs_read_as_one(tmp_path: Path) -> None:
    """A rotating log whose older files are partly gzipped reads as one log (by directory and
    by glob): every run the RunCollector saw, and the models' usage."""
    path = tmp_path / "logs" / "app.jsonl"
    path.parent.mkdir()
    handler = chainsink.RotatingFileCallbackHandler(path, max_bytes=16 * 1024, backup_count=50)
    collector = RunCollectorCallbackHandler()
    for name in ["agent_executor", "retriever_chain", "batch_threaded", "astream_concurrent",
                 "error_chain", "lcel_stream"]:
        workloads.run_workload(name, [handler, collector])
    handler.close()
    runs = workloads.collected_runs(collector)
    rotated = sorted(path.parent.glob("app.jsonl.[0-9]*"))
    assert len(rotated) >= 4, rotated
    for old in rotated[::2]:  # every other rotated file compressed
        Path(f"{old}.gz").write_bytes(gzip.compress(old.read_bytes()))
        old.unlink()
    assert list(path.parent.glob("*.gz"))
    expected = reported_tokens(runs)
    for target in (path.parent, f"{path.parent}/app.jsonl*"):
        assert query("select count(*) as n from runs", target) == [{"n": len(runs)}]
        rows = query(TOKENS_SQL, target)
        assert {r["model"]: (r["i"], r["o"], r["t"]) for r in rows} == expected


def _stats(*paths: Path) -> dict[str, Any]:
    code, out, err = run_main(["stats", "--json", "--top", "100000", *map(str, paths)])
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


TRACE_STATUS_SQL = """
select trace_id,
  case when count(*) filter (where status = 'error') > 0 then 'error'
       when count(*) filter (where run_id = trace_id and status <> 'open') = 0 then 'incomplete'
       when count(*) filter (where status in ('interrupted', 'aborted')) > 0 then 'interrupted'
       else 'ok' end as status
from runs group by trace_id
"""


def test_status_matches_chainsink_stats(log: Log, aborted_log: Path, tmp_path: Path) -> None:
    """Run statuses agree with ``chainsink stats --json``: failures, stops (interrupted and
    aborted) and runs; each trace's status is the one stats gives it, open runs included."""
    # the log, and a copy cut before the end of the interrupted chain's and the last trace's
    # roots: their runs are open
    lines = log.path.read_bytes().splitlines(keepends=True)
    roots = {r["trace_id"] for r in log.records if r["name"] == "interrupted_chain"}
    roots.add(log.records[-1]["trace_id"])
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"".join(
        line for line, rec in zip(lines, log.records, strict=True)
        if not (rec["run_id"] in roots and rec["event"].endswith(("_end", "_error")))))
    for paths in ((log.path, aborted_log), (cut,)):
        stats = _stats(*paths)
        counts = {r["status"]: r["n"] for r in
                  query("select status, count(*) as n from runs group by 1", *paths)}
        assert counts.get("error", 0) == stats["errors"]
        assert counts.get("interrupted", 0) + counts.get("aborted", 0) == stats["interrupted"]
        assert sum(counts.values()) == stats["runs"]
        traces = {r["trace_id"]: r["status"] for r in query(TRACE_STATUS_SQL, *paths)}
        assert traces == {t["trace_id"]: t["status"] for t in stats["slowest_traces"]}
    full = {r["name"]: r for r in query("select * from runs", log.path, aborted_log)}
    assert full["interrupted_chain"]["status"] == "interrupted"
    assert full["ctrl_c"]["status"] == "interrupted"
    assert full["ctrl_c"]["error_type"] == "KeyboardInterrupt"
    assert full["aborted_chain"]["status"] == "aborted"
    assert full["stuck"]["status"] == "aborted"
    assert full["explode"]["status"] == "error"
    assert full["explode"]["error_type"] == "ValueError"
    assert full["explode"]["error_message"] == workloads.ERROR_MESSAGE
    cut_runs = {r["name"]: r for r in query("select * from runs", cut)}
    assert cut_runs["interrupted_chain"]["status"] == "open"
    assert cut_runs["interrupted_chain"]["end_time"] is None
    assert cut_runs["ctrl_c"]["status"] == "interrupted"


def test_events_view_types(log: Log) -> None:
    """``events`` holds every record with typed columns: TIMESTAMP times, VARCHAR ids, a STRUCT
    of token counts, JSON payloads."""
    types = {r["column_name"]: r["column_type"]
             for r in query("select column_name, column_type from "
                            "(describe select * from events)", log.path)}
    assert types["ts"] == "TIMESTAMP" and types["run_id"] == "VARCHAR"
    assert types["usage"].startswith("STRUCT(input_tokens BIGINT")
    for key in ("inputs", "outputs", "error", "metadata"):
        assert types[key] == "JSON", key
    assert query("select count(*) as n from events", log.path) == [{"n": len(log.records)}]
    first = log.records[0]
    row = query(f"select ts, inputs from events where run_id = '{first['run_id']}' "
                f"and event = '{first['event']}'", log.path)[0]
    assert row["ts"] + "Z" == first["ts"]
    assert row["inputs"] == first["inputs"]


def test_bad_lines_are_skipped(log: Log, tmp_path: Path) -> None:
    """Lines that are not chainsink records (not JSON, a JSON array, no run_id, a partial last
    line) are skipped: the query runs and sees only the records."""
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"not json\n[1, 2]\n{\"event\": \"chain_start\"}\n" + log.path.read_bytes()
                    + b'{"v":1,"ts":"2026-01-01T00:00:00.000000Z","event":"chain_st')
    assert query("select count(*) as n from events", bad) == [{"n": len(log.records)}]
    assert query("select count(*) as n from runs", bad) == [{"n": len(log.runs)}]


def test_table_output_is_aligned_and_inert(log: Log) -> None:
    """``--format table`` aligns columns and shows control characters from a log as text."""
    code, out, err = run_main(["query", "select name, duration_ms from runs order by name",
                               str(log.path)])
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "evil\\x1b[2J" in out
    lines = out.splitlines()
    assert lines[0].split() == ["name", "duration_ms"]
    assert lines[-1] == f"({len(log.runs)} rows)"
    widths = {len(line) for line in lines[2:-1]}
    assert len(widths) == 1, widths  # numbers right-aligned to the same edge


def test_csv_output(log: Log) -> None:
    """``--format csv`` is a header and one row per result row."""
    code, out, err = run_main(["query", "select run_id, tags, status from runs", str(log.path),
                               "--format", "csv"])
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(log.runs)
    assert {r["run_id"] for r in rows} == {str(run.id) for run in log.runs}
    assert all(isinstance(json.loads(r["tags"]), list) for r in rows)


def test_bad_sql_is_one_line(log: Log, tmp_path: Path) -> None:
    """SQL that DuckDB refuses: its message on one stderr line, a non-zero exit, no
    traceback."""
    for sql in ("selec count(*) from runs", "select nope from runs", "select * from nothing"):
        proc = run_cli("query", sql, log.path, cwd=tmp_path)
        assert proc.returncode != 0
        assert proc.stdout == ""
        assert len(proc.stderr.splitlines()) == 1, proc.stderr
        assert proc.stderr.startswith("chainsink: query failed: ")
        assert "Traceback" not in proc.stderr


def test_missing_files_are_said(tmp_path: Path) -> None:
    """A missing file, an empty directory and a glob matching nothing: one line each; with no
    log left, exit 1."""
    (tmp_path / "empty").mkdir()
    code, out, err = run_main(["query", "select 1", str(tmp_path / "missing.jsonl"),
                               str(tmp_path / "empty"), str(tmp_path / "*.nothing")])
    assert code == 1 and out == ""
    assert len(err.splitlines()) == 4, err
    assert "missing.jsonl: no such file" in err


_NO_DUCKDB = ("import sys; sys.modules['duckdb'] = None; from chainsink.cli import main; "
              "raise SystemExit(main(sys.argv[1:]))")


@pytest.mark.parametrize("argv", [["query", "select 1", "LOG"],
                                  ["export", "LOG", "--parquet", "out.parquet"]])
def test_missing_extra_is_one_clear_line(argv: list[str], log: Log, tmp_path: Path) -> None:
    """Without DuckDB, ``query`` and ``export --parquet`` say which extra to install."""
    argv = [str(log.path) if a == "LOG" else a for a in argv]
    proc = subprocess.run([sys.executable, "-c", _NO_DUCKDB, *argv], cwd=tmp_path,
                          env=cli_env(), capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "chainsink: DuckDB is not installed: pip install 'chainsink[sql]'"], proc.stderr
    assert not (tmp_path / "out.parquet").exists()


def test_help_does_not_import_duckdb(tmp_path: Path) -> None:
    """``chainsink --help`` and ``chainsink query --help`` do not import DuckDB."""
    code = ("import sys; from chainsink.cli import main; main(sys.argv[1:]); "
            "print('DUCKDB' if 'duckdb' in sys.modules else 'NO DUCKDB')")
    for argv in (["--help"], ["query", "--help"], ["export", "--help"]):
        proc = subprocess.run([sys.executable, "-c", code, *argv], cwd=tmp_path, env=cli_env(),
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.stdout.splitlines()[-1] == "NO DUCKDB", (argv, proc.stdout, proc.stderr)


def test_stdin_is_refused(log: Log) -> None:
    """``query`` reads files: ``-`` is a usage error."""
    code, _, err = run_main(["query", "select 1", "-"])
    assert code == 2 and "stdin" in err


def test_mixed_schema_versions_read_as_one(log: Log, tmp_path: Path) -> None:
    """A record of another schema version (a key added, keys missing, as an older or newer
    writer may leave them) is read with the others: its known keys typed, the rest NULL."""
    other = tmp_path / "other.jsonl"
    other.write_text(
        '{"v":2,"ts":"2026-01-01T10:00:00+02:00","event":"chain_start","run_id":"r-1",'
        '"name":"newer","extra_key":{"x":1}}\n'
        '{"v":2,"ts":"2026-01-01T10:00:01+02:00","event":"chain_end","run_id":"r-1",'
        '"duration_ms":1000.0,"extra_key":[1]}\n'
        '{"ts":"2026-01-01T08:00:00Z","event":"llm_end","run_id":"r-2","name":"older",'
        '"usage":{"input_tokens":3,"output_tokens":"many","total_tokens":3},"model":"m"}\n')
    rows = {r["run_id"]: r for r in query("select * from runs", log.path, other)}
    assert len(rows) == len(log.runs) + 2
    newer, older = rows["r-1"], rows["r-2"]
    assert newer["name"] == "newer" and newer["status"] == "ok"
    assert newer["start_time"] == "2026-01-01T08:00:00"  # the offset honoured: UTC
    assert newer["trace_id"] == "r-1" and newer["parent_run_id"] is None
    assert (older["model"], older["input_tokens"], older["output_tokens"]) == ("m", 3, None)
    assert query("select v, count(*) as n from events where run_id like 'r-%' group by 1 "
                 "order by 1 nulls first", other) == [{"v": None, "n": 1}, {"v": 2, "n": 2}]


def test_cost_hook_prices_each_model_run(log: Log) -> None:
    """With a cost function (model, usage, provider, time) -> USD, each model run with usage
    is priced by it, and a run it cannot price (None, or it raises) is NULL."""
    from chainsink.cli._duck import connect

    seen: list[tuple[str, Any, Any]] = []

    def price(model: str, usage: Any, provider: Any, when: Any) -> float | None:
        seen.append((model, provider, when))
        if model != workloads.CHAT_MODEL_NAME:
            raise KeyError(model)
        return usage["input_tokens"] * 1e-6 + usage["output_tokens"] * 2e-6

    con = connect([str(log.path)], cost=price)
    try:
        rows = con.execute("select model, input_tokens, output_tokens, cost from runs "
                           "where total_tokens is not null or cost is not null").fetchall()
    finally:
        con.close()
    assert rows
    for model, i, o, cost in rows:
        if model == workloads.CHAT_MODEL_NAME:
            assert cost == pytest.approx(i * 1e-6 + o * 2e-6)
        else:
            assert cost is None
    assert all(when is not None and when.tzinfo is not None for _, _, when in seen)


# -- cost from the price table ------------------------------------------------------------------

#: What an OpenAI model reports through langchain-openai: cache hits and reasoning included.
PRICED_MODEL = "gpt-4o-mini-2024-07-18"
PRICED_USAGE: dict[str, Any] = {
    "input_tokens": 1200, "output_tokens": 700, "total_tokens": 1900,
    "input_token_details": {"audio": 0, "cache_read": 1024},
    "output_token_details": {"audio": 0, "reasoning": 256}}
FAKE_USAGE = {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}


def cost_log(path: Path, *, private: bool = False) -> Path:
    """A JSONL log of prompt | chat model runs: two calls of a model the price table knows,
    one of the workloads' fake model (no price anywhere), and optionally one of a private
    model."""
    from langchain_core.messages import AIMessage
    from langchain_core.prompts import ChatPromptTemplate

    from chainsink.cli._workloads import ScriptedChatModel

    def reply(model: str, usage: dict[str, Any]) -> AIMessage:
        return AIMessage(content="ok", usage_metadata=usage,  # type: ignore[arg-type]
                         response_metadata={"model_name": model})

    replies = [reply(PRICED_MODEL, PRICED_USAGE), reply(workloads.CHAT_MODEL_NAME, FAKE_USAGE),
               reply(PRICED_MODEL, PRICED_USAGE)]
    if private:
        replies.append(reply("acme-private-1", {"input_tokens": 1_000_000,
                                                "output_tokens": 1_000_000,
                                                "total_tokens": 2_000_000}))
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | ScriptedChatModel(
        messages=iter(replies))
    with chainsink.capture(path):
        for i in range(len(replies)):
            chain.invoke({"q": f"question {i}"})
    return path


def calc_price() -> float:
    """What genai-prices itself says one call of :data:`PRICED_MODEL` costs."""
    import genai_prices

    return float(genai_prices.calc_price(genai_prices.Usage(
        input_tokens=1200, output_tokens=700, cache_read_tokens=1024,
        output_reasoning_tokens=256), PRICED_MODEL).total_price)


def test_sql_cost_of_a_known_model_is_calc_price(tmp_path: Path) -> None:
    """``runs.cost`` of a run of a model the table knows is genai-prices' calc_price of its
    usage, cache reads and reasoning included (the usage struct keeps the token details)."""
    pytest.importorskip("genai_prices")
    log = cost_log(tmp_path / "cost.jsonl")
    rows = query("select cost, e.usage.input_token_details.cache_read as cached, "
                 "e.usage.output_token_details.reasoning as reasoning from runs "
                 "join events e using (run_id) where e.event = 'llm_end' "
                 f"and runs.model = '{PRICED_MODEL}'", log)
    assert rows == [{"cost": calc_price(), "cached": 1024, "reasoning": 256}] * 2
    full = query(f"select cost from runs where model = '{PRICED_MODEL}' limit 1", log)
    import genai_prices

    plain = float(genai_prices.calc_price(genai_prices.Usage(
        input_tokens=1200, output_tokens=700), PRICED_MODEL).total_price)
    assert full[0]["cost"] < plain  # cache hits priced as such, not as plain input


def test_unknown_model_costs_null_and_sum_covers_the_priced_runs(tmp_path: Path) -> None:
    """A run of a model no price is known for has NULL cost (never 0); ``sum(cost)`` over the
    runs is the priced runs' cost, and the documented check counts the runs left out."""
    pytest.importorskip("genai_prices")
    log = cost_log(tmp_path / "cost.jsonl")
    unknown = query("select cost from runs where model = "
                    f"'{workloads.CHAT_MODEL_NAME}'", log)
    assert unknown == [{"cost": None}]
    rows = query("select sum(cost) as total, count(*) filter (where cost is null and model "
                 "is not null) as unpriced from runs", log)
    assert rows[0]["total"] == pytest.approx(2 * calc_price(), rel=1e-12)
    assert rows[0]["unpriced"] == 1
    # runs without a model (the chain, the prompt) are not priced: NULL, not counted above
    assert query("select count(*) as n from runs where model is null and cost is not null",
                 log) == [{"n": 0}]


def test_query_prices_file_and_environment_price_a_private_model(tmp_path: Path) -> None:
    """``query --prices FILE`` and ``CHAINSINK_PRICES`` price a private model the table does not
    know (as ``stats --prices`` does); a bad price file is a usage error."""
    log = cost_log(tmp_path / "cost.jsonl", private=True)
    prices = tmp_path / "prices.toml"
    prices.write_text('["acme-private-1"]\ninput_mtok = 0.5\noutput_mtok = 1.5\n')
    sql = "select cost from runs where model = 'acme-private-1'"
    code, out, err = run_main(["query", sql, str(log), "--format", "json", "--prices",
                               str(prices)])
    assert code == 0, err
    assert json.loads(out) == [{"cost": 2.0}]
    done = run_cli("query", sql, log, "--format", "json", cwd=tmp_path,
                   env={"CHAINSINK_PRICES": str(prices)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"cost": 2.0}]
    prices.write_text('["acme"]\ninput_mtok = 1\n')
    code, _, err = run_main(["query", sql, str(log), "--prices", str(prices)])
    assert code == 2 and "output_mtok is required" in err


def _without_genai_prices(tmp_path: Path) -> dict[str, str]:
    """An environment in which ``import genai_prices`` fails, as when the extra is missing."""
    from ._support import REPO

    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['genai_prices'] = None\n")
    import os

    return {"PYTHONPATH": f"{REPO}{os.pathsep}{site}"}


def test_without_the_extra_cost_is_null_with_one_note(tmp_path: Path) -> None:
    """Without genai-prices, ``runs.cost`` is NULL (a user's price still applies) and stderr
    says once how to get cost; a query that does not price anything says nothing."""
    log = cost_log(tmp_path / "cost.jsonl", private=True)
    prices = tmp_path / "prices.json"
    prices.write_text('{"acme-private-1": {"input_mtok": 0.5, "output_mtok": 1.5}}')
    env = _without_genai_prices(tmp_path)
    done = run_cli("query", "select model, cost from runs where model is not null order by 1",
                   log, "--format", "json", "--prices", prices, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        'chainsink: cost: pip install "chainsink[cost]" to see what calls cost']
    costs = {r["model"]: r["cost"] for r in json.loads(done.stdout)}
    assert costs == {"acme-private-1": 2.0, PRICED_MODEL: None,
                     workloads.CHAT_MODEL_NAME: None}
    done = run_cli("query", "select count(*) as n from runs", log, cwd=tmp_path, env=env)
    assert done.returncode == 0 and done.stderr == ""


# -- memory: flat as logs grow ------------------------------------------------------------------

#: Records a run view must read as the join of first starts and first closing records did: a
#: run id that is not a string (NULL: its start and its end stay two runs), a start repeated,
#: an error then an end (the first closing record decides), a record without a time (sorts
#: last), an end without a start, a start without an end, a bad time, an aborted error.
ODD_RUNS = """\
{"v":1,"ts":"2026-01-01T00:00:00.000000Z","event":"chain_start","run_id":5,"name":"numeric"}
{"v":1,"ts":"2026-01-01T00:00:01.000000Z","event":"chain_end","run_id":5,"name":"numeric-end"}
{"v":1,"ts":"2026-01-01T00:00:00.000000Z","event":"chain_start","run_id":"a","name":"a","tags":["x"],"metadata":{"k":1}}
{"v":1,"ts":"2026-01-01T00:00:00.000000Z","event":"chain_start","run_id":"a","name":"a","tags":["x"],"metadata":{"k":1}}
{"v":1,"ts":"2026-01-01T00:00:02.000000Z","event":"chain_error","run_id":"a","error":{"type":"ValueError","message":"boom"},"interrupted":true}
{"v":1,"ts":"2026-01-01T00:00:03.000000Z","event":"chain_end","run_id":"a"}
{"v":1,"event":"llm_end","run_id":"b","model":"m","usage":{"input_tokens":10,"output_tokens":5,"total_tokens":15},"metadata":{"ls_provider":"openai"}}
{"v":1,"ts":"2026-01-01T00:00:05.000000Z","event":"llm_start","run_id":"b","name":"b","metadata":{"ls_provider":"anthropic"}}
{"v":1,"ts":"2026-01-01T00:00:05.000000Z","event":"llm_end","run_id":"c","model":"m","usage":{"total_tokens":15,"input_token_details":{"cache_read":4}},"duration_ms":250}
{"v":1,"ts":"2026-01-01T00:00:06.000000Z","event":"llm_new_token","run_id":"d","token":"x"}
{"v":1,"ts":"2026-01-01T00:00:07.000000Z","event":"tool_start","run_id":"e","parent_run_id":"a","trace_id":"a","name":"t"}
{"v":1,"ts":"bad","event":"tool_end","run_id":"e","name":"t2"}
{"v":1,"ts":"2026-01-01T00:00:08.000000Z","event":"chain_error","run_id":"f","aborted":true,"error":{"message":"gone"}}
{"v":1,"ts":"2026-01-01T00:00:09.000000Z","event":"chain_start","run_id":"g","name":"open"}
"""


def _all_runs(files: list[str], runs: str) -> list[tuple[Any, ...]]:
    from chainsink.cli._duck import connect

    con = connect(files, cost=lambda *_: 1.0, runs=runs)
    try:
        return sorted(con.execute("select * from runs").fetchall(), key=repr)
    finally:
        con.close()


def test_runs_plans_give_the_same_rows(log: Log, aborted_log: Path, tmp_path: Path) -> None:
    """The ``runs`` view built by sorting (the plan that spills at any size) holds the same
    rows as the one built by hashing (the default), odd records included."""
    odd = tmp_path / "odd.jsonl"
    odd.write_text(ODD_RUNS)
    files = [str(log.path), str(aborted_log), str(odd)]
    hashed = _all_runs(files, "hash")
    assert hashed == _all_runs(files, "sort")
    assert len(hashed) == len(log.runs) + 8 + len(query("select 1 from runs", aborted_log))
    rows = {r["run_id"]: r for r in query("select * from runs", odd)}
    assert (rows["a"]["status"], rows["a"]["error_type"], rows["a"]["tags"]) == (
        "interrupted", "ValueError", ["x"])
    assert rows["b"]["name"] == "b" and rows["b"]["end_time"] is None
    assert rows["g"]["status"] == "open" and rows["f"]["status"] == "aborted"
    assert "d" not in rows
    assert query("select count(*) as n from runs where run_id is null", odd) == [{"n": 2}]


def test_a_query_keeps_only_the_run_columns_it_uses(log: Log) -> None:
    """Per run, DuckDB keeps what the query uses: tokens and cost per model do not hold the
    runs' metadata, tags or names in memory (what made memory grow with the logs)."""
    from chainsink.cli._duck import connect

    con = connect([str(log.path)], cost=lambda *_: 1.0)
    try:
        plan = "\n".join(str(row[-1]) for row in con.execute(
            "explain select model, count(*), sum(total_tokens), sum(cost) from runs "
            "group by 1").fetchall())
    finally:
        con.close()
    assert 0 < plan.count("arg_min_null(") <= 5, plan
    for heavy in ("s_metadata", "e_metadata", "s_tags", "e_tags", "s_name", "e_name"):
        assert heavy not in plan, heavy


def test_memory_is_bounded_with_a_private_spill_directory(log: Log, tmp_path: Path) -> None:
    """``query`` holds DuckDB to a memory limit that does not depend on the logs (a base and
    a share per thread) and spills to a directory of its own."""
    from chainsink.cli import _duck

    con = _duck.connect([str(log.path)])
    try:
        con.execute("SET threads = 3")
        limit = _duck.bound_memory(con, str(tmp_path))
        assert limit == _duck.QUERY_MEMORY_BASE + 3 * _duck.QUERY_MEMORY_PER_THREAD
        got = con.execute("select current_setting('memory_limit'), "
                          "current_setting('temp_directory')").fetchone()
        assert got is not None and got[1] == str(tmp_path)
        assert _duck._bytes(str(got[0])) == pytest.approx(limit, rel=0.01)
    finally:
        con.close()


def test_out_of_memory_is_run_again_with_the_same_answer(log: Log, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """A query that runs out of memory within the limit before a row is written runs again
    (the runs view by sorting, then without the limit): the same rows, nothing said twice."""
    from chainsink.cli import _duck, _query

    sql = "select * from runs order by run_id"
    expected = query(sql, log.path)
    tried: list[str] = []
    real = _duck.connect

    def connect(files: list[str], **kwargs: Any) -> Any:
        tried.append(kwargs.get("runs", "hash"))
        return real(files, **kwargs)

    monkeypatch.setattr(_duck, "connect", connect)
    monkeypatch.setattr(_duck, "QUERY_MEMORY_BASE", 1_000_000)  # far too little
    monkeypatch.setattr(_duck, "QUERY_MEMORY_PER_THREAD", 0)
    assert query(sql, log.path) == expected
    assert tried == [plan for plan, _ in _query.ATTEMPTS]
