"""``chainsink serve``: JSONL logs in a local browser, live, as the HTML report shows them."""

from __future__ import annotations

import argparse
import threading

from chainsink.cli._common import (
    EXIT_NO_INPUT,
    STDIN,
    OutputError,
    Subparsers,
    add_prices,
    check_prices,
    say,
)

#: The port served on unless told otherwise.
DEFAULT_PORT = 8765


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``serve`` to the CLI's subcommands."""
    p = subparsers.add_parser(
        "serve", help="watch JSONL logs live in a local browser (the HTML report's page)",
        description="Serve a live view of JSONL logs on this machine: the HTML report's page, "
                    "whose trace list and open trace follow the logs as they grow (across "
                    "rotation and truncation, as tail -F does); a trace's runs are read when "
                    "it is opened. A directory stands for its *.jsonl* files, and new ones "
                    "are followed as they appear. The summary cards are as of page load. "
                    "Ctrl-C to stop.")
    p.add_argument("files", nargs="+", metavar="FILE|DIR",
                   help="JSONL log(s): plain, rotated (app.jsonl.1) or compressed (.gz), or "
                        "directories of them")
    p.add_argument("--host", default="127.0.0.1",
                   help="the address to listen on (default 127.0.0.1: this machine only; "
                        "another address shows the logs to whoever can reach it)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"the port (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--open", action="store_true", help="open the page in a web browser")
    p.add_argument("--max-traces", type=int, default=5000, metavar="N",
                   help="traces listed (default 5000): the oldest beyond are forgotten; the "
                        "summary counts them all")
    p.add_argument("--title", default="live", help="the page title")
    add_prices(p)
    return p


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors the parser cannot see (exit 2)."""
    if STDIN in args.files:
        parser.error("serve reads files it can read again, not stdin (-)")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be from 0 to 65535")
    if args.max_traces < 1:
        parser.error("--max-traces must be at least 1")
    if not args.host.strip():
        parser.error("--host must not be empty")
    check_prices(parser, args)


def run(args: argparse.Namespace) -> int:
    """Run ``chainsink serve`` until Ctrl-C (which ends it with exit code 130)."""
    from chainsink.cli._http import LiveServer, loopback
    from chainsink.cli._live import LiveIndex

    index = LiveIndex(args.files, max_traces=args.max_traces,
                      prices=getattr(args, "user_prices", None))
    if not index.open():
        return EXIT_NO_INPUT
    try:
        server = LiveServer(args.host, args.port, index, title=args.title)
    except OSError as exc:
        index.stop()
        raise OutputError(f"{args.host}:{args.port}: cannot listen ({exc.strerror or exc})"
                          ) from None
    try:
        index.start()
        if not loopback(server.host):
            say(f"WARNING: listening on {server.host}, not a loopback address: anyone who can "
                "reach this machine on port "
                f"{server.server_port} can read these logs (inputs, outputs, prompts)")
        say(f"serving {', '.join(index.sources)} at {server.url} (Ctrl-C to stop)")
        if args.open:
            import webbrowser

            threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
        server.serve_forever(poll_interval=0.5)
    finally:
        index.stop()
        server.server_close()
    return EXIT_NO_INPUT  # not reached: serving ends with Ctrl-C
