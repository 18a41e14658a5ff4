"""JSONL logs as DuckDB views: ``events`` (one row per record) and ``runs`` (one row per run).

The one home of the SQL over logs: ``chainsink query`` runs the user's SQL over these views,
``chainsink export --parquet`` copies them to Parquet, and ``chainsink stats`` can use them for
inputs too large to stream through Python. DuckDB reads the files itself (plain, rotated,
``.gz``), in parallel; nothing here reads a record in Python.

- :func:`find_logs` turns ``FILE|DIR|GLOB ...`` into the log files (a directory's ``*.jsonl*``,
  lock files of rotating logs left out; gzip data recognised by its first bytes).
- :func:`connect` opens an in-memory DuckDB with the two views over those files (``runs``
  built one of two ways, :data:`RUNS_PLANS`, the same rows either way).
- :func:`bound_memory` holds a connection to a memory limit that does not grow with the logs
  (``chainsink query``), spilling to a directory past it.
- :data:`EVENT_COLUMNS` and :data:`RUN_COLUMNS` say what the views hold.
- :class:`chainsink.cost.Pricer` (the user's prices, then the price table) is the cost function
  :func:`connect` registers for ``runs.cost``.

Every record key of :mod:`chainsink._schema` is a column of ``events``, read as JSON and then
typed in SQL, so a value of the wrong type (a hand-edited or foreign log) becomes NULL instead
of failing the query. A line that is not a chainsink record (not JSON, not an object, no string
``event`` or no ``run_id``, a partial last line) is not a row: :func:`bad_lines` counts them.

A run's ``cost`` (USD, DOUBLE) is priced at read time by the cost function given to
:func:`connect`, once per model run, from the closing record's ``model`` and ``usage`` (cache
and reasoning details included), its ``metadata.ls_provider`` and its time. It is NULL for a
run with no model or no usage, for a model no price is known for (never 0), and without a cost
function; ``sum(cost)`` is therefore the cost of the priced runs only: check
``count(*) FILTER (WHERE cost IS NULL AND model IS NOT NULL)`` for runs left out.

A run's ``status`` is what :class:`chainsink.report.LogSummary` (``chainsink stats``) calls it:
its first closing record decides (``error`` for an error record, ``interrupted`` or
``aborted`` when that error record is flagged so, ``ok`` for an end record); a run with a start
and no closing record is ``open``.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chainsink._schema import END_KINDS, ERROR_KINDS, HEAD_KEYS, KIND_FIELDS, START_KINDS
from chainsink.read import GZIP_MAGIC

if TYPE_CHECKING:
    import duckdb

#: How a record key is typed in ``events``: ``id`` and ``text`` (VARCHAR: a string, else
#: NULL), ``int``, ``double``, ``bool``, ``ts`` (TIMESTAMP, UTC), ``tags`` (VARCHAR[]),
#: ``usage`` (a STRUCT of the token counts), ``json`` (the value as JSON). A key not named
#: here (a key added to the schema later) is JSON.
_KINDS: dict[str, str] = {
    "v": "int", "ts": "ts", "event": "text", "run_id": "id", "parent_run_id": "id",
    "trace_id": "id", "depth": "int", "name": "text", "run_type": "text", "tags": "tags",
    "metadata": "json", "duration_ms": "double", "usage": "usage", "model": "text",
    "interrupted": "bool", "interrupt": "text", "aborted": "bool", "defers_inputs": "bool",
    "token": "text", "tool": "text", "tool_call_id": "text", "input_str": "text",
    "query": "text", "log": "text", "text": "text", "event_name": "text", "attempt": "int",
}

#: The columns of ``events``, in order: every record key (:mod:`chainsink._schema`).
EVENT_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(
    [*HEAD_KEYS, *(key for fields in KIND_FIELDS.values() for key in fields)]))

#: The token counts of ``usage``, as columns of ``runs``.
_TOKENS = ("input_tokens", "output_tokens", "total_tokens")

#: The columns of ``runs``, in order.
RUN_COLUMNS: tuple[str, ...] = (
    "run_id", "parent_run_id", "trace_id", "name", "run_type", "tags", "metadata",
    "start_time", "end_time", "duration_ms", "status", "error_type", "error_message", "model",
    *_TOKENS, "cost")

#: The values of ``runs.status``.
STATUSES = ("ok", "error", "interrupted", "aborted", "open")

#: The name of the SQL function that prices one run, when a cost function is given:
#: ``chainsink_run_cost(model, usage, provider, ts)``, USD as DOUBLE (NULL: unknown).
COST_FUNCTION = "chainsink_run_cost"
#: The same price as an exact ``DECIMAL(38, 18)``, for sums that must equal
#: :mod:`chainsink.cost`'s Decimal sums (``chainsink stats``).
EXACT_COST_FUNCTION = "chainsink_run_cost_exact"

#: A model call's cost in USD from its model, its ``usage`` (LangChain's usage_metadata keys,
#: with ``input_token_details`` and ``output_token_details``; counts not reported left out),
#: its provider hint (``metadata.ls_provider``, or None) and its time (aware UTC, or None), or
#: None if unknown: a :class:`chainsink.cost.Pricer` is one.
CostFunction = Callable[[str, Mapping[str, Any], "str | None", "datetime | None"],
                        "Decimal | float | None"]

#: The token details kept in ``usage`` (LangChain's ``input_token_details`` and
#: ``output_token_details``), which the price of a call depends on.
_DETAILS = {"input_token_details": ("cache_read", "cache_creation", "audio"),
            "output_token_details": ("reasoning", "audio")}

#: The SQL type of ``events.usage`` (and of the cost function's second argument).
USAGE_TYPE = ("STRUCT(input_tokens BIGINT, output_tokens BIGINT, total_tokens BIGINT, "
              + ", ".join(f"{key} STRUCT({', '.join(f'{k} BIGINT' for k in keys)})"
                          for key, keys in _DETAILS.items()) + ")")

_GLOB_CHARS = frozenset("*?[")


class NoDuckDB(ImportError):
    """DuckDB is not installed (the ``sql`` extra)."""


def require_duckdb() -> None:
    """Import DuckDB, or raise :class:`NoDuckDB` with one line that names the extra."""
    try:
        import duckdb  # noqa: F401
    except ImportError:
        raise NoDuckDB("DuckDB is not installed: pip install 'chainsink[sql]'") from None


# -- finding the files ----------------------------------------------------------------------


def find_logs(args: Iterable[str]) -> tuple[list[str], list[str]]:
    """The log files named by ``args`` (files, directories, globs), and a problem per argument
    that names none.

    A directory stands for its ``*.jsonl*`` files (``app.jsonl``, ``app.jsonl.1``,
    ``app.jsonl.2.gz``), not those of its subdirectories; a glob for the files it matches
    (``**`` across directories). The lock file of a rotating log (``app.jsonl.lock``) is left
    out unless named alone. Each file is listed once, in the order found.
    """
    names = list(args)
    found: dict[str, str] = {}
    problems: list[str] = []
    for arg in names:
        if os.path.isdir(arg):
            matches = sorted(os.path.normpath(p)
                             for p in glob.glob(os.path.join(glob.escape(arg), "*.jsonl*"))
                             if os.path.isfile(p) and not p.endswith(".lock"))
            if not matches:
                problems.append(f"{arg}: a directory with no *.jsonl* files")
        elif os.path.exists(arg) or not _GLOB_CHARS & set(arg):
            if not os.path.exists(arg):
                problems.append(f"{arg}: no such file")
                continue
            if _lock_file(arg, names):
                continue
            matches = [arg]
        else:
            matches = sorted(p for p in glob.glob(arg, recursive=True)
                             if os.path.isfile(p) and not p.endswith(".lock"))
            if not matches:
                problems.append(f"{arg}: no file matches")
        for path in matches:
            found.setdefault(os.path.realpath(path), path)
    return list(found.values()), problems


def _lock_file(arg: str, names: list[str]) -> bool:
    """Whether ``arg`` is ``X.lock`` named with ``X`` or its rotated files (``X.1``, ...)."""
    if not arg.endswith(".lock"):
        return False
    log = arg[: -len(".lock")]
    return any(n == log or (n.startswith(log + ".") and n != arg) for n in names)


def _gzipped(path: str) -> bool:
    """Whether a file holds gzip data (by its first bytes, whatever it is called)."""
    try:
        with open(path, "rb") as f:
            return f.read(2) == GZIP_MAGIC
    except OSError:
        return False


# -- the views --------------------------------------------------------------------------------


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def typed(key: str) -> str:
    """The SQL that types the raw JSON value of record key ``key`` (a column of
    ``_chainsink_lines``), as ``events`` has it."""
    return _typed(key)


def _typed(key: str) -> str:
    """The SQL that types the raw JSON value of record key ``key``."""
    col = _ident(key)
    kind = _KINDS.get(key, "json")
    if kind in ("id", "text"):
        return f"CASE WHEN json_type({col}) = 'VARCHAR' THEN {col} ->> '$' END"
    if kind == "int":
        return (f"CASE WHEN json_type({col}) IN ('BIGINT', 'UBIGINT') "
                f"THEN TRY_CAST({col} AS INTEGER) END")
    if kind == "double":
        return (f"CASE WHEN json_type({col}) IN ('BIGINT', 'UBIGINT', 'DOUBLE') "
                f"AND TRY_CAST({col} AS DOUBLE) >= 0 THEN TRY_CAST({col} AS DOUBLE) END")
    if kind == "bool":
        return f"CASE WHEN json_type({col}) = 'BOOLEAN' THEN TRY_CAST({col} AS BOOLEAN) END"
    if kind == "ts":
        # an offset is honoured (a TIMESTAMP cast would drop it); none means UTC
        return (f"CASE WHEN json_type({col}) = 'VARCHAR' "
                f"THEN timezone('UTC', TRY_CAST({col} ->> '$' AS TIMESTAMPTZ)) END")
    if kind == "tags":
        return (f"CASE WHEN json_type({col}) = 'ARRAY' "
                f"THEN TRY_CAST({col} AS VARCHAR[]) END")
    if kind == "usage":
        def count(path: str) -> str:
            return (f"CASE WHEN json_type({col}, '$.{path}') IN ('BIGINT', 'UBIGINT') "
                    f"THEN TRY_CAST({col} -> '$.{path}' AS BIGINT) END")

        counts = [f"{k} := {count(k)}" for k in _TOKENS]
        for detail, keys in _DETAILS.items():
            inner = ", ".join(f"{k} := {count(f'{detail}.{k}')}" for k in keys)
            counts.append(f"{detail} := CASE WHEN json_type({col}, '$.{detail}') = 'OBJECT' "
                          f"THEN struct_pack({inner}) END")
        return f"CASE WHEN json_type({col}) = 'OBJECT' THEN struct_pack({', '.join(counts)}) END"
    return f"CASE WHEN {col} IS NOT NULL AND json_type({col}) <> 'NULL' THEN {col} END"


def _source(files: list[str]) -> str:
    """``read_ndjson`` over the files: every key as JSON, bad lines as rows of NULLs."""
    columns = ", ".join(f"{_literal(k)}: 'JSON'" for k in EVENT_COLUMNS)
    gzipped = {f: _gzipped(f) for f in files}
    parts = []
    for compression in ("none", "gzip"):
        chosen = [f for f in files if gzipped[f] == (compression == "gzip")]
        if chosen:
            parts.append(
                f"SELECT * FROM read_ndjson([{', '.join(map(_literal, chosen))}], "
                f"columns = {{{columns}}}, compression = '{compression}', "
                "ignore_errors = true, union_by_name = true, filename = true)")
    return " UNION ALL ".join(parts)


def _events_sql() -> str:
    typed = ",\n  ".join(f"{_typed(k)} AS {_ident(k)}" for k in EVENT_COLUMNS)
    return (f"CREATE TEMP VIEW events AS SELECT\n  {typed}\nFROM _chainsink_lines\n"
            "WHERE json_type(event) = 'VARCHAR' AND run_id IS NOT NULL "
            "AND json_type(run_id) <> 'NULL'")


def _kinds(kinds: Iterable[str]) -> str:
    return ", ".join(map(_literal, sorted(kinds)))


#: What ``runs`` keeps of a run's first start record (``s_*``), and of its first closing record
#: (``e_*``), from the columns of the ``records`` step of :func:`_runs_sql`.
_START_KEPT = ("parent_run_id", "trace_id", "name", "run_type", "tags", "metadata", "ts",
               "provider")
_END_KEPT = ("event", "parent_run_id", "trace_id", "name", "run_type", "tags", "metadata", "ts",
             "duration_ms", "error_type", "error_message", "interrupted", "aborted", "model",
             "usage", "provider")


#: How :func:`connect` builds ``runs`` (the same rows either way): ``hash`` (one GROUP BY: the
#: fastest; a query that keeps the text of every run, ``select *`` of a large log, holds it all
#: in memory) or ``sort`` (windows over the records sorted by run: slower, but every step
#: spills to disk past the memory limit).
RUNS_PLANS = ("hash", "sort")


def _runs_sql(cost: bool, plan: str = "hash") -> str:
    errors = _kinds(ERROR_KINDS)
    # the first start and the first closing record of each run (a repeated end is ignored,
    # as chainsink export does); records without a time sort last. A record without a usable
    # run_id (NULL) keeps its starts and its closing records apart, as a join on run_id would.
    last = "coalesce(ts, TIMESTAMP '9999-12-31')"
    if plan == "hash":
        # One scan and one GROUP BY, one aggregate per column kept (not a STRUCT of them all):
        # DuckDB drops the aggregates a query does not use (``metadata``, ``tags``... when not
        # asked for), so the state per run stays small. arg_min_null keeps NULL values (what
        # the record held); every aggregate of the start (or the closing) records sees the
        # same rows in the same order, so all of them take the same record, ties included.
        kept = [f"arg_min_null({c}, k) FILTER (WHERE is_start) AS s_{c}" for c in _START_KEPT]
        kept += [f"arg_min_null({c}, k) FILTER (WHERE NOT is_start) AS e_{c}"
                 for c in _END_KEPT]
        grouped = (f"SELECT run_id,\n    {', '.join(kept)}\n  FROM records "
                   "GROUP BY run_id, CASE WHEN run_id IS NULL THEN is_start END")
    elif plan == "sort":
        # The first start and the first closing record of each run (by a window), then the
        # closing record's values beside the start's (the next row of the run), one row a run
        starts = ", ".join(f"CASE WHEN is_start THEN {c} END AS s_{c}" for c in _START_KEPT)
        ends = ", ".join(f"CASE WHEN is_start THEN lead({c}) OVER run ELSE {c} END AS e_{c}"
                         for c in _END_KEPT)
        grouped = (f"SELECT run_id, {starts}, {ends}\n  FROM (SELECT * FROM records QUALIFY "
                   "row_number() OVER (PARTITION BY run_id, is_start ORDER BY k) = 1)\n"
                   "  WINDOW run AS (PARTITION BY run_id, CASE WHEN run_id IS NULL THEN "
                   "is_start END ORDER BY is_start DESC)\n"
                   "  QUALIFY row_number() OVER run = 1")
    else:
        raise ValueError(f"runs plan {plan!r}: expected one of {', '.join(RUNS_PLANS)}")
    # COST HOOK: the one place a run's cost is filled in (NULL without a cost function);
    # the function is called for model runs only
    cost_sql = (f"CASE WHEN model IS NOT NULL AND usage IS NOT NULL THEN "
                f"{COST_FUNCTION}(model, usage, provider, end_time) END" if cost
                else "CAST(NULL AS DOUBLE)")
    return f"""
