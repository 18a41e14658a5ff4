"""Reading at scale: ``chainsink query``, ``stats`` (both engines), ``html`` and ``tail`` on large
logs, against reading the same files with Python's ``json`` module in the same run.

1. Generates a log set as ``bench_reading.py`` does (a few hundred real runs recorded through
   ``FileCallbackHandler``, replicated with fresh ids and later times), in two sizes: a small
   one (50 MB; 5 MB with ``--quick``) and a large one (``--size``, default 1 GB; 50 MB with
   ``--quick``), each split like a rotating log (files of 64 MB, every other rotated one
   gzipped, as ``RotatingFileCallbackHandler`` plus logrotate leave them).
2. Runs each command in a fresh child (``bench/_measure.py``: wall time, CPU time, peak RSS):
   ``chainsink query`` (tokens and cost per model over the ``runs`` view), ``chainsink stats``
   with ``CHAINSINK_STATS_ENGINE=duckdb`` and ``=python``, ``chainsink html`` (the page written
   to a file next to the logs), ``chainsink tail`` (not following, its default style,
   ``detailed``, to /dev/null, so without colour: what ``chainsink tail logs/* > file`` costs),
   and the baseline: a loop of ``json.loads`` over the lines of the same files (``gzip.open``
   for the ``.gz`` ones).
3. Prints a table (MB/s of input, peak RSS) and each command's ratio to the baseline, then the
   TARGETS verdicts (issue 17's reading row): ``stats`` as a user with DuckDB installed gets it
   for the large set (the engine ``auto`` picks: DuckDB from 64 MiB) has its memory flat as the
   input grows (the large set within 1.5x of the 50 MB one, same engine) and reads at least
   100 MB/s; and ``html``, ``tail`` and ``query`` each have their memory flat the same way.

Usage:
    python bench/bench_query.py --quick           # 5 MB and 50 MB, about a minute
    python bench/bench_query.py                   # 50 MB and 1 GB, about 5 minutes
    python bench/bench_query.py --size 300MB --keep /tmp/qlogs --json query.json

Exits 0 whatever the targets say; non-zero only if the benchmark itself crashed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _env import child_package_dir, versions

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable
CLI = [PY, "-m", "chainsink"]

#: The targets (issue 17, reading row).
STATS_MB_S = 100.0
FLAT_FACTOR = 1.5
#: The small set the large one is compared with.
SMALL_BYTES = 50 * 1000 * 1000
QUICK_SMALL_BYTES = 5 * 1000 * 1000
QUICK_LARGE_BYTES = 50 * 1000 * 1000
#: Files of a set are cut at this size, like a rotating log's.
FILE_BYTES = 64 * 1000 * 1000

#: The SQL ``chainsink query`` runs: tokens and cost per model over every run.
QUERY_SQL = ("select model, count(*) as runs, sum(total_tokens) as tokens, sum(cost) as cost, "
             "count(*) filter (where cost is null and model is not null) as unpriced "
             "from runs group by 1 order by 2 desc")

#: The baseline: every line of the files through ``json.loads`` (gzip read as it is).
BASELINE = """
import gzip, json, sys
n = 0
for path in sys.argv[1:]:
    opener = gzip.open if open(path, "rb").read(2) == b"\\x1f\\x8b" else open
    with opener(path, "rb") as f:
        for line in f:
            if line.strip():
                try:
                    json.loads(line)
                except ValueError:
                    continue
                n += 1
