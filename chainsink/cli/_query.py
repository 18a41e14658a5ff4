"""``chainsink query``: SQL over JSONL logs, with DuckDB (the ``sql`` extra)."""

from __future__ import annotations

import argparse
import datetime as _dt
import decimal
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from chainsink.cli._common import (
    EXIT_NO_INPUT,
    EXIT_OK,
    EXIT_USAGE,
    STDIN,
    InputError,
    Subparsers,
    add_prices,
    check_prices,
    cost_note,
    say,
)

if TYPE_CHECKING:
    import duckdb

    from chainsink.cli._duck import CostFunction

FORMATS = ("table", "csv", "json")
#: Rows a table shows; past this many, use LIMIT or --format csv/json (which stream).
TABLE_ROWS = 10_000
#: The widest a table cell is shown (longer values are cut, with an ellipsis).
CELL_WIDTH = 80
_BATCH = 2048


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``query`` to the CLI's subcommands."""
    p = subparsers.add_parser(
        "query", help="run SQL over JSONL logs (DuckDB; pip install 'chainsink[sql]')",
        description="Run SQL over JSONL logs with DuckDB, through two views: events (one row "
                    "per record, every record key a typed column: ts TIMESTAMP in UTC, ids "
                    "VARCHAR, usage a STRUCT of token counts, inputs/outputs/error/metadata "
                    "JSON) and runs (one row per run: ids, name, run_type, tags, metadata, "
                    "start_time, end_time, duration_ms, status ok|error|interrupted|aborted|"
                    "open, error_type, error_message, model, input/output/total_tokens, cost). "
                    "cost is USD from the genai-prices table (pip install 'chainsink[cost]') "
                    "and --prices, priced when read; NULL for a model with no known price, "
                    "never 0, so sum(cost) covers the priced runs only: count(*) filter "
                    "(where cost is null and model is not null) says how many are left out. "
                    "SQL that DuckDB refuses exits 2; "
                    "one that fails on the data or files exits 1. "
                    "FILE may be a log (plain, rotated, .gz), a directory (its *.jsonl* files) "
                    "or a glob; all are read as one. Lines that are not chainsink records are "
                    "skipped without a warning (chainsink stats reports them). DuckDB works "
                    "within a memory limit that does not grow with the logs, spilling to a "
                    "temporary directory; a query that still runs out of memory runs again "
                    "without it.")
    p.add_argument("sql", metavar="SQL",
                   help='the query, e.g. "select model, sum(total_tokens) from runs group by 1"')
    p.add_argument("files", nargs="+", metavar="FILE|DIR",
                   help="JSONL log(s), directories of logs, or globs (quoted: '*.jsonl*')")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="table (aligned, for a terminal; the default), csv, or json (an array "
                        "of objects, JSON columns as JSON values)")
    add_prices(p)
    return p


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors the parser cannot see (exit 2)."""
    if STDIN in args.files:
        parser.error("query reads files, not stdin (-): save the log to a file first")
    if not args.sql.strip():
        parser.error("SQL is empty")
    check_prices(parser, args)


def run(args: argparse.Namespace) -> int:
    """Run ``chainsink query``; return the exit code."""
    # DuckDB is imported here, not at the top: `chainsink --help` does not pay for it
    from chainsink.cli._duck import NoDuckDB, find_logs, require_duckdb
    from chainsink.cost import Pricer

    try:
        require_duckdb()
    except NoDuckDB as exc:
        say(str(exc))
        return EXIT_NO_INPUT

    files, problems = find_logs(args.files)
    for problem in problems:
        say(problem)
    if not files:
        raise InputError("no log files to query")
    cost = Pricer(getattr(args, "user_prices", None))
    try:
        with tempfile.TemporaryDirectory(prefix="chainsink-query-") as spill:
            code = _run_sql(args.sql, files, args.format, cost, spill)
    finally:
        cost_note(cost)
    sys.stdout.flush()
    return code


#: How a query is tried, in turn, while it runs out of memory before a row is written: the
#: ``runs`` view's plan (:data:`chainsink.cli._duck.RUNS_PLANS`) and whether DuckDB is held to
#: the memory limit of :func:`chainsink.cli._duck.bound_memory`.
ATTEMPTS = (("hash", True), ("sort", True), ("hash", False))


def _run_sql(sql: str, files: list[str], fmt: str, cost: CostFunction, spill: str) -> int:
    """Run ``sql`` over ``files`` and write its rows in format ``fmt``; the exit code.

    Memory stays flat as logs grow: DuckDB works within a limit that does not depend on them
    (:func:`chainsink.cli._duck.bound_memory`), spilling to ``spill`` past it; the ``runs``
    view keeps little per run (only the columns the query uses). A query that runs out of
    memory before a row is written is run again (:data:`ATTEMPTS`): with the ``runs`` view
    built by sorting (which spills at any size: a query that keeps the text of every run),
    then without the limit.
    """
    import duckdb

    from chainsink.cli._duck import bound_memory, connect

    for plan, bounded in ATTEMPTS:
        if plan != "hash" and "runs" not in sql.lower():
            continue  # the view is not used: its plan changes nothing
        con = connect(files, cost=cost, runs=plan)
        try:
            if bounded:
                bound_memory(con, spill)
            try:
                result = _Result(con.execute(sql))
            except duckdb.Error as exc:
                if bounded and isinstance(exc, duckdb.OutOfMemoryException):
                    continue  # nothing written yet: try the next way
                return _failed(exc)
            try:
                if fmt == "table":
                    _table(result)
                elif fmt == "csv":
                    _csv(result)
                else:
                    _json(result)
            except duckdb.Error as exc:  # errors may arise as the rows are read
                return _failed(exc)
            return EXIT_OK
        finally:
            con.close()
    return EXIT_NO_INPUT  # not reached: the last attempt, unbounded, returns


def _failed(exc: Exception) -> int:
    """Say DuckDB's message (its first line) and return the exit code: 2 for SQL that is
    wrong in itself, 1 for one that failed on the data or the files."""
    import duckdb

    from chainsink.formatters import inert

    message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    say(inert(f"query failed: {message}"))
    wrong = (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException)
    return EXIT_USAGE if isinstance(exc, wrong) else EXIT_NO_INPUT


class _Result:
    """The rows of a query as they are read, with their column names and DuckDB types."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self.cursor = cursor
        description = cursor.description or []
        self.columns = [str(d[0]) for d in description]
        self.types = [str(d[1]) for d in description]
        # the first rows are read now, before anything is written: a query that fails early
        # (out of memory, bad data) fails here
        self._head = cursor.fetchmany(_BATCH) if self.columns else []

    def fetchmany(self, size: int) -> list[tuple[Any, ...]]:
        if not self.columns:
            return []
        rows, self._head = self._head[:size], self._head[size:]
        if len(rows) < size:
            rows += self.cursor.fetchmany(size - len(rows))
        return rows


