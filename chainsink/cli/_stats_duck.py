"""``chainsink stats`` over DuckDB: the same numbers as the Python reader, for large inputs.

:mod:`chainsink.cli._stats` reads records in Python through :class:`chainsink.report.LogSummary`;
past :data:`AUTO_BYTES` of input (and with DuckDB installed) it asks :func:`summarise` instead,
which reads the same files with DuckDB (in parallel, through :mod:`chainsink.cli._duck`'s
source and typing) and fills a :class:`~chainsink.report.LogSummary` with the results (its
cost too: the SQL sums each call's exact price from the summary's own
:class:`~chainsink.cost.Pricer`), so the JSON and the text are made by the same code either way.

What the two engines count is the same, read the same way (:func:`chainsink.report.clean_record`'s
rules in SQL). Where they differ, DuckDB's answer is the exact one:

- Latency percentiles are exact for any number of runs (the Python reader keeps a sample of
  1,024 durations per run name: exact below that, estimated above).
- Every run name, model and trace is kept (the Python reader pools names and models past
  1,000 and follows at most 10,000 traces in flight).
- A trace's records all count, even those logged after its root ended (the Python reader
  closes a trace when its root and its runs have ended).
- Slowest traces of exactly equal duration are listed unfinished first, then the latest
  ended first (the Python reader lists them in the order they closed); a trace's unpriced
  models are listed sorted (the Python reader: in the order met).
- A trace's name, when its root's start is not in the logs, is that of its earliest record
  by time (the Python reader: its first record in the files).

Memory grows with the number of traces and closing records (per-trace aggregates, exact
percentiles), not with the bytes of the log; the Python reader's is bounded.

Bad lines: DuckDB counts, per file, the lines that are not records and the records with values
a report cannot use; a file with any (or with no records) is then read again by the Python
reader, only to report them, so the warnings are exactly those of the Python engine (file, line
and reason, the first ten then a count). If that reading disagrees with DuckDB's count (a line
DuckDB and Python read differently), or DuckDB cannot read a file at all (a damaged ``.gz``), the
whole summary is made by the Python reader instead: :class:`Fallback`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chainsink._schema import END_KINDS, ERROR_KINDS, START_KINDS
from chainsink.cli._common import STDIN, say
from chainsink.report import LogSummary, Tokens, TraceSummary

if TYPE_CHECKING:
    import duckdb

    from chainsink.cost import Prices

#: ``chainsink stats`` uses DuckDB (when installed) for inputs of at least this many bytes
#: (on disk: a ``.gz`` counts compressed). Below it the Python reader is as fast or faster
#: (DuckDB's start-up and a few scans cost a fixed ~0.3 s).
AUTO_BYTES = 64 * 1024 * 1024
#: DuckDB's memory limit for ``stats`` (it spills to a temporary directory past it; a query
#: that still does not fit falls back to the Python reader).
MEMORY_LIMIT = "256MB"
#: Forces the engine: ``duckdb``, ``python`` (or ``auto``, the default).
ENGINE_ENV = "CHAINSINK_STATS_ENGINE"
ENGINES = ("auto", "duckdb", "python")

_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
#: The largest duration believed, the most tokens of one call, the largest token sum
#: (chainsink.report's rules).
_MAX_MS = "1e12"
_MAX_TOKENS = 2**32
_MAX_SUM = 2**63 - 1
_CHAINSINK_TS = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$"


class Fallback(Exception):
    """DuckDB cannot give the same answer here: use the Python reader."""


def engine_for(files: list[str]) -> str:
    """``"duckdb"`` or ``"python"``: what :envvar:`CHAINSINK_STATS_ENGINE` forces, else DuckDB
    when it is installed, every input is a file and they add up to :data:`AUTO_BYTES`.

    Raises:
        ValueError: The variable names no engine.
    """
    forced = os.environ.get(ENGINE_ENV, "").strip().lower() or "auto"
    if forced not in ENGINES:
        raise ValueError(f"{ENGINE_ENV}={forced!r}: expected one of {', '.join(ENGINES)}")
    if forced == "python" or STDIN in files:
        return "python"
    if forced == "duckdb":
        return "duckdb"
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return "python"
    total = 0
    for name in files:
        try:
            total += os.stat(name).st_size
        except OSError:
            continue
    return "duckdb" if total >= AUTO_BYTES else "python"


# -- SQL ------------------------------------------------------------------------------------------


def _kinds(kinds: Any) -> str:
    return ", ".join("'" + k + "'" for k in sorted(kinds))


def _text(col: str) -> str:
    """A raw JSON value as Python's ``str()`` of it would read for the usual types (a string
    itself, null and missing as ``""``)."""
    return (f"CASE WHEN {col} IS NULL OR json_type({col}) = 'NULL' THEN '' "
            f"WHEN json_type({col}) = 'VARCHAR' THEN {col} ->> '$' "
            f"ELSE CAST({col} AS VARCHAR) END")


def _truthy(col: str) -> str:
    return (f"({col} IS NOT NULL AND CAST({col} AS VARCHAR) NOT IN "
            "('null', '\"\"', '0', '0.0', '-0.0', 'false', '[]', '{}'))")


def _records_sql(cost: bool) -> str:
    """One row per line of the logs with what the summary needs, read as
    :func:`chainsink.report.clean_record` reads a record."""
    from chainsink.cli._duck import EXACT_COST_FUNCTION, typed

    count = "CASE WHEN u.{k} BETWEEN 0 AND " + str(_MAX_TOKENS) + " THEN u.{k} ELSE 0 END"
    price = (f"CASE WHEN kind = 'llm_end' AND model IS NOT NULL AND u IS NOT NULL THEN "
             f"{EXACT_COST_FUNCTION}(model, u, provider, ts) END" if cost
             else "CAST(NULL AS DECIMAL(38, 18))")
    odd_ts = (f"NOT (json_type(ts) = 'VARCHAR' AND regexp_full_match(ts ->> '$', "
              f"'{_CHAINSINK_TS}') AND year(t_ts) BETWEEN 1970 AND 2999)")
    odd = " OR ".join([
        odd_ts,
        f"(duration_ms IS NOT NULL AND json_type(duration_ms) <> 'NULL' "
        f"AND coalesce(t_ms > {_MAX_MS}, true))",
        "(usage IS NOT NULL AND json_type(usage) <> 'NULL' AND (json_type(usage) <> 'OBJECT'"
        + "".join(f" OR (json_type(usage, '$.{k}') NOT IN ('NULL') AND "
                  f"coalesce(NOT (u.{k} BETWEEN 0 AND {_MAX_TOKENS}), true))"
                  for k in ("input_tokens", "output_tokens", "total_tokens")) + "))",
        *(f"({k} IS NOT NULL AND json_type({k}) NOT IN ('NULL', 'VARCHAR'))"
          for k in ("name", "run_type", "model")),
        "(metadata IS NOT NULL AND json_type(metadata) NOT IN ('NULL', 'OBJECT'))",
        "(tags IS NOT NULL AND json_type(tags) NOT IN ('NULL', 'ARRAY'))",
    ])
    return f"""