CREATE TEMP VIEW runs AS
WITH records AS (
  SELECT run_id, event, event IN ({_kinds(START_KINDS)}) AS is_start, ts, {last} AS k,
    parent_run_id, trace_id, name, run_type, tags, metadata, duration_ms,
    error ->> '$.type' AS error_type, error ->> '$.message' AS error_message,
    interrupted, aborted, model, usage, {_provider("metadata")} AS provider
  FROM events WHERE event IN ({_kinds(START_KINDS | END_KINDS | ERROR_KINDS)})
), grouped AS (
  {grouped}
), joined AS (
  SELECT
    run_id,
    coalesce(s_parent_run_id, e_parent_run_id) AS parent_run_id,
    coalesce(s_trace_id, e_trace_id, run_id) AS trace_id,
    coalesce(s_name, e_name) AS name,
    coalesce(s_run_type, e_run_type) AS run_type,
    coalesce(s_tags, e_tags) AS tags,
    coalesce(s_metadata, e_metadata) AS metadata,
    coalesce(s_ts, e_ts - to_microseconds(CAST(round(e_duration_ms * 1000) AS BIGINT)))
      AS start_time,
    e_ts AS end_time,
    coalesce(e_duration_ms,
             date_diff('microsecond', s_ts, e_ts) / 1000.0) AS duration_ms,
    CASE
      WHEN e_event IS NULL THEN 'open'
      WHEN e_event IN ({errors}) THEN
        CASE WHEN e_aborted THEN 'aborted' WHEN e_interrupted THEN 'interrupted'
             ELSE 'error' END
      ELSE 'ok'
    END AS status,
    CASE WHEN e_event IN ({errors}) THEN e_error_type END AS error_type,
    CASE WHEN e_event IN ({errors}) THEN e_error_message END AS error_message,
    e_model AS model,
    e_usage.input_tokens AS input_tokens,
    e_usage.output_tokens AS output_tokens,
    e_usage.total_tokens AS total_tokens,
    e_usage AS usage,
    coalesce(e_provider, s_provider) AS provider
  FROM grouped
)
SELECT {_runs_select()}, {cost_sql} AS cost FROM joined
"""


def _provider(metadata: str) -> str:
    """The SQL of the provider hint (``ls_provider``, a string) in a metadata JSON value."""
    return (f"CASE WHEN json_type({metadata}, '$.ls_provider') = 'VARCHAR' "
            f"THEN {metadata} ->> '$.ls_provider' END")


def _runs_select() -> str:
    """``runs`` columns in :data:`RUN_COLUMNS` order over the ``joined`` rows."""
    return ", ".join(_ident(c) for c in RUN_COLUMNS[:-1])


def connect(files: list[str], *, cost: CostFunction | None = None,
            threads: int | None = None, runs: str = "hash") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the ``events`` and ``runs`` views over ``files``.

    Args:
        files: Log files (see :func:`find_logs`); at least one.
        cost: Prices a model call (:data:`CostFunction`, e.g. a
            :class:`chainsink.cost.Pricer`):
            registered as the SQL functions :data:`COST_FUNCTION` and
            :data:`EXACT_COST_FUNCTION`, and used for ``runs.cost``. Without it ``cost`` is
            NULL. This is where read-time pricing plugs in.
        threads: DuckDB's worker threads (default: DuckDB's, one per core).
        runs: How the ``runs`` view is built (:data:`RUNS_PLANS`): ``hash`` (the default,
            the fastest) or ``sort`` (spills to disk at any size). The rows are the same.

    Raises:
        NoDuckDB: DuckDB is not installed.
        ValueError: No files, or ``runs`` names no plan.
        duckdb.Error: A file could not be read.
    """
    require_duckdb()
    import duckdb
    import duckdb.func

    if not files:
        raise ValueError("no log files")
    if runs not in RUNS_PLANS:
        raise ValueError(f"runs plan {runs!r}: expected one of {', '.join(RUNS_PLANS)}")
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute(f"CREATE TEMP VIEW _chainsink_lines AS {_source(files)}")
    con.execute(_events_sql())
    if cost is not None:
        exact = _null_safe(cost)
        args = ["VARCHAR", USAGE_TYPE, "VARCHAR", "TIMESTAMP"]
        special = duckdb.func.FunctionNullHandling.SPECIAL

        def approx(model: Any, usage: Any, provider: Any, ts: Any) -> float | None:
            found = exact(model, usage, provider, ts)
            return None if found is None else float(found)

        con.create_function(COST_FUNCTION, approx, args, "DOUBLE",  # type: ignore[arg-type]
                            null_handling=special, side_effects=False)
        con.create_function(EXACT_COST_FUNCTION, exact, args,  # type: ignore[arg-type]
                            "DECIMAL(38, 18)", null_handling=special, side_effects=False)
    con.execute(_runs_sql(cost is not None, runs))
    return con


