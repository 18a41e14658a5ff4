"""The ``chainsink`` command: read JSONL logs back, and run a demo.

``chainsink tail`` shows a log as the console would have (``-f`` follows it),
``chainsink html`` writes one self-contained HTML report, ``chainsink stats`` summarises,
``chainsink demo`` runs a workload on fake models and writes its log and report.

Exit codes: :data:`EXIT_OK` (0), :data:`EXIT_NO_INPUT` (1: nothing usable was read, or the
output could not be written), :data:`EXIT_USAGE` (2), :data:`EXIT_INTERRUPTED` (130, Ctrl-C).
"""

from __future__ import annotations

from chainsink.cli._main import EXIT_INTERRUPTED, EXIT_NO_INPUT, EXIT_OK, EXIT_USAGE, main

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_NO_INPUT",
    "EXIT_OK",
    "EXIT_USAGE",
    "main",
]
