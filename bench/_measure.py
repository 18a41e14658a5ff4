"""Run one command as this process's only child and report what it cost, as one JSON line.

    python bench/_measure.py STDOUT_PATH -- COMMAND [ARGS...]

The command's stdout goes to STDOUT_PATH (``-`` for /dev/null), its stderr to a temporary
file whose last 2,000 characters are reported. Because this wrapper is a fresh process with one
child, ``getrusage(RUSAGE_CHILDREN)`` is exactly that command's: its peak RSS (``ru_maxrss``)
and its CPU time.

Prints ``{"rc", "wall_s", "user_s", "sys_s", "maxrss_mb", "stderr"}``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    target, command = argv[0], argv[2:]
    with open(os.devnull if target == "-" else target, "wb") as out, \
            tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        rc = subprocess.call(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        wall = time.perf_counter() - start
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")[-2000:]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    per_mb = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    print(json.dumps({"rc": rc, "wall_s": wall, "user_s": usage.ru_utime,
                      "sys_s": usage.ru_stime, "maxrss_mb": usage.ru_maxrss / per_mb,
                      "stderr": stderr}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