#: DuckDB's memory for ``chainsink query``: a base for the query's own state (hash tables,
#: sorts: they spill past the limit) and, per worker thread, what its JSON reader holds (two
#: buffers of 32 MiB, whatever the size of the logs). See :func:`bound_memory`.
QUERY_MEMORY_BASE = 96 * 1000 * 1000
QUERY_MEMORY_PER_THREAD = 64 * 1000 * 1000


def bound_memory(con: duckdb.DuckDBPyConnection, spill: str) -> int:
    """Hold ``con`` to a memory limit that does not grow with the logs, spilling to the
    (private, empty) directory ``spill`` past it: :data:`QUERY_MEMORY_BASE` plus
    :data:`QUERY_MEMORY_PER_THREAD` per DuckDB thread, never more than DuckDB's own default
    (80% of RAM). The limit set, in bytes.

    A query that needs more than the limit in memory at once (one that cannot spill) fails
    with ``duckdb.OutOfMemoryException``: run it again on a connection without this limit.
    """
    row = con.execute("SELECT current_setting('threads'), "
                      "(SELECT value FROM duckdb_settings() WHERE name = 'memory_limit')"
                      ).fetchone()
    threads = int(row[0]) if row and row[0] else 1
    limit = QUERY_MEMORY_BASE + QUERY_MEMORY_PER_THREAD * max(threads, 1)
    default = _bytes(str(row[1])) if row and row[1] is not None else None
    if default is not None and default > 0:
        limit = min(limit, default)
    con.execute(f"SET memory_limit = '{int(limit)}B'")
    con.execute("SET temp_directory = $d", {"d": spill})
    return limit


