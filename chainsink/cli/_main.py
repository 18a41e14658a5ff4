"""The ``chainsink`` command line: the list of subcommands, dispatch, and the exit-code contract."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from chainsink.cli import _demo, _export, _html, _query, _run, _serve, _stats, _tail
from chainsink.cli._common import (
    EXIT_INTERRUPTED,
    EXIT_NO_INPUT,
    EXIT_OK,
    EXIT_USAGE,
    Command,
    InputError,
    OutputError,
    say,
)

#: The subcommands, in the order ``chainsink --help`` lists them.
COMMANDS: tuple[Command, ...] = (_tail, _html, _serve, _stats, _query, _export, _demo, _run)

_EPILOG = """\
exit codes:
  0    ok (bad lines inside a log are skipped with a warning each)
  1    nothing usable was read (missing, empty, binary or non-JSONL input), or the output
       could not be written
  2    usage error
  127  `chainsink run`: the command could not be started (otherwise its own exit code)
  130  interrupted (Ctrl-C)
output closed early (e.g. piped to head) ends quietly with 0.
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``chainsink`` argument parser, with one subcommand per job."""
    parser = argparse.ArgumentParser(
        prog="chainsink", description="Read chainsink JSONL logs back: follow them, summarise "
        "them, turn them into an HTML report; or run a demo.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    from chainsink import __version__

    parser.add_argument("--version", action="version", version=f"chainsink {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub = command.add_parser(commands)
        sub.epilog, sub.formatter_class = _EPILOG, argparse.RawDescriptionHelpFormatter
        sub.set_defaults(command_=command, parser_=sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``chainsink`` command with ``argv`` (``sys.argv[1:]`` by default).

    Returns:
        The exit code: :data:`EXIT_OK`, :data:`EXIT_NO_INPUT`, :data:`EXIT_USAGE` or
        :data:`EXIT_INTERRUPTED`.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        command: Command = args.command_
        command.check(args.parser_, args)
    except SystemExit as exc:  # argparse: --help, --version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return command.run(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_OK
    except (InputError, OutputError) as exc:
        say(str(exc))
        return EXIT_NO_INPUT
    except Exception as exc:
        if os.environ.get("CHAINSINK_DEBUG"):
            raise
        say(f"internal error: {type(exc).__name__}: {exc} (CHAINSINK_DEBUG=1 shows where)")
        return EXIT_NO_INPUT


def _quiet_stdout() -> None:
    """The reader of stdout went away: send what Python still wants to flush to /dev/null."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
