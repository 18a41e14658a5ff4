"""Run the reliability suite and print its figures as the README's markdown table.

    python tests/reliability/summary.py [extra pytest args]

The figures are counted by the tests themselves (``chaos.count``): inputs tried (hypothesis
examples and explicit cases, per handler or command), faults injected, records checked against
what chainsink accepted, and records lost. Losses inside tests marked xfail (known bugs, each
pinned by a test) are shown apart and are not part of the suite's "records lost".
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMMAND = "python -m pytest -q tests/reliability"


def main(argv: list[str]) -> int:
    """Run the suite, then print the table; exit with pytest's status."""
    with tempfile.TemporaryDirectory() as tmp:
        figures_path = Path(tmp) / "figures.json"
        env = {**os.environ, "CHAINSINK_FIGURES": str(figures_path)}
        start = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               str(HERE), *argv], cwd=HERE.parent.parent, env=env,
                              capture_output=True, text=True, check=False)
        wall = time.monotonic() - start
        if not figures_path.exists():
            sys.stdout.write(proc.stdout[-3000:] + proc.stderr[-3000:])
            return proc.returncode or 1
        figures = json.loads(figures_path.read_text())
    outcome = next((line for line in reversed(proc.stdout.splitlines())
                    if re.search(r"\d+ (passed|failed)", line)), "").strip("= ")
    rows = ["| group | inputs tried | faults injected | records checked | records lost |",
            "|---|---:|---:|---:|---:|"]
    total = dict.fromkeys(("inputs", "faults", "records", "lost", "lost_known_bugs"), 0)
    for group, row in figures.items():
        rows.append(f"| {group} | {row['inputs']:,} | {row['faults']:,} | {row['records']:,} "
                    f"| **{row['lost']}** |")
        for key in total:
            total[key] += row[key]
    rows.append(f"| **all** | **{total['inputs']:,}** | **{total['faults']:,}** | "
                f"**{total['records']:,}** | **{total['lost']}** |")
    print("\n".join(rows))
    print()
    print(f"`{COMMAND}`: {outcome}, {wall:.0f} s wall on {os.cpu_count()} cores. "
          f"Records lost inside the xfail tests that pin known bugs: "
          f"{total['lost_known_bugs']:,}.")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
