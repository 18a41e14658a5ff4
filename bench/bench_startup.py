"""Start-up: what ``chainsink --help`` costs next to ``python -c pass``, measured in one run.

Each command runs as a fresh process, ``--runs`` times (default 20), in rounds: every round
runs each command once, in a shuffled order, so a load spike on a shared machine hits every
command alike. For each command: the best and the median wall time, the median CPU time (user +
sys, ``getrusage(RUSAGE_CHILDREN)``), and the ratio to ``python -c pass`` (medians; bests in
brackets). Also measured: ``python -c "import chainsink"``, ``chainsink stats`` on a small log
of real runs (written first by chainsink's own ``FileCallbackHandler``), and, for scale,
``python -c "import langchain_core.callbacks"`` (what the reading side no longer pays), and how
many ``langchain_core`` modules ``chainsink --help`` loads (issue 16: none).

The target (issue 17, "Start-up"): ``chainsink --help`` within 3x of ``python -c pass``,
judged on the medians.

Usage:
    python bench/bench_startup.py                 # 20 runs of each command
    python bench/bench_startup.py --runs 50 --json startup.json

Exits 0 whatever the target says; non-zero only if the benchmark itself failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _env import REPO, versions

PY = sys.executable
#: Issue 17's start-up target: ``chainsink --help`` at most this many times ``python -c pass``.
HELP_TARGET = 3.0
BASELINE = "python -c pass"
HELP = "chainsink --help"

_COUNT_LANGCHAIN = (
    "import contextlib, io, sys\n"
    "from chainsink.cli import main\n"
    "with contextlib.redirect_stdout(io.StringIO()):\n"
    "    main(['--help'])\n"
    "print(sum(m.split('.')[0] == 'langchain_core' for m in sys.modules))\n")


def child_env() -> dict[str, str]:
    """This environment with this checkout first on the path, and chainsink's start-up hook
    (``CHAINSINK_LOG``/``CHAINSINK_OTLP``) and colour settings off: the same for every
    command, ``python -c pass`` included."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("CHAINSINK_LOG", "CHAINSINK_OTLP", "CHAINSINK_DEBUG", "FORCE_COLOR")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO, env.get("PYTHONPATH")]))
    return env


def chainsink_command() -> tuple[list[str], str]:
    """The installed ``chainsink`` script next to this interpreter (it imports this checkout,
    first on ``PYTHONPATH``), or ``python -m chainsink`` when there is none."""
    script = shutil.which("chainsink", path=os.path.dirname(PY))
    if script:
        return [script], script
    return [PY, "-m", "chainsink"], f"{PY} -m chainsink (no chainsink script next to {PY})"


def write_small_log(path: Path) -> int:
    """Record a few real runs (streamed chain x5, ReAct agent x5) as JSONL; the event count."""
    from _workloads import make_workloads

    import chainsink

    loop = asyncio.new_event_loop()
    try:
        work = make_workloads(loop)
        with chainsink.FileCallbackHandler(str(path), format="jsonl") as handler:
            for _ in range(5):
                work["sync_stream"].run([handler])
                work["agent"].run([handler])
    finally:
        loop.close()
    with path.open("rb") as log:
        return sum(1 for _ in log)


