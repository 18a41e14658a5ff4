"""``chainsink demo``: a realistic LangChain workload on fake models, shown, logged and reported.

The workload (``_workloads.py``, imported only when the demo runs): a ReAct-style agent calling
real tools, a RAG chain over a retriever, a streaming chat chain, a step that fails, custom
progress events, and concurrent async requests.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import IO

from chainsink.cli._common import OutputError, Subparsers

DEFAULT_DIR = "chainsink-demo"


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``demo`` to the CLI's subcommands."""
    p = subparsers.add_parser(
        "demo", help="run a demo workload on fake models; write its JSONL log and HTML report",
        description="Run a realistic LangChain workload on langchain-core's fake models (a "
                    "ReAct agent with tools, a RAG chain, a streaming chat, a failing step, "
                    "custom progress events, concurrent async requests), print the detailed "
                    "console, and write the JSONL log and the HTML report.")
    p.add_argument("--out", metavar="DIR",
                   help=f"where to write demo.jsonl and report.html (default: ./{DEFAULT_DIR}, "
                        "created if needed)")
    return p


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Nothing to check beyond the parser."""


def run(args: argparse.Namespace) -> int:
    """Run ``chainsink demo``; return the exit code."""
    out = Path(args.out) if args.out else Path(DEFAULT_DIR)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the directory ({exc.strerror or exc})") from None
    log, report = out / "demo.jsonl", out / "report.html"

    from chainsink import FileCallbackHandler, StdOutCallbackHandler
    from chainsink.cli._page import write_report
    from chainsink.cli._workloads import run_demo

    started = time.perf_counter()
    console = StdOutCallbackHandler(style="detailed")
    stdout = _Stdout(sys.stdout)
    with FileCallbackHandler(log, mode="w", format="jsonl") as file_handler, \
            contextlib.redirect_stdout(stdout):
        run_demo([console, file_handler], stop=stdout.check)
    code = write_report([str(log)], str(report), title="demo", announce=False)
    took = time.perf_counter() - started
    where = (f"{out}/ was created in the current directory" if created and not args.out
             else f"in {out}/")
    print(f"\nchainsink demo: done in {took:.1f} s ({where})\n"
          f"  JSONL log    {log}\n"
          f"  HTML report  {report}   (open it in a browser)\n\n"
          f"Next, try:\n"
          f"  chainsink tail {log}\n"
          f"  chainsink stats {log}\n"
          f"  chainsink html {log} -o report.html")
    sys.stdout.flush()
    return code


class _Stdout:
    """stdout for the demo's console: a reader that went away (``| head``) stops the demo
    quietly at the next step, instead of the console handler reporting a broken pipe."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                self.stream.write(text)
            except BrokenPipeError:
                self.broken = True
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self.broken = True

    def isatty(self) -> bool:
        return self.stream.isatty()

    def check(self) -> None:
        self.flush()
        if self.broken:
            raise BrokenPipeError