WITH lines AS (
  SELECT *,
    coalesce(json_type(event) = 'VARCHAR' AND run_id IS NOT NULL, false) AS is_record,
    -- what is not a record (a bad line) counts only as one, per file
    CASE WHEN json_type(event) = 'VARCHAR' AND run_id IS NOT NULL THEN event ->> '$' END
      AS kind,
    {typed("ts")} AS t_ts,
    {typed("duration_ms")} AS t_ms,
    {typed("usage")} AS u
  FROM _chainsink_lines
), typed AS (
  SELECT
    filename, is_record, kind,
    is_record AND ({odd}) AS odd,
    {_text("run_id")} AS rid,
    CASE WHEN NOT is_record THEN NULL
         WHEN {_truthy("trace_id")} THEN {_text("trace_id")} ELSE {_text("run_id")} END
      AS tkey,
    CASE WHEN is_record AND year(t_ts) BETWEEN 1970 AND 2999 THEN t_ts END AS ts,
    CASE WHEN t_ms <= {_MAX_MS} THEN t_ms END AS ms,
    coalesce(nullif({typed("name")}, ''), '<unknown>') AS name,
    coalesce({typed("run_type")}, '') AS run_type,
    nullif({typed("model")}, '') AS model,
    CASE WHEN json_type(metadata) = 'OBJECT'
         AND json_type(metadata, '$.ls_provider') = 'VARCHAR'
         THEN metadata ->> '$.ls_provider' END AS provider,
    u,
    kind IN ({_kinds(START_KINDS)}) AS is_start,
    kind IN ({_kinds(END_KINDS | ERROR_KINDS)}) AS is_close,
    kind IN ({_kinds(ERROR_KINDS)})
      AND (coalesce({typed("interrupted")}, false) OR coalesce({typed("aborted")}, false))
      AS stopped,
    kind IN ({_kinds(ERROR_KINDS)})
      AND NOT (coalesce({typed("interrupted")}, false) OR coalesce({typed("aborted")}, false))
      AS failed,
    coalesce({typed("interrupt")}, '') = 'handoff' AS handoff,
    CAST(error AS VARCHAR) AS error_json
  FROM lines
)
SELECT *,
  CASE WHEN kind = 'llm_end' AND u IS NOT NULL THEN {count.format(k="input_tokens")} ELSE 0 END
    AS in_tok,
  CASE WHEN kind = 'llm_end' AND u IS NOT NULL THEN {count.format(k="output_tokens")} ELSE 0 END
    AS out_tok,
  CASE WHEN kind = 'llm_end' AND u IS NOT NULL THEN {count.format(k="total_tokens")} ELSE 0 END
    AS tot_tok,
  {price} AS cost,
  CASE WHEN kind = 'llm_end' THEN coalesce(model, '(unknown model)') END AS mkey