def _bytes(text: str) -> int | None:
    """A DuckDB size setting (``18.8 GiB``, ``256.0 MiB``, ``500MB``) in bytes, or None."""
    units = {"B": 1, "BYTES": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
             "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
    raw = text.strip().upper().replace(" ", "")
    digits = raw.rstrip("ABEGIKMTYS")
    unit = raw[len(digits):] or "B"
    try:
        return int(float(digits) * units[unit])
    except (KeyError, ValueError):
        return None


def _null_safe(cost: CostFunction) -> Callable[..., Decimal | None]:
    """``cost`` over SQL values: NULL for a call without a model or usage, or one it cannot
    price (or raises on)."""
    def price(model: Any, usage: Any, provider: Any = None, ts: Any = None) -> Decimal | None:
        if not isinstance(model, str) or not model or not isinstance(usage, dict):
            return None
        counts = _present(usage)
        when = ts.replace(tzinfo=UTC) if isinstance(ts, datetime) and ts.tzinfo is None \
            else ts if isinstance(ts, datetime) else None
        try:
            value = cost(model, counts, provider if isinstance(provider, str) else None, when)
            return None if value is None else Decimal(value) if isinstance(value, Decimal) \
                else Decimal(str(float(value)))
        except Exception:  # noqa: BLE001 - one odd model must not fail the query
            return None

    return price


def _present(usage: dict[str, Any]) -> dict[str, Any]:
    """A usage STRUCT as a mapping of the counts it holds (NULL ones and empty details left
    out, as the record had them)."""
    found: dict[str, Any] = {}
    for key, value in usage.items():
        kept = ({k: v for k, v in value.items() if v is not None} or None
                if isinstance(value, dict) else value)
        if kept is not None:
            found[key] = kept
    return found


def bad_lines(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, int]]:
    """``(file, records, lines skipped)`` for each file (a second read of the files)."""
    rows = con.execute(
        "SELECT filename, count(*) FILTER (WHERE json_type(event) = 'VARCHAR' "
        "AND run_id IS NOT NULL AND json_type(run_id) <> 'NULL'), "
        "count(*) FILTER (WHERE NOT (json_type(event) = 'VARCHAR' AND run_id IS NOT NULL "
        "AND json_type(run_id) <> 'NULL') OR event IS NULL) "
        "FROM _chainsink_lines GROUP BY filename ORDER BY filename").fetchall()
    return [(str(f), int(good), int(bad)) for f, good, bad in rows]
