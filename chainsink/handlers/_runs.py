"""The run tree a handler has seen: which runs are open, their trace, depth and token totals.

Pure bookkeeping, no I/O and no events: :class:`RunTracker` answers "which run is this, under
which root, how deep, since when", and hands runs it has to close on LangChain's behalf to the
``close`` callable it was given (the adapter writes their error records).
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Callable
from typing import Any
from uuid import UUID

from chainsink._schema import TOKEN_KEYS

_clock = time.perf_counter

#: Runs still open when their trace's root ended are tracked until they end; past this many,
#: the oldest is closed as aborted (and its own late end dropped) so memory stays bounded.
MAX_OUTLIVING = 10_000
#: Ids of runs closed early remembered at most (their late ends are dropped).
_MAX_CLOSED_EARLY = 10_000
_ERROR_KIND = {"llm": "llm_error", "tool": "tool_error", "retriever": "retriever_error"}


def error_kind(run_type: str) -> str:
    """The error event kind of a run of ``run_type`` (``chain_error`` for chains and the rest)."""
    return _ERROR_KIND.get(run_type, "chain_error")


class Run:
    """What a handler remembers about an open run, so ends can name their run."""

    __slots__ = ("depth", "metadata", "model", "name", "parent_run_id", "run_type", "started",
                 "tags", "token_path", "trace_id")

    def __init__(self, parent_run_id: UUID | None, trace_id: UUID, depth: int, name: str,
                 run_type: str, tags: list[str], metadata: dict[str, Any],
                 model: str | None = None) -> None:
        self.parent_run_id = parent_run_id
        self.trace_id = trace_id
        self.depth = depth
        self.name = name
        self.run_type = run_type
        self.tags = tags
        self.metadata = metadata
        self.model = model
        self.started = _clock()
        #: How the handler writes the run's streamed tokens without building events
        #: (a :class:`~chainsink.handlers._pipeline.TokenPath`); None until the first token.
        self.token_path: Any = None


#: ``close(run_id, run, data)``: record the end of an open run the tracker gave up on.
Close = Callable[[UUID, Run, dict[str, Any]], None]


class RunTracker:
    """The open runs of one handler, grouped by trace.

    Args:
        close: Called for each run the tracker closes on LangChain's behalf (its trace was
            stopped, or too many runs outlived their roots), with the error record's fields.
            A bound method is held weakly, so a handler owning its tracker is freed as soon
            as it is unused.
    """

    def __init__(self, close: Close, max_outliving: int = MAX_OUTLIVING) -> None:
        self._close: Callable[[], Close | None] = (
            weakref.WeakMethod(close) if hasattr(close, "__self__") else lambda: close)
        self.max_outliving = max_outliving
        self.runs: dict[UUID, Run] = {}
        #: each open trace's runs below its root, in start order
        self.trace_runs: dict[UUID, list[UUID]] = {}
        #: each open trace's token totals by model
        self.trace_usage: dict[UUID, dict[str, dict[str, int]]] = {}
        self.closed_early: dict[UUID, None] = {}
        #: runs still open when their trace's root ended, oldest first (see _end_trace)
        self.outliving: dict[UUID, None] = {}
        #: the process whose runs these are (a forked child disowns them, see disown)
        self.pid = os.getpid()

    def start(self, run_id: UUID, parent_run_id: UUID | None, name: str, run_type: str,
              tags: list[str] | None, metadata: dict[str, Any] | None,
              model: str | None = None) -> Run:
        """Open a run under its parent (a new trace if the parent is unknown)."""
        parent = self.runs.get(parent_run_id) if parent_run_id is not None else None
        if parent is None:
            run = Run(parent_run_id, run_id, 0, name, run_type, tags or [], metadata or {},
                      model)
            self.trace_runs[run_id] = []
        else:
            run = Run(parent_run_id, parent.trace_id, parent.depth + 1, name, run_type,
                      tags or [], metadata or {}, model)
            if run_id in self.trace_runs:  # the id once started a trace of its own
                del self.trace_runs[run_id]
            siblings = self.trace_runs.get(parent.trace_id)
            if siblings is not None:
                siblings.append(run_id)
            else:  # started under a run that outlived its trace's root: tracked with it
                self.runs[run_id] = run
                self._outlive(run_id)
                return run
        self.runs[run_id] = run
        return run

    def open_run(self, run_id: UUID, parent_run_id: UUID | None,
                 run_type: str = "chain") -> Run:
        """The run an in-flight event belongs to (a stand-in if its start was never seen)."""
        run = self.runs.get(run_id)
        if run is None:
            parent = self.runs.get(parent_run_id) if parent_run_id is not None else None
            if parent is not None:
                return Run(parent_run_id, parent.trace_id, parent.depth + 1, "<unknown>",
                           run_type, [], {})
            return Run(parent_run_id, run_id, 0, "<unknown>", run_type, [], {})
        return run

    def finish(self, run_id: UUID, parent_run_id: UUID | None, run_type: str,
               stop: dict[str, Any] | None = None) -> tuple[Run, float | None]:
        """Forget an ending run; return it (a stand-in if never started) and its duration.

        ``stop`` is the run's error data when it was interrupted.
        """
        run = self.runs.pop(run_id, None)
        if run is None:  # an end without a start: record it, with what we can know
            return self.open_run(run_id, parent_run_id, run_type), None
        if run.trace_id == run_id:
            self._end_trace(run_id, stop)
        elif self.outliving:
            self.outliving.pop(run_id, None)
        return run, round((_clock() - run.started) * 1000.0, 3)

    def late(self, run_id: UUID) -> bool:
        """Whether this end belongs to a run the tracker already closed (see _close_early)."""
        return (run_id not in self.runs and bool(self.closed_early)
                and self.closed_early.pop(run_id, False) is None)

    def count_usage(self, run: Run, usage: dict[str, int] | None, model: str | None) -> None:
        """Add a model run's token usage to its trace's totals (while its root is open)."""
        if not usage or run.trace_id not in self.trace_runs:  # none, or its root has ended
            return
        totals = self.trace_usage.setdefault(run.trace_id, {})
        entry = totals.setdefault(model or "<unknown>", {**dict.fromkeys(TOKEN_KEYS, 0),
                                                         "calls": 0})
        for key in TOKEN_KEYS:
            entry[key] += usage[key]
        entry["calls"] += 1

    def deepest_first(self) -> list[tuple[UUID, Run]]:
        """The open runs, children before their parents."""
        return sorted(list(self.runs.items()), key=lambda item: -item[1].depth)

    def disown(self) -> None:
        """Forget the open runs (at ``fork()``: in the child they are the parent's to end);
        an end still seen for one of them is dropped, like a late one."""
        self.pid = os.getpid()
        for run_id in self.runs:
            self.closed_early[run_id] = None
        self.runs.clear()
        self.trace_runs.clear()
        self.trace_usage.clear()
        self.outliving.clear()

    def _end_trace(self, root_id: UUID, stop: dict[str, Any] | None) -> None:
        """The root ended: forget the trace, but not its runs that are still open.

        A run can outlive its root: an async branch still running when its parallel root
        failed, a model whose stream is closed after the chain reading it ended. Such runs
        stay tracked, in the trace, until their own end comes (or the handler aborts them),
        so a run that succeeds is recorded as succeeding. When the root itself was stopped
        (cancelled, interrupted, its stream closed), its open runs were stopped with it
        (LangChain never closes a cancelled tool): they are closed now, flagged the same way,
        and their own late ends are dropped.
        """
        self.trace_usage.pop(root_id, None)
        for child in reversed(self.trace_runs.pop(root_id, ())):
            left = self.runs.get(child)
            if left is None:
                continue
            if stop is None:
                self._outlive(child)
                continue
            del self.runs[child]
            error = stop.get("error") or {}
            self._close_early(child, left, {
                "error": {"type": error.get("type"),
                          "message": f"its trace was stopped ({stop.get('interrupt')}) "
                                     "before it ended"},
                "interrupted": True, "interrupt": stop.get("interrupt")})

    def _outlive(self, run_id: UUID) -> None:
        """Track an open run whose trace's root has ended; past the cap, abort the oldest."""
        outliving = self.outliving
        outliving[run_id] = None
        if len(outliving) > self.max_outliving:
            oldest = next(iter(outliving), run_id)
            outliving.pop(oldest, None)  # another thread may have ended it meanwhile
            left = self.runs.pop(oldest, None)
            if left is not None:
                self._close_early(oldest, left, {
                    "error": {"type": "Aborted",
                              "message": f"more than {self.max_outliving} runs outlived "
                                         "their trace; chainsink stopped waiting for this one"},
                    "aborted": True})

    def drop_later_end(self, run_id: UUID) -> None:
        """Chainsink closed this run on LangChain's behalf: its own end, if it comes, is late
        (see :meth:`late`) and dropped."""
        if len(self.closed_early) >= _MAX_CLOSED_EARLY:
            self.closed_early.clear()
        self.closed_early[run_id] = None

    def _close_early(self, run_id: UUID, run: Run, data: dict[str, Any]) -> None:
        """Close an open run on LangChain's behalf; its own end, if it comes, is dropped."""
        self.drop_later_end(run_id)
        data["duration_ms"] = round((_clock() - run.started) * 1000.0, 3)
        close = self._close()
        if close is not None:
            close(run_id, run, data)