FROM typed
"""


def _tokens(where: str = "kind = 'llm_end'") -> str:
    sums = "".join(f"least(coalesce(sum({col}) FILTER (WHERE {where}), 0), {_MAX_SUM}) "
                   f"AS {key}, " for col, key in (("in_tok", "input_tokens"),
                                                  ("out_tok", "output_tokens"),
                                                  ("tot_tok", "total_tokens")))
    return (f"count(*) FILTER (WHERE {where}) AS calls, {sums}"
            f"sum(cost) FILTER (WHERE {where}) AS cost, "
            f"coalesce(bool_or(cost IS NULL) FILTER (WHERE {where}), false) AS unpriced, "
            f"list(DISTINCT mkey) FILTER (WHERE {where} AND cost IS NULL) AS unpriced_models")


_LAST = "coalesce(ts, TIMESTAMP '9999-12-31')"
_FIRST = "coalesce(ts, TIMESTAMP '0001-01-01')"


def _main_sql(cost: bool) -> str:
    """Per file (bad lines), per model (tokens, cost), per trace and in all: one scan."""
    return f"""
CREATE TEMP TABLE _stats AS
SELECT
  GROUPING(filename) AS no_file, GROUPING(mkey) AS no_model, GROUPING(tkey) AS no_trace,
  filename, mkey, tkey,
  count(*) FILTER (WHERE is_record) AS records,
  count(*) FILTER (WHERE NOT is_record) AS bad,
  count(*) FILTER (WHERE odd) AS odd,
  count(*) FILTER (WHERE is_start) AS runs,
  count(*) FILTER (WHERE failed) AS errors,
  count(*) FILTER (WHERE stopped) AS interrupted,
  min(ts) AS first_ts, max(ts) AS last_ts,
  {_tokens()},
  arg_max(struct_pack(name, run_type), {_FIRST}) FILTER (WHERE is_start AND rid = tkey)
    AS root,
  arg_min(struct_pack(name, run_type), {_LAST}) FILTER (WHERE is_record) AS head,
  count(*) FILTER (WHERE is_close AND rid = tkey) > 0 AS complete,
  arg_min(struct_pack(ms), {_LAST}) FILTER (WHERE is_close AND rid = tkey) AS root_end,
  arg_min(struct_pack(error_json), {_LAST}) FILTER (WHERE failed) AS error,
  arg_min(struct_pack(error_json), {_LAST}) FILTER (WHERE stopped AND NOT handoff)
    AS interrupt
FROM ({_records_sql(cost)}) AS r
GROUP BY GROUPING SETS ((filename), (mkey), (tkey), ())
"""


def _names_sql(cost: bool) -> str:
    """Latency per run name (of closing records): counts, total, max, exact percentiles
    (DuckDB's ``quantile_disc`` is the nearest rank, as :class:`chainsink.report.Latency`
    takes it)."""
    return f"""