def measure(commands: dict[str, list[str]], runs: int, cwd: str,
            env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Run every command ``runs`` times in shuffled rounds; wall and CPU seconds per run."""
    results: dict[str, dict[str, Any]] = {name: {"wall_s": [], "cpu_s": [], "rc": set()}
                                          for name in commands}
    order = list(commands)
    for _ in range(runs):
        random.shuffle(order)
        for name in order:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            rc = subprocess.call(commands[name], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            results[name]["wall_s"].append(wall)
            results[name]["cpu_s"].append(after.ru_utime - before.ru_utime
                                          + after.ru_stime - before.ru_stime)
            results[name]["rc"].add(rc)
    for result in results.values():
        result["rc"] = sorted(result["rc"])
    return results


def summarize(wall_s: list[float], cpu_s: list[float]) -> dict[str, float]:
    """Best and median wall time, median CPU time."""
    return {"best_s": min(wall_s), "median_s": statistics.median(wall_s),
            "cpu_median_s": statistics.median(cpu_s)}


def ratios(stats: dict[str, dict[str, float]], baseline: str = BASELINE
           ) -> dict[str, dict[str, float]]:
    """Each command's median and best wall time as a multiple of the baseline's."""
    base = stats[baseline]
    return {name: {"median": s["median_s"] / base["median_s"],
                   "best": s["best_s"] / base["best_s"]} for name, s in stats.items()}


def verdict(stats: dict[str, dict[str, float]], target: float = HELP_TARGET,
            exits: list[int] | None = None) -> tuple[bool | None, str]:
    """Issue 17's start-up target on the medians: ``(passed, the line to print)``; not judged
    (None) when ``chainsink --help`` did not exit 0 (``exits``: its exit codes)."""
    if exits is not None and exits != [0]:
        return None, (f"[----] {HELP} within {target:g}x of {BASELINE}: not judged, "
                      f"{HELP} exited {','.join(map(str, exits))}")
    help_s, base_s = stats[HELP]["median_s"], stats[BASELINE]["median_s"]
    ratio = help_s / base_s
    best = stats[HELP]["best_s"] / stats[BASELINE]["best_s"]
    passed = ratio <= target
    sign = "<=" if passed else ">"
    return passed, (f"[{'PASS' if passed else 'FAIL'}] {HELP} within {target:g}x of {BASELINE}: "
                    f"median {help_s * 1000:.0f} ms / {base_s * 1000:.0f} ms = {ratio:.2f}x "
                    f"{sign} {target:g}x (best-of-runs ratio {best:.2f}x)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each command (default 20)")
    parser.add_argument("--json", metavar="PATH", help="save every number here")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    started = time.perf_counter()
    env = child_env()
    cli, cli_desc = chainsink_command()
    with tempfile.TemporaryDirectory(prefix="chainsink-startup-") as tmp:
        log = Path(tmp) / "small.jsonl"
        events = write_small_log(log)
        commands = {
            BASELINE: [PY, "-c", "pass"],
            'python -c "import chainsink"': [PY, "-c", "import chainsink"],
            HELP: [*cli, "--help"],
            "chainsink stats small.jsonl": [*cli, "stats", str(log)],
            'python -c "import langchain_core.callbacks"':
                [PY, "-c", "import langchain_core.callbacks"],
        }
        counted = subprocess.run([PY, "-c", _COUNT_LANGCHAIN], cwd=tmp, env=env,
                                 capture_output=True, text=True, check=False)
        count = counted.stdout.strip() if counted.returncode == 0 else \
            f"unknown ({(counted.stderr.strip().splitlines() or ['no output'])[-1]})"
        for command in commands.values():  # warm the page cache and the .pyc files, untimed
            subprocess.call(command, cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
        raw = measure(commands, args.runs, tmp, env)
        log_bytes = log.stat().st_size

    stats = {name: summarize(r["wall_s"], r["cpu_s"]) for name, r in raw.items()}
    times = ratios(stats)
    passed, line = verdict(stats, exits=raw[HELP]["rc"])
    # the commands run with this checkout first on PYTHONPATH: name its package
    found = versions("langchain-core", package_dir=os.path.join(REPO, "chainsink"))

    print(f"chainsink start-up benchmark — {datetime.now(UTC).isoformat(timespec='seconds')}  "
          f"runs={args.runs}  elapsed={time.perf_counter() - started:.0f}s")
    print(f"python {found['python']} on {found['platform']}, {found['cpus']} CPUs; "
          f"langchain-core {found['langchain-core']}")
    print(f"chainsink source: {found['chainsink_source']}; chainsink = {cli_desc}")
    print(f"small log: {events} events, {log_bytes / 1024:.0f} KiB (5 streamed chains, "
          "5 ReAct agent runs)")
    print(f"langchain_core modules loaded by chainsink --help: {count}")
    print()
    print(f"one fresh process per run, {args.runs} runs each in shuffled rounds; "
          "wall ms best / median, CPU ms median; ratio to python -c pass: median [best]")
    width = max(map(len, commands))
    print(f"{'command':<{width}}  {'best':>7}  {'median':>7}  {'CPU':>7}  "
          f"{'ratio':>6}  {'[best]':>7}  exit")
    for name in commands:
        s, r = stats[name], times[name]
        print(f"{name:<{width}}  {s['best_s'] * 1000:7.1f}  {s['median_s'] * 1000:7.1f}  "
              f"{s['cpu_median_s'] * 1000:7.1f}  {r['median']:5.2f}x  [{r['best']:5.2f}x]  "
              f"{','.join(map(str, raw[name]['rc']))}")
    print()
    print("TARGETS")
    print(f"  {line}")
    bad = [name for name in commands if raw[name]["rc"] != [0]]
    if bad:
        print(f"  note: non-zero exit from {', '.join(bad)}: those timings are not of a "
              "working command")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"versions": found, "runs": args.runs, "chainsink": cli_desc,
                       "log_events": events, "log_bytes": log_bytes,
                       "help_langchain_modules": count, "raw": raw, "stats": stats,
                       "ratios": times, "target": HELP_TARGET, "passed": passed}, out, indent=1)
        print(f"numbers saved to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
