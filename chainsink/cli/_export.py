"""``chainsink export``: send the runs of JSONL logs to a tracing stack, over OTLP/HTTP, or
write them to Parquet files for a data warehouse or a notebook."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from chainsink.cli._common import (
    EXIT_NO_INPUT,
    EXIT_OK,
    STDIN,
    OutputError,
    Subparsers,
    add_files,
    add_prices,
    check_files,
    check_prices,
    cost_note,
    say,
)

if TYPE_CHECKING:
    from chainsink.cost import Prices

#: Exit code when nothing usable was read or the endpoint refused the spans.
EXIT_FAILED = EXIT_NO_INPUT
#: The longest --timeout, in seconds.
MAX_TIMEOUT = 3600


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``export`` to the CLI's subcommands."""
    p = subparsers.add_parser(
        "export", help="send the runs of JSONL logs to an OpenTelemetry (OTLP/HTTP) endpoint, "
                       "or write them to Parquet",
        description="With --parquet OUT: write the runs of JSONL logs (files, directories of "
                    "*.jsonl* files, globs; plain, rotated or .gz) to a Parquet file, one row "
                    "per run, the columns of `chainsink query`'s runs view; with --events, "
                    "every record too, to OUT with -events before its suffix (runs.parquet -> "
                    "runs-events.parquet). cost is priced when read (the genai-prices table, "
                    "pip install 'chainsink[cost]', and --prices), NULL for a model with no "
                    "known price. Needs DuckDB: pip install 'chainsink[sql]'. "
                    "Otherwise (or with --otlp as well): send every run of JSONL logs (plain, "
                    "rotated, .gz, or - for stdin) as an "
                    "OpenTelemetry span to an OTLP/HTTP endpoint, with the log's ids and times: "
                    "trace id = the root run id, span id = the run id's low 64 bits, so "
                    "exporting a log twice sends the same ids. Runs the log never ends are "
                    "sent as unfinished (status ERROR, chainsink.unfinished=true). Secrets are "
                    "masked first, as the handlers do. Records whose run_id is not a UUID (or "
                    "is all zero) and repeated ends are skipped, with a warning.")
    add_files(p)
    p.add_argument("--parquet", metavar="OUT",
                   help="write the runs to this Parquet file (replaced if it exists)")
    add_prices(p)
    p.add_argument("--events", action="store_true",
                   help="with --parquet: write every record too, to OUT with -events before "
                        "its suffix")
    p.add_argument("--otlp", metavar="URL",
                   help="the collector's base URL, as OTEL_EXPORTER_OTLP_ENDPOINT "
                        "(/v1/traces is appended), e.g. http://localhost:4318; default: the "
                        "OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT environment variables")
    p.add_argument("--header", action="append", default=[], metavar="KEY=VALUE",
                   help="an HTTP header for every request (repeatable); default: "
                        "OTEL_EXPORTER_OTLP_[TRACES_]HEADERS")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="how long one request may take with its retries (default: "
                        "OTEL_EXPORTER_OTLP_TIMEOUT, else 10)")
    p.add_argument("--content", action="store_true",
                   help="send prompts, messages, inputs and outputs as attributes too (after "
                        "redaction; also OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="
                        "true)")
    p.add_argument("--openinference", action="store_true",
                   help="add OpenInference attributes, so Arize Phoenix renders runs natively")
    return p


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors the parser cannot see (exit 2)."""
    check_files(parser, args)
    if args.events and not args.parquet:
        parser.error("--events needs --parquet OUT")
    if args.parquet is not None:
        if STDIN in args.files:
            parser.error("--parquet reads files, not stdin (-): save the log to a file first")
        if not args.parquet or args.parquet == STDIN or os.path.isdir(args.parquet):
            parser.error("--parquet needs a file to write (not stdout or a directory)")
        check_prices(parser, args)
    headers = {}
    for item in args.header:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            parser.error(f"--header {item!r}: expected KEY=VALUE")
        headers[key.strip()] = value.strip()
    args.headers = headers
    if args.timeout is not None and not 0 < args.timeout <= MAX_TIMEOUT:  # NaN and inf too
        parser.error(f"--timeout must be a number of seconds in (0, {MAX_TIMEOUT}]")
    if args.otlp is not None:
        from chainsink.otel import url_problem

        problem = url_problem(args.otlp)
        if problem:
            parser.error(f"--otlp: {problem}")


def run(args: argparse.Namespace) -> int:
    """Run ``chainsink export``; return the exit code."""
    if args.parquet is not None:
        code = _parquet(args.files, args.parquet, events=args.events,
                        prices=getattr(args, "user_prices", None))
        if code != EXIT_OK or args.otlp is None:
            return code
    return _otlp(args)


def events_path(out: str) -> str:
    """Where ``--events`` writes the records: ``OUT`` with ``-events`` before its suffix
    (``runs.parquet`` -> ``runs-events.parquet``, ``runs`` -> ``runs-events``)."""
    head, tail = os.path.split(out)
    stem, suffix = os.path.splitext(tail)
    return os.path.join(head, f"{stem}-events{suffix}")


def _parquet(args: list[str], out: str, *, events: bool, prices: Prices | None = None) -> int:
    """Write the ``runs`` view (and with ``events`` the ``events`` view) to Parquet, each run
    priced (``cost``) with ``prices`` and the price table."""
    # DuckDB is imported here, not at the top: `chainsink --help` does not pay for it
    from chainsink.cli._duck import (
        NoDuckDB,
        bad_lines,
        connect,
        find_logs,
        require_duckdb,
    )
    from chainsink.cost import Pricer

    try:
        require_duckdb()
    except NoDuckDB as exc:
        say(str(exc))
        return EXIT_FAILED
    import duckdb

    files, problems = find_logs(args)
    for problem in problems:
        say(problem)
    if not files:
        return EXIT_FAILED
    cost = Pricer(prices)
    con = connect(files, cost=cost)
    try:
        usable = []
        counted = bad_lines(con)
        seen = {name for name, _, _ in counted}
        for name in files:
            if name not in seen:
                say(f"{name}: empty, no records")
        for name, good, bad in counted:
            if not good:
                say(f"{name}: no chainsink records" + (f" ({bad:,} bad lines)" if bad else ""))
                continue
            usable.append(name)
            if bad:
                say(f"{name}: {bad:,} lines skipped (not chainsink records)")
        if not usable:
            return EXIT_FAILED
        targets = [("runs", out, "start_time NULLS LAST, run_id")]
        if events:
            targets.append(("events", events_path(out), "ts NULLS LAST, run_id"))
        written = []
        for view, path, order in targets:
            count = _copy(con, f"SELECT * FROM {view} ORDER BY {order}", path)
            written.append(f"{count:,} {view} to {path}")
    except duckdb.Error as exc:
        say(f"export failed: {(str(exc).strip().splitlines() or [type(exc).__name__])[0]}")
        return EXIT_FAILED
    finally:
        con.close()
        cost_note(cost)
    say(f"wrote {' and '.join(written)} from {len(usable):,} file{'s' if len(usable) != 1 else ''}")
    return EXIT_OK


def _copy(con: object, select: str, path: str) -> int:
    """Write the rows of ``select`` to the Parquet file ``path`` (through a temporary file in
    the same directory, so a reader never sees half a file); the number of rows."""
    import duckdb

    assert isinstance(con, duckdb.DuckDBPyConnection)
    tmp = os.path.join(os.path.dirname(path) or ".",
                       f".{os.path.basename(path)}.{os.getpid()}.tmp")
    quoted = "'" + tmp.replace("'", "''") + "'"
    try:
        row = con.execute(f"COPY ({select}) TO {quoted} (FORMAT parquet, COMPRESSION zstd)"
                          ).fetchone()
        os.replace(tmp, path)
    except duckdb.IOException as exc:
        raise OutputError(f"{path}: cannot write "
                          f"({(str(exc).strip().splitlines() or ['?'])[0]})") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return int(row[0]) if row else 0


def _otlp(args: argparse.Namespace) -> int:
    """Replay the logs' runs to an OTLP/HTTP endpoint."""
    # the reading stack is imported here, not at the top: `chainsink --help` does not pay for it
    from chainsink.cli._inputs import KIND_PROBLEMS, LineReport, Progress, open_inputs, records

    try:
        from chainsink.otel import require_otel

        require_otel()
    except ImportError as exc:
        say(str(exc).split(" (")[0])
        return EXIT_FAILED
    from chainsink.otel import (
        ExportFailed,
        Replay,
        content_from_env,
        env_traces_endpoint,
        otlp_exporter,
        traces_endpoint,
    )

    exporter = otlp_exporter(args.otlp, headers=args.headers, timeout=args.timeout)
    where = traces_endpoint(args.otlp) if args.otlp else env_traces_endpoint()
    replay = Replay(exporter, capture_content=args.content or content_from_env(),
                    conventions=("gen_ai", "openinference") if args.openinference
                    else ("gen_ai",), warn=_Warnings())
    inputs = open_inputs(args.files)
    sizes = [i.size for i in inputs]
    progress = Progress("chainsink export", None if None in sizes else sum(s or 0 for s in sizes))
    usable: list[str] = []
    done = 0
    try:
        for inp in inputs:
            if inp.kind != "jsonl":
                say(f"{inp.name}: {KIND_PROBLEMS[inp.kind]}")
                continue
            report = LineReport(inp.name)
            for n, rec in enumerate(records(inp, report, progress, done), 1):
                replay.feed(rec, f"{inp.name}: record {n}")
            done += inp.size or 0
            if report.done():
                usable.append(inp.name)
        if not usable:
            return EXIT_FAILED
        replay.finish()
    except ExportFailed as exc:
        progress.close()
        say(f"export to {where} failed: {exc}")
        return EXIT_FAILED
    finally:
        progress.close()
        for inp in inputs:
            inp.close()
        replay.close()
    unfinished = (f" ({replay.unfinished:,} unfinished: the log has no end for them)"
                  if replay.unfinished else "")
    skipped = f", {replay.skipped:,} records skipped" if replay.skipped else ""
    say(f"sent {replay.sent:,} runs{unfinished}{skipped} from {', '.join(usable)} to {where}")
    return EXIT_OK


class _Warnings:
    """Says the first warnings, one line each; then only counts them (the summary says how
    many records were skipped)."""

    def __init__(self) -> None:
        from chainsink.read import REPORT_LIMIT

        self.left = REPORT_LIMIT

    def __call__(self, message: str) -> None:
        if self.left > 0:
            self.left -= 1
            say(message)