SELECT name, count(ms) AS n, count(*) FILTER (WHERE failed) AS errors, sum(ms) AS total,
  max(ms) AS top, quantile_disc(ms, 0.5) AS p50, quantile_disc(ms, 0.95) AS p95
FROM ({_records_sql(cost)}) AS r WHERE is_record AND is_close GROUP BY name
"""


# -- the summary --------------------------------------------------------------------------------


class _Latency:
    """A run name's latency as :class:`chainsink.report.Latency` shows it, with its
    percentiles worked out (exactly) by DuckDB."""

    __slots__ = ("_p", "count", "errors", "max", "total")

    def __init__(self, p50: float | None, p95: float | None) -> None:
        self._p = {50: p50, 95: p95}
        self.count = 0
        self.errors = 0
        self.total = 0.0
        self.max = 0.0

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (50 or 95, nearest rank); None without any duration."""
        found = self._p.get(int(q))
        return None if found is None else float(found)


class _Summary(LogSummary):
    """A :class:`~chainsink.report.LogSummary` filled from DuckDB's results, its slowest
    traces given."""

    given: list[TraceSummary]

    def slowest(self) -> list[TraceSummary]:
        """The slowest traces, slowest first."""
        return list(getattr(self, "given", []))


def summarise(files: list[str], *, top: int, prices: Prices | None, before: str = "",
              others: Sequence[tuple[int, str]] = ()) -> tuple[LogSummary, list[str]]:
    """The summary of ``files`` (JSONL logs, in reading order) made with DuckDB: what
    :class:`~chainsink.report.LogSummary` would hold after reading them (cost included), and
    the files that held records. Bad lines and odd records are reported as the Python reader
    reports them, after ``before`` (stderr text held back), with ``others`` (``(position
    among the inputs, message)`` of inputs that are not logs) said in their place.

    Raises:
        Fallback: Use the Python reader instead (see the module's notes); nothing was said.
    """
    import duckdb

    from chainsink.cli._duck import connect

    summary = _Summary(max_traces=0, slowest=top, prices=prices)
    # what the files hold may stop DuckDB (a damaged .gz, a line past its limits), and so may
    # the memory limit: the Python reader copes
    unreadable = (duckdb.IOException, duckdb.InvalidInputException, duckdb.ConversionException,
                  duckdb.OutOfMemoryException)
    with tempfile.TemporaryDirectory(prefix="chainsink-stats-") as spill:
        try:
            con = connect(files, cost=summary.pricer)  # each call priced as the summary does
        except unreadable as exc:
            raise Fallback(str(exc)) from None
        try:
            # memory stays flat as logs grow: past the limit DuckDB spills to disk
            con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
            con.execute("SET preserve_insertion_order = false")
            con.execute("SET temp_directory = $d", {"d": spill})
            con.execute(_main_sql(True))
            per_file = {str(f): (int(good), int(bad), int(odd))
                        for f, good, bad, odd in con.execute(
                            "SELECT filename, records, bad, odd FROM _stats "
                            "WHERE no_file = 0").fetchall()}
            usable = _report_lines(files, per_file, before, others)
            _fill(con, top, summary)
            return summary, usable
        except unreadable as exc:
            raise Fallback(str(exc)) from None
        finally:
            con.close()


def _report_lines(files: list[str], per_file: dict[str, tuple[int, int, int]],
                  before: str = "", others: Sequence[tuple[int, str]] = ()) -> list[str]:
    """Say what the Python reader says of each file's bad lines and odd records (reading again
    only the files that have any); the files that held records.

    Raises:
        Fallback: The Python reader reads a file differently.
    """
    import contextlib
    import io
    import sys

    from chainsink.cli._inputs import LineReport, open_input, records

    usable = []
    said = io.StringIO(before)  # held until every file agrees: a fallback must not say twice
    said.seek(0, io.SEEK_END)
    at = dict(others)
    order: list[str | None] = [None] * (len(files) + len(at))
    logs = iter(files)
    for i in range(len(order)):
        order[i] = None if i in at else next(logs)
    with contextlib.redirect_stderr(said):
        for i, name in enumerate(order):
            if name is None:
                say(at[i])
                continue
            good, bad, odd = per_file.get(name, (0, 0, 0))
            if good and not bad and not odd:
                usable.append(name)
                continue
            inp = open_input(name)
            report = LineReport(inp.name)
            try:
                seen = sum(1 for _ in records(inp, report))
            finally:
                inp.close()
            if seen != good:
                raise Fallback(f"{name}: {seen} records read, {good} by DuckDB")
            if report.done():
                usable.append(name)
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(said.getvalue())
        sys.stderr.flush()
    return usable


