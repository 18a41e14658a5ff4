"""Where a chainsink handler spends its time: cProfile of one workload with one candidate.

    python bench/profile_handler.py                          # cs_file_jsonl on sync_stream
    python bench/profile_handler.py --candidate cs_stdout_detailed --runs 500
    python bench/profile_handler.py --save jsonl.prof        # for snakeviz / pstats

Prints the functions inside chainsink (and the callables they reach: orjson, datetime, uuid,
...) by cumulative and by own time, per event, plus what the whole handler costs per event.
cProfile slows Python functions more than C ones; use it to rank, and bench_handlers.py for
the real cost.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _workloads import make_workloads
from bench_handlers import candidates, configure_loggers, events_per_run

PACKAGE = os.sep + "chainsink" + os.sep


def _is_ours(key: tuple[str, int, str]) -> bool:
    filename = key[0]
    return PACKAGE in filename and os.sep + "bench" + os.sep not in filename


def _label(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if PACKAGE in filename:
        filename = "chainsink/" + filename.rsplit(PACKAGE, 1)[1]
    elif filename == "~":
        return name  # a C function
    else:
        filename = os.path.basename(filename)
    return f"{filename}:{line}({name})"


def report(stats: pstats.Stats, events: int, top: int) -> None:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    ours = {k: v for k, v in raw.items() if _is_ours(k)}
    # what chainsink code calls directly (C functions and other libraries), by own time
    reached: dict[Any, list[float]] = {}  # calls, own, cumulative
    for key, (_, _, _, _, callers) in raw.items():
        if _is_ours(key):
            continue
        from_us = {c: v for c, v in callers.items() if _is_ours(c)}
        if not from_us:
            continue
        reached[key] = [sum(v[0] for v in from_us.values()),
                        sum(v[2] for v in from_us.values()),
                        sum(v[3] for v in from_us.values())]

    total = stats.total_tt  # type: ignore[attr-defined]
    entry = [v for k, v in ours.items() if k[2] == "wrapper"]
    handler_ct = sum(v[3] for v in entry)
    print(f"profiled total {total:.3f} s; {events:,} events")
    if handler_ct:
        print(f"inside chainsink's callbacks (cumulative of _guarded.wrapper): {handler_ct:.3f} s"
              f" = {handler_ct / total:.0%} of the profile, {handler_ct * 1e6 / events:.1f} us "
              "per event (profiled)")

    def show(title: str, rows: list[tuple[str, int, float, float]]) -> None:
        print(f"\n{title}")
        print(f"{'calls':>9} {'own us/ev':>10} {'cum us/ev':>10}  function")
        for label, calls, tt, ct in rows[:top]:
            print(f"{calls:>9} {tt * 1e6 / events:>10.2f} {ct * 1e6 / events:>10.2f}  {label}")

    rows = [(_label(k), v[1], v[2], v[3]) for k, v in ours.items()]
    show("chainsink functions by cumulative time", sorted(rows, key=lambda r: -r[3]))
    show("chainsink functions by own time", sorted(rows, key=lambda r: -r[2]))
    called = [(_label(k), int(v[0]), v[1], v[2]) for k, v in reached.items()]
    show("called from chainsink (other code, by time spent on chainsink's behalf)",
         sorted(called, key=lambda r: -r[3]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--candidate", default="cs_file_jsonl")
    p.add_argument("--workload", default="sync_stream")
    p.add_argument("--runs", type=int, default=300)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--save", metavar="PATH", help="write the raw profile (pstats format)")
    args = p.parse_args(argv)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    work = make_workloads(loop)[args.workload]
    cand = {c.name: c for c in candidates()}[args.candidate]
    devnull = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    configure_loggers(devnull)
    real_stdout, sys.stdout = sys.stdout, devnull
    with tempfile.TemporaryDirectory() as tmp:
        manager = cand.open(Path(tmp))
        callbacks = manager.__enter__()
        for _ in range(20):
            work.run(callbacks)
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.runs):
            work.run(callbacks)
        manager.__exit__(None, None, None)
        profile.disable()
    sys.stdout = real_stdout
    events = events_per_run(work) * args.runs
    print(f"{args.candidate} on {args.workload}, {args.runs} runs")
    stats = pstats.Stats(profile)
    if args.save:
        stats.dump_stats(args.save)
    report(stats, events, args.top)
    devnull.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
