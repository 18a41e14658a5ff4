"""``chainsink stats``: traces, runs, errors, latency by name, tokens by model, slowest traces."""

from __future__ import annotations

import argparse
import re
import sys
from typing import TYPE_CHECKING

from chainsink.cli._common import (
    EXIT_NO_INPUT,
    EXIT_OK,
    Subparsers,
    add_files,
    check_files,
    say,
)

if TYPE_CHECKING:
    from chainsink.report import LogSummary

_NAME_WIDTH = 40
_C1 = re.compile("[\x7f-\x9f]")


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``stats`` to the CLI's subcommands."""
    p = subparsers.add_parser(
        "stats", help="summarise JSONL logs: traces, errors, latency, tokens",
        description="Summarise JSONL logs: traces, runs and errors; latency p50/p95/max by run "
                    "name; tokens by model and in total; the slowest traces. Percentiles are "
                    "exact up to 1,024 runs of a name, estimated from a uniform sample beyond.")
    add_files(p)
    p.add_argument("--top", type=int, default=10, metavar="N",
                   help="how many slowest traces to list (default 10)")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    return p


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors the parser cannot see (exit 2)."""
    if args.top < 0:
        parser.error("--top must not be negative")
    check_files(parser, args)


def run(args: argparse.Namespace) -> int:
    """Run ``chainsink stats``; return the exit code."""
    # the reading stack is imported here, not at the top: `chainsink --help` does not pay for it
    import orjson

    from chainsink.cli._inputs import KIND_PROBLEMS, LineReport, Progress, open_inputs, records
    from chainsink.formatters import inert
    from chainsink.report import LogSummary

    inputs = open_inputs(args.files)
    summary = LogSummary(max_traces=0, slowest=args.top)
    sizes = [i.size for i in inputs]
    progress = Progress("chainsink stats", None if None in sizes else sum(s or 0 for s in sizes))
    usable, done = [], 0
    try:
        for inp in inputs:
            if inp.kind != "jsonl":
                say(f"{inp.name}: {KIND_PROBLEMS[inp.kind]}")
                continue
            report = LineReport(inp.name)
            for rec in records(inp, report, progress, done):
                summary.add(rec)
            done += inp.size or 0
            if report.done():
                usable.append(inp.name)
    finally:
        progress.close()
        for inp in inputs:
            inp.close()
    if not usable:
        return EXIT_NO_INPUT
    summary.finish()
    if args.json:
        data = summary.to_dict()
        data["files"] = usable
        text = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
        # orjson escapes C0 controls; DEL and C1 (a lone CSI, OSC, ST) are escaped here, so
        # JSON on a terminal cannot control it either
        sys.stdout.write(_C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")
    else:
        # names, models and files are log content: shown as text, never terminal control
        sys.stdout.write(inert(render(summary, usable)))
    sys.stdout.flush()
    return EXIT_OK


def _cut(name: str, width: int = _NAME_WIDTH) -> str:
    name = name.replace("\n", " ")
    return name if len(name) <= width else name[: width - 1] + "\u2026"


def render(s: LogSummary, files: list[str]) -> str:
    """The stats as text for a terminal."""
    from chainsink.report import format_ms, short_id

    out = [f"{', '.join(files)}: {s.records:,} records"]
    if s.first_ts:
        out.append(f"from {s.first_ts} to {s.last_ts}")
    extra = [f"{s.failed_traces:,} failed"]
    if s.interrupted_traces:
        extra.append(f"{s.interrupted_traces:,} interrupted")
    if s.incomplete_traces:
        extra.append(f"{s.incomplete_traces:,} incomplete")
    out += ["",
            f"traces  {s.traces:>10,}   ({', '.join(extra)})",
            f"runs    {s.runs:>10,}",
            f"errors  {s.errors:>10,}   (runs that failed)",
            *([f"stopped {s.interrupted:>10,}   (runs interrupted, cancelled or handed off:"
               " not failures)"] if s.interrupted else []),
            ""]
    rows = s.latency_rows()
    width = max([len("latency by run name")] + [len(_cut(n)) for n, _ in rows])
    out.append(f"{'latency by run name':<{width}}  {'runs':>8}  {'errors':>6}  {'p50':>10}"
               f"  {'p95':>10}  {'max':>10}")
    for name, lat in rows:
        out.append(f"{_cut(name):<{width}}  {lat.count:>8,}  {lat.errors:>6,}"
                   f"  {format_ms(lat.percentile(50)):>10}  {format_ms(lat.percentile(95)):>10}"
                   f"  {format_ms(lat.max if lat.count else None):>10}")
    out.append("")
    models = sorted(s.tokens_by_model.items(), key=lambda kv: (-kv[1].total_tokens, kv[0]))
    width = max([len("tokens by model")] + [len(_cut(m)) for m, _ in models])
    out.append(f"{'tokens by model':<{width}}  {'calls':>8}  {'input':>12}  {'output':>12}"
               f"  {'total':>12}")
    for model, tok in [*models, ("total", s.tokens)]:
        out.append(f"{_cut(model):<{width}}  {tok.calls:>8,}  {tok.input_tokens:>12,}"
                   f"  {tok.output_tokens:>12,}  {tok.total_tokens:>12,}")
    slowest = s.slowest()
    if slowest:
        out += ["", "slowest traces"]
        for t in slowest:
            out.append(f"  {format_ms(t.duration_ms):>10}  {short_id(t.trace_id)}  "
                       f"{_cut(t.name)}  ({t.runs:,} runs, {t.status}, started {t.start})")
    return "\n".join(out) + "\n"