def _batches(result: _Result) -> Iterator[list[tuple[Any, ...]]]:
    while True:
        rows = result.fetchmany(_BATCH)
        if not rows:
            return
        yield rows


def _json_columns(result: _Result) -> list[bool]:
    return [t == "JSON" for t in result.types]


def _text(value: Any) -> str:
    """A value as text: NULL as empty, JSON columns as their JSON, nested values as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        import orjson

        return orjson.dumps(_jsonable(value), option=orjson.OPT_NON_STR_KEYS).decode()
    return str(value)


def _jsonable(value: Any, is_json: bool = False) -> Any:
    """A DuckDB value as a JSON value (a JSON column parsed back into one)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        if is_json:
            import orjson

            try:
                return orjson.loads(value)
            except orjson.JSONDecodeError:
                return value
        return value
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def _csv(result: _Result) -> None:
    import csv

    from chainsink.formatters import inert

    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(result.columns)
    # on a terminal, log content never controls it (escapes shown as text); piped, as it is
    tty = _isatty()
    for rows in _batches(result):
        out.writerows([inert(_text(v)) if tty else _text(v) for v in row] for row in rows)


def _json(result: _Result) -> None:
    import orjson

    from chainsink.formatters import inert

    names = result.columns
    is_json = _json_columns(result)
    tty = _isatty()
    sys.stdout.write("[")
    first = True
    for rows in _batches(result):
        chunk = []
        for row in rows:
            obj = {n: _jsonable(v, j) for n, v, j in zip(names, row, is_json, strict=True)}
            chunk.append(orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode())
        text = ("" if first else ",") + "\n" + ",\n".join(chunk)
        # orjson escapes C0 controls; on a terminal DEL and C1 are shown as text too
        sys.stdout.write(inert(text) if tty else text)
        first = False
    sys.stdout.write("\n]\n" if not first else "]\n")


def _isatty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _cell(value: Any) -> str:
    """A value as one table cell: inert, on one line, at most :data:`CELL_WIDTH` wide."""
    from chainsink.formatters import inert

    text = "NULL" if value is None else _text(value)
    text = inert(text).replace("\r\n", "\\r\\n").replace("\n", "\\n").replace("\t", "\\t")
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 1] + "\u2026"


def _table(result: _Result) -> None:
    names = [_cell(n) for n in result.columns]
    numeric = [t.split("(")[0] in _NUMERIC for t in result.types]
    rows = result.fetchmany(TABLE_ROWS + 1)
    more = len(rows) > TABLE_ROWS
    cells = [[_cell(v) for v in row] for row in rows[:TABLE_ROWS]]
    widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]
    lines = [_line(names, widths, [False] * len(names)),
             "  ".join("-" * w for w in widths)]
    lines += [_line(r, widths, numeric) for r in cells]
    sys.stdout.write("\n".join(lines) + "\n")
    count = len(cells)
    if more:
        say(f"showing the first {TABLE_ROWS:,} rows: add LIMIT, or use --format csv or json "
            "for all of them")
    else:
        sys.stdout.write(f"({count:,} row{'s' if count != 1 else ''})\n")


def _line(cells: Sequence[str], widths: Sequence[int], right: Sequence[bool]) -> str:
    return "  ".join(c.rjust(w) if r else c.ljust(w)
                     for c, w, r in zip(cells, widths, right, strict=True)).rstrip()


_NUMERIC = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                      "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE",
                      "DECIMAL"})
