"""The ``chainsink`` command: read JSONL logs back, and run a demo.

``chainsink tail`` shows a log as the console would have (``-f`` follows it),
``chainsink html`` writes one self-contained HTML report, ``chainsink stats`` summarises,
``chainsink export`` sends a log's runs to an OpenTelemetry endpoint, ``chainsink demo`` runs
a workload on fake models and writes its log and report, ``chainsink run`` records a program
that never imports chainsink.

Exit codes: :data:`EXIT_OK` (0), :data:`EXIT_NO_INPUT` (1: nothing usable was read, or the
output could not be written), :data:`EXIT_USAGE` (2), :data:`EXIT_INTERRUPTED` (130, Ctrl-C).

Where things are:

- ``_main.py``: :func:`main`, the list of subcommands (``COMMANDS``) and the errors every
  subcommand may end with;
- one module per subcommand (``_tail.py``, ``_html.py``, ``_stats.py``, ``_export.py``,
  ``_demo.py``, ``_run.py``), which never imports another subcommand;
- what they share: ``_common.py`` (exit codes, :class:`~chainsink.cli._common.InputError` and
  ``OutputError``, ``say()`` for a line on stderr, the ``FILE ...`` argument),
  ``_inputs.py`` (opening and reading logs as the CLI promises), ``_output.py`` (writing
  ``-o PATH``), ``_page.py`` (the HTML report of logs), ``_workloads.py`` (the demo's
  LangChain workloads, imported only when the demo runs).

Adding a subcommand (say ``chainsink grep``):

1. Write ``chainsink/cli/_grep.py`` with three functions (the
   :class:`~chainsink.cli._common.Command` protocol): ``add_parser(subparsers)`` adds
   ``subparsers.add_parser("grep", help=..., description=...)`` with its arguments and
   returns it (``add_files(parser)`` adds the ``FILE ...`` inputs); ``check(parser, args)``
   refuses what argparse cannot see with ``parser.error(...)`` (``check_files`` refuses stdin
   named twice); ``run(args)`` does the work and returns an exit code. Read logs with
   ``_inputs`` (``open_inputs``, ``records``, ``LineReport``), write with ``_output``, say
   problems with ``say``; raise ``InputError``/``OutputError`` for a problem that ends the
   command (one line on stderr, exit 1). Ctrl-C, a closed pipe and unexpected errors are
   handled by ``main``.
2. Register it in ``chainsink/cli/_main.py``: import ``_grep`` and add it to ``COMMANDS`` (the
   order of ``chainsink --help``).
3. Test it under ``tests/cli/`` (``tests/cli/_support.py`` runs the CLI in a process or in
   this one).

Keep the reading commands free of LangChain: import ``langchain_core`` (or anything that
does, such as ``chainsink.handlers``) only inside ``run``, as ``_demo.py`` does.
"""

from __future__ import annotations

from chainsink.cli._common import EXIT_INTERRUPTED, EXIT_NO_INPUT, EXIT_OK, EXIT_USAGE
from chainsink.cli._main import main

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_NO_INPUT",
    "EXIT_OK",
    "EXIT_USAGE",
    "main",
]
