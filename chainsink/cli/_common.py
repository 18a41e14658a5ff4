"""What every subcommand shares: exit codes, errors, messages, and the common arguments.

A subcommand module (``_tail.py``, ``_html.py``, ...) is a :class:`Command`; it imports from
here and from the shared readers and writers (``_inputs.py``, ``_output.py``, ``_page.py``),
never from another subcommand.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Protocol, TypeAlias

if TYPE_CHECKING:
    from chainsink.cost import Pricer

#: Everything worked (a log with some bad lines still counts, with a warning per line).
EXIT_OK = 0
#: Nothing usable was read (missing, empty, binary or non-JSONL input), or the output failed.
EXIT_NO_INPUT = 1
#: The command line was wrong.
EXIT_USAGE = 2
#: Interrupted with Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130

#: The file name that means stdin (for an input) or stdout (for ``-o``).
STDIN = "-"

#: What ``ArgumentParser.add_subparsers`` returns (argparse names its class privately).
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"  # noqa: SLF001


class Command(Protocol):
    """A subcommand: a module of ``chainsink.cli`` with these three functions.

    ``chainsink/cli/_main.py`` lists the commands; it calls :meth:`add_parser` to build the
    command line, then :meth:`check` and :meth:`run` on the parsed arguments.
    """

    def add_parser(self, subparsers: Subparsers) -> argparse.ArgumentParser:
        """Add the subcommand's parser (``subparsers.add_parser(NAME, ...)``) and return it."""

    def check(self, parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
        """Refuse what the parser cannot see with ``parser.error(...)`` (exit 2); may add
        derived values to ``args``."""

    def run(self, args: argparse.Namespace) -> int:
        """Do the work; return the exit code. Raise :class:`InputError` or
        :class:`OutputError` for a problem worth one line (exit 1)."""


class InputError(Exception):
    """An input that cannot be used; the message starts with its name."""


class OutputError(Exception):
    """The output could not be written; the message starts with the path."""


def say(message: str) -> None:
    """Print ``chainsink: <message>`` as one line on stderr."""
    try:
        sys.stderr.write(f"chainsink: {message}".replace("\n", " ") + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr is gone: nothing left to tell
        pass


def add_files(parser: argparse.ArgumentParser,
              what: str = "JSONL log(s); - for stdin") -> None:
    """Add the ``FILE ...`` inputs every reading command takes."""
    parser.add_argument("files", nargs="+", metavar="FILE", help=what)


def check_files(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse stdin named twice among the inputs (exit 2)."""
    if args.files.count(STDIN) > 1:
        parser.error("stdin (-) can be read only once")


def add_prices(parser: argparse.ArgumentParser) -> None:
    """Add ``--prices FILE`` to a command that shows cost (``stats``, ``html``, ``serve``,
    ``query``, ``export --parquet``); :func:`check_prices` reads it."""
    parser.add_argument("--prices", metavar="FILE",
                        help="your own prices (TOML or JSON, USD per million tokens per model), "
                             "tried before the genai-prices table; default: $CHAINSINK_PRICES")


def check_prices(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Read ``--prices`` (or ``$CHAINSINK_PRICES``) into ``args.user_prices``; bad prices are a
    usage error (exit 2)."""
    from chainsink.cost import load_prices

    try:
        args.user_prices = load_prices(args.prices)
    except ValueError as exc:
        parser.error(f"prices: {exc}")


def cost_note(pricer: Pricer) -> None:
    """Say once (stderr) how to get cost, when a call could not be priced for want of the
    price table."""
    from chainsink.cost import INSTALL_HINT

    if pricer.missing_table:
        say(f"cost: {INSTALL_HINT} to see what calls cost")
