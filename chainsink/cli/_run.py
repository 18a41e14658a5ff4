"""``chainsink run``: record every LangChain run of a command that never imports chainsink."""

from __future__ import annotations

import argparse
import os
import site
from typing import Any

from chainsink.cli._inputs import say

#: The command could not be started (as shells report it).
EXIT_NOT_FOUND = 127


def add_parser(commands: Any) -> None:
    """Register ``run`` on the CLI's subcommand parsers."""
    p = commands.add_parser(
        "run", help="run a command with every LangChain run in it recorded to a JSONL log",
        description="Run COMMAND with CHAINSINK_LOG set, so every LangChain run of every Python "
                    "process it starts is recorded to the log, with no code change. The command "
                    "replaces this process: its exit code is the exit code. A command that "
                    "cannot be started exits 127.")
    p.add_argument("--log", default="chainsink.jsonl", metavar="PATH",
                   help="the JSONL log to append to (default: ./chainsink.jsonl)")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND ...",
                   help="the command and its arguments, after --")
    p.set_defaults(run=run, check=check, parser=p)


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors the parser cannot see (exit 2)."""
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.command:
        parser.error("give the command to run after --, e.g. chainsink run -- python app.py")


def hook_installed() -> bool:
    """Whether the ``chainsink-startup.pth`` start-up hook is in a site-packages directory."""
    dirs = [*site.getsitepackages(), site.getusersitepackages()]
    return any(os.path.exists(os.path.join(d, "chainsink-startup.pth")) for d in dirs)


def run(args: argparse.Namespace) -> int:
    """Replace this process with the command, ``CHAINSINK_LOG`` set; return only on failure."""
    log = os.path.abspath(args.log)
    if not hook_installed():
        say("the CHAINSINK_LOG start-up hook is not installed (an editable install?); "
            "reinstall with `pip install chainsink` for `run` to record anything")
    env = {**os.environ, "CHAINSINK_LOG": log}
    try:
        os.execvpe(args.command[0], args.command, env)
    except OSError as exc:
        say(f"cannot run {args.command[0]!r}: {exc.strerror or exc}")
        return EXIT_NOT_FOUND
    return 0  # pragma: no cover - execvpe does not return
