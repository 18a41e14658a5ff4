"""``chainsink export``: send the runs of JSONL logs to a tracing stack, over OTLP/HTTP."""

from __future__ import annotations

import argparse

from chainsink.cli._common import EXIT_NO_INPUT, EXIT_OK, Subparsers, add_files, check_files, say

#: Exit code when nothing usable was read or the endpoint refused the spans.
EXIT_FAILED = EXIT_NO_INPUT
#: The longest --timeout, in seconds.
MAX_TIMEOUT = 3600


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``export`` to the CLI's subcommands."""
    p = subparsers.add_parser(
        "export", help="send the runs of JSONL logs to an OpenTelemetry (OTLP/HTTP) endpoint",
        description="Send every run of JSONL logs (plain, rotated, .gz, or - for stdin) as an "
                    "OpenTelemetry span to an OTLP/HTTP endpoint, with the log's ids and times: "
                    "trace id = the root run id, span id = the run id's low 64 bits, so "
                    "exporting a log twice sends the same ids. Runs the log never ends are "
                    "sent as unfinished (status ERROR, chainsink.unfinished=true). Secrets are "
                    "masked first, as the handlers do. Records whose run_id is not a UUID (or "
                    "is all zero) and repeated ends are skipped, with a warning.")
    add_files(p)
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
