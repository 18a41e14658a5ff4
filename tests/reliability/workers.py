"""Work for child processes (fork, spawn, forkserver): importable by name, so spawn can use it.

Each worker runs real chains into chainsink from several threads and asyncio tasks at once, with
a reference handler beside it that keeps what chainsink accepted in memory. The worker writes
those accepted records' keys to its own file when it is done; it never closes the chainsink
handler, so what reaches the shared log relies on chainsink's own exit flush.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from typing import Any

import workloads

from chainsink import CallbackHandler, FileCallbackHandler, RotatingFileCallbackHandler
from chainsink.formatters import JsonlFormatter
from chainsink.sinks import _file

#: Handlers kept alive until the process exits, as a module-level handler would be.
KEEP: list[Any] = []


def no_background_flush() -> None:
    """Stop the flusher thread's periodic writes in this process.

    What is queued then reaches the file only through chainsink's flush at exit (or fork), so
    a test sees whether that flush happens, not whether the flusher thread got lucky first.
    """
    _file.FLUSH_INTERVAL = 3600.0


def make_handler(path: str, rotating: dict[str, int] | None) -> Any:
    if rotating:
        return RotatingFileCallbackHandler(path, **rotating)
    return FileCallbackHandler(path, format="jsonl")


def wait_for_gate(ref_path: str, gate: str | None) -> None:
    """Say this child is ready (``<ref_path>.ready``), then wait until ``gate`` exists.

    Children started by different methods (spawn takes a second or two to import) then all
    write at the same moment, which is when lines could interleave.
    """
    if gate is None:
        return
    with open(ref_path + ".ready", "w", encoding="utf-8"):
        pass
    deadline = time.monotonic() + 120
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.005)


def write_traces(path: str, ref_path: str, *, threads: int = 2, per_thread: int = 3,
                 tasks: int = 6, rotating: dict[str, int] | None = None,
                 handler: Any = None, quiet_flusher: bool = True,
                 gate: str | None = None) -> None:
    """Run ``threads`` x ``per_thread`` invokes and ``tasks`` astreams into one handler.

    Args:
        path: The shared log.
        ref_path: Where this worker writes the ``(run_id, event)`` keys it saw accepted.
        rotating: RotatingFileCallbackHandler options (else a JSONL FileCallbackHandler).
        handler: A handler inherited from the parent (fork only) instead of a new one.
        quiet_flusher: See :func:`no_background_flush`.
        gate: See :func:`wait_for_gate`.
    """
    if quiet_flusher:
        no_background_flush()
    if handler is None:
        handler = make_handler(path, rotating)
    wait_for_gate(ref_path, gate)
    KEEP.append(handler)
    accepted: list[str] = []
    reference = CallbackHandler(accepted.append, JsonlFormatter(), processors=())

    def in_thread() -> None:
        for _ in range(per_thread):
            workloads.invoke_lcel([handler, reference])

    pool = [threading.Thread(target=in_thread) for _ in range(threads)]
    for t in pool:
        t.start()
    asyncio.run(workloads.astream_lcel_concurrent([handler, reference], n=tasks))
    for t in pool:
        t.join()
    keys = [[rec["run_id"], rec["event"]] for rec in map(json.loads, accepted)]
    fd = os.open(ref_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, json.dumps(keys).encode())
    finally:
        os.close(fd)
    # no close(): the exit flush must deliver what is still queued


def read_refs(paths: list[str]) -> list[tuple[str, str]]:
    """Every key the workers saw accepted."""
    keys: list[tuple[str, str]] = []
    for name in paths:
        with open(name, encoding="utf-8") as f:
            keys.extend((run_id, event) for run_id, event in json.load(f))
    return keys