def _cost(value: Any, unpriced: Any) -> Decimal | None:
    return None if unpriced or value is None else Decimal(value)


def _fill(con: duckdb.DuckDBPyConnection, top: int, summary: _Summary) -> None:
    """Fill ``summary`` (cost included) with what the ``_stats`` table holds."""
    from chainsink.report import error_text, span_ms

    row = con.execute(
        "SELECT records, runs, errors, interrupted, strftime(first_ts, $f), "
        "strftime(last_ts, $f) FROM _stats "
        "WHERE no_file = 1 AND no_model = 1 AND no_trace = 1", {"f": _TS_FORMAT}).fetchone()
    assert row is not None
    summary.records, summary.runs, summary.errors, summary.interrupted = map(int, row[:4])
    summary.first_ts, summary.last_ts = row[4], row[5]
    traces = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE errors > 0), "
        "count(*) FILTER (WHERE errors = 0 AND complete AND interrupt IS NOT NULL), "
        "count(*) FILTER (WHERE NOT complete) FROM _stats WHERE no_trace = 0 "
        "AND tkey IS NOT NULL").fetchone()
    assert traces is not None
    (summary.traces, summary.failed_traces, summary.interrupted_traces,
     summary.incomplete_traces) = map(int, traces)
    for model, calls, i, o, t, value, unpriced in con.execute(
            "SELECT mkey, calls, input_tokens, output_tokens, total_tokens, cost, unpriced "
            "FROM _stats WHERE no_model = 0 AND mkey IS NOT NULL ORDER BY mkey").fetchall():
        summary.tokens_by_model[str(model)] = Tokens(int(calls), int(i or 0), int(o or 0),
                                                     int(t or 0))
        summary.cost_by_model[str(model)] = _cost(value, unpriced)
    for name, n, errors, total, most, p50, p95 in con.execute(_names_sql(True)).fetchall():
        lat = _Latency(p50, p95)
        lat.count, lat.errors, lat.total = int(n), int(errors), float(total or 0.0)
        lat.max = float(most) if most is not None else 0.0
        summary.latency[str(name)] = lat  # type: ignore[assignment]
    summary.given = []
    if not top:
        return
    rows = con.execute(f"""
        SELECT tkey, root, head, strftime(first_ts, $f), strftime(last_ts, $f), complete,
          root_end.ms, runs, errors, error.error_json, interrupted, interrupt.error_json,
          calls, input_tokens, output_tokens, total_tokens, cost, unpriced_models
        FROM _stats WHERE no_trace = 0 AND tkey IS NOT NULL
        ORDER BY coalesce(root_end.ms,
                          date_diff('microsecond', first_ts, last_ts) / 1000.0, 0) DESC,
                 complete, last_ts DESC NULLS LAST, tkey DESC
        LIMIT {int(top)}""", {"f": _TS_FORMAT}).fetchall()
    for (tkey, root, head, start, end, complete, root_ms, runs, errors, error, stops,
         interrupt, calls, i, o, t, value, models) in rows:
        named = root or head or {}
        trace = TraceSummary(
            str(tkey), name=named.get("name") or "<unknown>",
            run_type=named.get("run_type") or "", start=start or "", end=end or "",
            runs=int(runs), errors=int(errors), complete=bool(complete),
            interrupted=int(stops),
            tokens=Tokens(int(calls), int(i or 0), int(o or 0), int(t or 0)))
        trace.error = error_text(_json(error)) if errors else None
        trace.interrupt = error_text(_json(interrupt)) if interrupt is not None else None
        trace.duration_ms = (float(root_ms) if root_ms is not None
                             else span_ms(trace.start, trace.end))
        trace.priced_cost = Decimal(value or 0)
        trace.unpriced = sorted(map(str, models or ()))  # the Python reader: in the order met
        summary.given.append(trace)


def _json(text: Any) -> Any:
    """A raw JSON column value as Python's value (the record's ``error``)."""
    import orjson

    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
