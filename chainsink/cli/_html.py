"""``chainsink html``: logs turned into one self-contained HTML page."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from chainsink.cli._common import (
    STDIN,
    Subparsers,
    add_files,
    add_prices,
    check_files,
    check_prices,
)
from chainsink.report import ORDERS


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``html`` to the CLI's subcommands."""
    p = subparsers.add_parser(
        "html", help="write one self-contained HTML report of JSONL (or ANSI/text) logs",
        description="Write one self-contained HTML page (no network, opens from disk): a "
                    "summary of every trace, and the run tree of each trace picked for detail "
                    "(failed ones first, then the most recent; --max-traces). An ANSI or plain "
                    "text log is shown as it would look in a terminal.")
    add_files(p, "JSONL, ANSI or text log(s); - for stdin")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="where to write the page; - for stdout (default: the first input's "
                        "name with .html, in the current directory; stdout for stdin)")
    p.add_argument("--max-traces", type=int, default=200, metavar="N",
                   help="traces shown in full detail (default 200); the summary covers all")
    p.add_argument("--pick", choices=ORDERS, default="errors",
                   help="which traces get full detail: errors (failed first, then the most "
                        "recent; default), recent, or slowest")
    p.add_argument("--title", help="the report's name (default: the logs' names); the "
                                   "browser's title adds the time range the logs cover")
    add_prices(p)
    return p


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors the parser cannot see (exit 2)."""
    if args.max_traces < 0:
        parser.error("--max-traces must not be negative")
    check_files(parser, args)
    if args.output is None:
        first = args.files[0]
        args.output = STDIN if first == STDIN else Path(first).with_suffix(".html").name
        if first != STDIN and os.path.abspath(args.output) == os.path.abspath(first):
            parser.error(f"{first} ends in .html: name the report with -o")
    check_prices(parser, args)


def run(args: argparse.Namespace) -> int:
    """Run ``chainsink html``; return the exit code."""
    from chainsink.cli._page import write_report  # not at the top: --help does not need it

    return write_report(args.files, args.output, max_traces=args.max_traces, pick=args.pick,
                        title=args.title, prices=getattr(args, "user_prices", None))
