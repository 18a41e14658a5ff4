"""Start-up hook for ``CHAINSINK_LOG``: imported by ``chainsink-startup.pth`` only when set.

The ``.pth`` line costs one environment lookup when the variable is unset, so every Python
process pays almost nothing; when it is set, every LangChain run of the process is recorded
to that path, without the program importing chainsink.
"""

from __future__ import annotations

import os
import sys


def start() -> None:
    """Begin recording the process to ``$CHAINSINK_LOG``; report (never raise) on failure."""
    path = os.environ.get("CHAINSINK_LOG")
    if not path:
        return
    try:
        from chainsink._capture import capture_process

        capture_process(path)
    except Exception as exc:  # noqa: BLE001 - a broken hook must not break every program
        print(f"chainsink: CHAINSINK_LOG={path!r} not recorded: {type(exc).__name__}: {exc}",
              file=sys.stderr)


start()
