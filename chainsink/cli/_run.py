"""``chainsink run``: record every LangChain run of a command that never imports chainsink."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import site
import stat

from chainsink.cli._common import EXIT_NO_INPUT, Subparsers, say

#: The command could not be started (as shells report it).
EXIT_NOT_FOUND = 127
#: The log could not be written: nothing was run.
EXIT_NO_LOG = EXIT_NO_INPUT


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``run`` to the CLI's subcommands."""
    p = subparsers.add_parser(
        "run", help="run a command with every LangChain run in it recorded to a JSONL log",
        description="Run COMMAND with CHAINSINK_LOG set, so every LangChain run of every Python "
                    "process it starts is recorded to the log, with no code change. The command "
                    "replaces this process: its exit code is the exit code. A command that "
                    "cannot be started exits 127; a log that cannot be written exits 1 before "
                    "anything runs.")
    p.add_argument("--log", default=None, metavar="PATH",
                   help="the JSONL log to append to (default: ./chainsink.jsonl, unless only "
                        "--otlp is given)")
    p.add_argument("--otlp", metavar="URL",
                   help="also send every run as OpenTelemetry spans to this OTLP/HTTP base URL "
                        "(sets CHAINSINK_OTLP; needs chainsink[otel])")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND ...",
                   help="the command and its arguments, after --")
    return p


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors the parser cannot see (exit 2)."""
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.command:
        parser.error("give the command to run after --, e.g. chainsink run -- python app.py")
    if args.otlp is not None:
        from chainsink.otel import url_problem

        problem = url_problem(args.otlp)
        if problem:
            parser.error(f"--otlp: {problem}")


def hook_installed() -> bool:
    """Whether the ``chainsink-startup.pth`` start-up hook is in a site-packages directory."""
    dirs = [*site.getsitepackages(), site.getusersitepackages()]
    return any(os.path.exists(os.path.join(d, "chainsink-startup.pth")) for d in dirs)


def log_problem(path: str) -> str | None:
    """Why the log at ``path`` cannot be appended to, or None when it can.

    The file is opened for appending as the recording processes will open it; a file this
    check creates is removed again, so a command that records nothing leaves no empty log.
    """
    with contextlib.suppress(OSError):
        if stat.S_ISFIFO(os.stat(path).st_mode):  # opening one could wait for a reader
            return None if os.access(path, os.W_OK) else os.strerror(errno.EACCES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        created = True
    except FileExistsError:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            return exc.strerror or str(exc)
        created = False
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    if created:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return None


def run(args: argparse.Namespace) -> int:
    """Replace this process with the command, ``CHAINSINK_LOG`` set; return only on failure."""
    log = os.path.abspath(args.log or "chainsink.jsonl")
    problem = log_problem(log) if args.log or not args.otlp else None
    if problem is not None:
        say(f"cannot write the log {args.log or log}: {problem}; nothing was run")
        return EXIT_NO_LOG
    if not hook_installed():
        say("the CHAINSINK_LOG start-up hook is not installed (an editable install?); "
            "reinstall with `pip install chainsink` for `run` to record anything")
    env = dict(os.environ)
    if args.log or not args.otlp:  # --otlp alone: spans only, no log
        env["CHAINSINK_LOG"] = log
    if args.otlp:
        env["CHAINSINK_OTLP"] = args.otlp
    try:
        os.execvpe(args.command[0], args.command, env)
    except OSError as exc:
        say(f"cannot run {args.command[0]!r}: {exc.strerror or exc}")
        return EXIT_NOT_FOUND
    return 0  # pragma: no cover - execvpe does not return