print(n)
"""

COMMANDS = ("json.loads", "query", "stats duckdb", "stats python", "html", "tail")
#: The commands whose memory is judged flat by command name (``stats`` is judged as used: the
#: engine ``auto`` picks for the large set, see :func:`stats_as_used`).
FLAT_COMMANDS = ("html", "tail", "query")
#: ``chainsink tail``'s style here: its default (said in the output).
TAIL_STYLE = "detailed"


def parse_size(text: str) -> int:
    """``1GB``, ``300MB``, ``50M``, ``2e9`` -> bytes (decimal units)."""
    units = {"": 1, "B": 1, "K": 10**3, "KB": 10**3, "M": 10**6, "MB": 10**6, "G": 10**9,
             "GB": 10**9}
    raw = text.strip().upper()
    digits = raw.rstrip("KMGB")
    unit = raw[len(digits):]
    if unit not in units:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    try:
        return int(float(digits) * units[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}") from None


# --------------------------------------------------------------------------------------------
# Generating logs
# --------------------------------------------------------------------------------------------


def generate(root: Path, sizes: dict[str, int], rng: random.Random) -> dict[str, list[Path]]:
    """Record the seed runs and replicate them to each size; split each log into rotated
    files, every other rotated one gzipped. ``{label: files}``."""
    from bench_reading import count_lines, record_seed, replicate

    seed = record_seed(root)["jsonl"]
    per_event = seed.stat().st_size / max(count_lines(seed), 1)
    whole = {label: root / f"{label}.jsonl" for label in sizes}
    replicate(seed, {int(size / per_event): whole[label] for label, size in sizes.items()}, rng)
    return {label: split(path, root / label) for label, path in whole.items()}


def split(path: Path, into: Path) -> list[Path]:
    """Cut ``path`` at line ends into files of :data:`FILE_BYTES` named like a rotating log's
    (``app.jsonl.N`` oldest, ..., ``app.jsonl`` newest); gzip every other rotated one."""
    into.mkdir(parents=True, exist_ok=True)
    parts: list[list[bytes]] = [[]]
    size = 0
    with open(path, "rb") as f:
        for line in f:
            if size + len(line) > FILE_BYTES and parts[-1]:
                parts.append([])
                size = 0
            parts[-1].append(line)
            size += len(line)
    path.unlink()
    files = []
    for i, lines in enumerate(parts):
        rotation = len(parts) - 1 - i
        name = into / ("app.jsonl" if rotation == 0 else f"app.jsonl.{rotation}")
        if rotation and rotation % 2 == 0:
            name = name.with_name(name.name + ".gz")
            with gzip.open(name, "wb", compresslevel=6) as out:
                out.writelines(lines)
        else:
            name.write_bytes(b"".join(lines))
        files.append(name)
    return files


def uncompressed_bytes(files: Sequence[Path]) -> int:
    """The bytes of log the files hold (a ``.gz`` counted unpacked)."""
    total = 0
    for path in files:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    total += len(chunk)
        else:
            total += path.stat().st_size
    return total


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


def command_line(name: str, files: Sequence[Path], page: Path | None = None
                 ) -> tuple[list[str], dict[str, str]]:
    """The command and its extra environment for one of :data:`COMMANDS` (``page``: where
    ``html`` writes; its stdout, like every command's, goes to /dev/null)."""
    paths = [str(p) for p in files]
    if name == "json.loads":
        return [PY, "-c", BASELINE, *paths], {}
    if name == "query":
        return [*CLI, "query", QUERY_SQL, *paths, "--format", "csv"], {}
    if name == "html":
        if page is None:
            raise ValueError("html needs the page's path")
        return [*CLI, "html", *paths, "-o", str(page)], {}
    if name == "tail":  # the default style (TAIL_STYLE); no colour: stdout is not a terminal
        return [*CLI, "tail", *paths], {}
    engine = name.rsplit(maxsplit=1)[-1]
    return [*CLI, "stats", "--json", *paths], {"CHAINSINK_STATS_ENGINE": engine}


def measure(command: list[str], env: dict[str, str], repeat: int) -> dict[str, Any]:
    """The median-wall run of ``command`` in a fresh measured child."""
    import subprocess

    found = []
    for _ in range(repeat):
        done = subprocess.run([PY, os.path.join(HERE, "_measure.py"), "-", "--", *command],
                              capture_output=True, text=True, check=False,
                              env={**os.environ, **env})
        if done.returncode != 0 or not done.stdout.strip():
            raise RuntimeError(f"the measuring wrapper failed: {done.stderr[-1000:]}")
        found.append(json.loads(done.stdout.strip().splitlines()[-1]))
    found.sort(key=lambda r: r["wall_s"])
    result: dict[str, Any] = found[len(found) // 2]
    return result


# --------------------------------------------------------------------------------------------
# The arithmetic (tested in tests/test_bench_query.py)
# --------------------------------------------------------------------------------------------


def throughput(row: dict[str, Any]) -> float:
    """MB/s of (uncompressed) input over wall time; 0 for a failed run."""
    if row.get("rc") != 0 or row["wall_s"] <= 0:
        return 0.0
    return float(row["input_bytes"]) / 1e6 / float(row["wall_s"])


def ratios(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str], float]:
    """``{(set, command): throughput / json.loads throughput on the same set}``."""
    base = {r["set"]: throughput(r) for r in rows if r["command"] == "json.loads"}
    return {(r["set"], r["command"]): (throughput(r) / base[r["set"]]
                                       if base.get(r["set"]) else 0.0) for r in rows}


def stats_as_used(rows: Sequence[dict[str, Any]], label: str, auto_bytes: int
                  ) -> dict[str, Any] | None:
    """The ``stats`` row a user gets on set ``label`` with DuckDB installed: the engine the
    ``auto`` choice takes for its size on disk."""
    by = {(r["set"], r["command"]): r for r in rows}
    small = next((r for r in rows if r["set"] == label), None)
    if small is None:
        return None
    engine = "duckdb" if small["disk_bytes"] >= auto_bytes else "python"
    return by.get((label, f"stats {engine}"))


def flat_memory(lo: dict[str, Any] | None, hi: dict[str, Any] | None, *,
                flat: float = FLAT_FACTOR) -> tuple[bool, str, float | None]:
    """Whether the run ``hi`` (a command on the large set) peaked at most ``flat`` times the
    memory of ``lo`` (the same command on the small set): ``(pass, detail, ratio)``. A failed
    or missing run fails (ratio None when one is missing)."""
    if lo is None or hi is None:
        return False, "not measured", None
    ratio = hi["maxrss_mb"] / max(lo["maxrss_mb"], 1e-9)
    ok = lo["rc"] == 0 and hi["rc"] == 0 and hi["maxrss_mb"] <= flat * lo["maxrss_mb"]
    detail = (f"{hi['command']}: {lo['maxrss_mb']:.0f} MB on "
              f"{lo['input_bytes'] / 1e6:,.0f} MB, {hi['maxrss_mb']:.0f} MB on "
              f"{hi['input_bytes'] / 1e6:,.0f} MB = {ratio:.2f}x")
    failed = [f"exit {r['rc']} on the {r['set']} set" for r in (lo, hi) if r["rc"] != 0]
    if failed:
        detail += f" ({', '.join(failed)})"
    return ok, detail, ratio


def flat_verdict(rows: Sequence[dict[str, Any]], command: str, *, small: str, large: str,
                 flat: float = FLAT_FACTOR) -> dict[str, Any]:
    """The "memory flat" verdict of ``command`` (a name of :data:`COMMANDS`): its peak memory
    on the ``large`` set at most ``flat`` times its peak on the ``small`` one."""
    by = {(r["set"], r["command"]): r for r in rows}
    ok, detail, ratio = flat_memory(by.get((small, command)), by.get((large, command)),
                                    flat=flat)
    return {"target": f"chainsink {command} memory flat as the input grows (at most {flat}x)",
            "pass": ok, "detail": detail, "command": command, "ratio": ratio}


def verdicts(rows: Sequence[dict[str, Any]], *, small: str, large: str, auto_bytes: int,
             mb_s: float = STATS_MB_S, flat: float = FLAT_FACTOR,
             flat_commands: Sequence[str] = FLAT_COMMANDS) -> list[dict[str, Any]]:
    """Issue 17's reading row as ``{"target", "pass", "detail", "command", ...}`` verdicts, in
    this order (the first two as they always were):

    - ``stats`` memory flat, as a user with DuckDB installed gets it for the ``large`` set (the
      engine ``auto`` picks): that engine's peak memory on the ``large`` set is at most
      ``flat`` times its peak on the ``small`` one (the same code path, a bigger input);
    - ``stats`` speed: it reads the ``large`` set at ``mb_s`` MB/s or more;
    - then, for each of ``flat_commands`` (html, tail, query), its memory flat the same way.

    A failed or missing run fails its target."""
    hi = stats_as_used(rows, large, auto_bytes)
    lo = None
    if hi is not None:
        lo = next((r for r in rows if r["set"] == small and r["command"] == hi["command"]),
                  None)
    memory_ok, detail, ratio = flat_memory(lo, hi, flat=flat)
    speed_ok = hi is not None and hi["rc"] == 0 and throughput(hi) >= mb_s
    return [
        {"target": f"chainsink stats memory flat as the input grows (at most {flat}x)",
         "pass": memory_ok, "detail": detail,
         "command": hi["command"] if hi is not None else "stats", "ratio": ratio},
        {"target": f"chainsink stats at least {mb_s:.0f} MB/s with DuckDB installed",
         "pass": speed_ok,
         "detail": "not measured" if hi is None else
         f"{throughput(hi):.1f} MB/s on {hi['input_bytes'] / 1e6:,.0f} MB "
         f"({hi['command']}, exit {hi['rc']})",
         "command": hi["command"] if hi is not None else "stats",
         "mb_s": throughput(hi) if hi is not None else None},
        *(flat_verdict(rows, c, small=small, large=large, flat=flat) for c in flat_commands),
    ]


def html_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """What each ``html`` run wrote: the page's size and what it said it covers."""
    found = []
    for r in rows:
        if r["command"] != "html" or "output_bytes" not in r:
            continue
        said = [line for line in str(r.get("stderr", "")).splitlines() if "wrote " in line]
        what = said[-1].split(": ", 2)[-1] if said else ""
        found.append(f"html on {r['set']}: {r['output_bytes'] / 1e6:.1f} MB page"
                     + (f" ({what})" if what else ""))
    return found


def verdict_lines(found: Sequence[dict[str, Any]]) -> list[str]:
    """``[PASS] target: detail`` lines, as bench_reading prints them."""
    return [f"  [{'PASS' if g['pass'] else 'FAIL'}] {g['target']}: {g['detail']}"
            for g in found]


def table(rows: Sequence[dict[str, Any]]) -> str:
    """The results as an aligned text table."""
    rel = ratios(rows)
    head = ["set", "command", "input MB", "wall s", "CPU s", "MB/s", "vs json.loads",
            "peak RSS MB", "exit"]
    body = [[r["set"], r["command"], f"{r['input_bytes'] / 1e6:,.0f}", f"{r['wall_s']:.2f}",
             f"{r['user_s'] + r['sys_s']:.2f}", f"{throughput(r):.1f}",
             f"{rel[(r['set'], r['command'])]:.2f}x", f"{r['maxrss_mb']:.0f}", str(r["rc"])]
            for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.rjust(w) if i >= 2 else c.ljust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True)))
              for row in body]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=parse_size, default=None,
                   help="the large set's size (default 1GB; 50MB with --quick)")
    p.add_argument("--quick", action="store_true", help="5 MB and 50 MB sets, one run each")
    p.add_argument("--repeat", type=int, default=None, help="runs per command (median)")
    p.add_argument("--keep", metavar="DIR", help="generate (and keep) the logs here")
    p.add_argument("--json", metavar="FILE", help="save the numbers as JSON")
    p.add_argument("--seed", type=int, default=17)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from chainsink.cli._stats_duck import AUTO_BYTES

    args = parse_args(argv)
    repeat = args.repeat or 1
    sizes = {"small": QUICK_SMALL_BYTES if args.quick else SMALL_BYTES,
             "large": args.size or (QUICK_LARGE_BYTES if args.quick else 10**9)}
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="chainsink-query-"))
    root.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    try:
        t = time.perf_counter()
        sets = generate(root, sizes, random.Random(args.seed))
        print(f"generated {', '.join(f'{k} {v / 1e6:,.0f} MB' for k, v in sizes.items())} in "
              f"{time.perf_counter() - t:.0f} s", file=sys.stderr)
        for label, files in sets.items():
            size = uncompressed_bytes(files)
            disk = sum(p.stat().st_size for p in files)
            page = root / f"report-{label}.html"
            for name in COMMANDS:
                print(f"{name} on {label} ({size / 1e6:,.0f} MB) ...", file=sys.stderr)
                command, env = command_line(name, files, page)
                r = measure(command, env, repeat)
                r.update(set=label, command=name, input_bytes=size, disk_bytes=disk,
                         files=len(files))
                if name == "html" and r["rc"] == 0 and page.exists():
                    r["output_bytes"] = page.stat().st_size
                    page.unlink()
                rows.append(r)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    v = versions("chainsink", "duckdb", "orjson", package_dir=child_package_dir())
    print("chainsink query/stats/html/tail benchmark — "
          f"{datetime.now(UTC).isoformat(timespec='seconds')}"
          f"  elapsed {time.monotonic() - started:.0f}s")
    print(f"python {v['python']} on {v['platform']}, {v['cpus']} CPUs; chainsink "
          f"{v['chainsink']}, duckdb {v['duckdb']}; stats engine auto = DuckDB from "
          f"{AUTO_BYTES / 2**20:.0f} MiB on disk")
    print("inputs: real runs replicated, split into 64 MB rotated files, every other one "
          "gzipped; MB = uncompressed input; one fresh process per command (median of "
          f"{repeat}); stdout to /dev/null, html's page to a file\n")
    print(table(rows))
    print(f"\nquery: {QUERY_SQL}")
    print(f"tail: not following, default style ({TAIL_STYLE}), no colour (stdout not a terminal)")
    for line in html_lines(rows):
        print(line)
    found = verdicts(rows, small="small", large="large", auto_bytes=AUTO_BYTES)
    print("\nTARGETS")
    for line in verdict_lines(found):
        print(line)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"rows": rows, "targets": found, "versions": v}, f, indent=1)
        print(f"numbers saved to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
