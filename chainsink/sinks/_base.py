"""The sink interface."""

from __future__ import annotations

import abc
import asyncio
import atexit
import collections
import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from chainsink._stderr import Reporter


class Sink(abc.ABC):
    """What a handler writes to: subclass it (or ``Sink.register`` a class) for your own sink.

    A text stream is not a sink by accident: :func:`chainsink.sinks.make_sink` wraps streams.
    """

    @abc.abstractmethod
    def write(self, text: str, event: Any = None) -> None:
        """Accept one formatted record; report I/O failures instead of raising them."""

    @abc.abstractmethod
    def flush(self) -> None:
        """Write out anything buffered."""

    @abc.abstractmethod
    def close(self) -> None:
        """Flush and release resources; safe to call twice."""


# -- keeping a sink's blocking I/O off an event loop ----------------------------------------------

#: Calls a :class:`BackgroundWriter` may hold before new ones are dropped (reported once).
MAX_QUEUED_CALLS = 100_000
#: Characters of records it may hold before new ones are dropped (reported once).
MAX_QUEUED_CHARS = 32 * 1024 * 1024
#: How long a drain (``flush()``, ``close()``, exit, SIGTERM, a synchronous write keeping
#: order) waits for a writer that makes no progress (a pipe nobody reads), in seconds.
DRAIN_TIMEOUT = 2.0
#: How long an idle writer thread lives before it ends (a new record starts it again).
IDLE_EXIT = 5.0

_writers: weakref.WeakSet[BackgroundWriter] = weakref.WeakSet()


def on_event_loop() -> bool:
    """Whether the calling thread is running an asyncio event loop (which must never wait)."""
    return asyncio._get_running_loop() is not None  # noqa: SLF001 - C-level, cheap


class BackgroundWriter:
    """One sink's writer thread: calls queued on an event loop run there, in order.

    A sink calls :meth:`submit` instead of doing blocking I/O on an event loop's thread; the
    thread starts on the first call and ends after :data:`IDLE_EXIT` idle seconds. Past
    :data:`MAX_QUEUED_CALLS` or :data:`MAX_QUEUED_CHARS` (a stream that takes nothing),
    new calls are dropped with one report on stderr rather than grow memory or block the loop.
    :meth:`drain` waits, a bounded time, until everything queued has run.
    """

    def __init__(self, name: str, report: Reporter) -> None:
        self._name = name
        self._report = report
        self._reset()
        _writers.add(self)

    def _reset(self) -> None:
        # also in a forked child: the parent's writer writes what it had queued
        self._cond = threading.Condition(threading.RLock())
        self._queue: collections.deque[tuple[Callable[..., object], tuple[Any, ...], int]] = (
            collections.deque())
        self._chars = 0
        self._busy = False
        self._done = 0  # calls run so far: progress, for bounded waits
        self._gave_up = False  # a drain ran out of time: the next ones do not wait again
        self._thread: threading.Thread | None = None

    def pending(self) -> bool:
        """Whether calls are queued or running."""
        return self._busy or bool(self._queue)

    def submit(self, call: Callable[..., object], args: tuple[Any, ...], size: int = 0) -> None:
        """Queue ``call(*args)`` for the writer thread; never waits for I/O."""
        with self._cond:
            if len(self._queue) >= MAX_QUEUED_CALLS or self._chars + size > MAX_QUEUED_CHARS:
                self._report("dropped", f"{self._chars} characters are waiting for a "
                             "stream that takes nothing; new records are dropped")
                return
            self._queue.append((call, args, size))
            self._chars += size
            if self._thread is None:
                thread = threading.Thread(target=self._run, name=f"chainsink-{self._name}",
                                          daemon=True)
                self._thread = thread
                try:
                    thread.start()
                except RuntimeError:  # no new threads (interpreter shutdown): run it here
                    self._thread = None
                    self._run_here()
                    return
            self._cond.notify()

    def _run_here(self) -> None:
        while self._queue:
            call, args, size = self._queue.popleft()
            self._chars -= size
            self._call(call, args)

    def _call(self, call: Callable[..., object], args: tuple[Any, ...]) -> None:
        try:
            call(*args)
        except Exception as exc:  # noqa: BLE001 - a sink reports, never raises
            self._report("write", exc)
        self._done += 1

    def _run(self) -> None:
        cond = self._cond
        while True:
            with cond:
                while not self._queue:
                    self._busy = False
                    cond.notify_all()  # drains waiting for the queue to empty
                    if not cond.wait(IDLE_EXIT) and not self._queue:
                        if self._thread is threading.current_thread():
                            self._thread = None
                        return
                call, args, size = self._queue.popleft()
                self._chars -= size
                self._busy = True
            self._call(call, args)

    def drain(self, window: float = DRAIN_TIMEOUT, deadline: float | None = None) -> bool:
        """Wait until every queued call has run, but never ``window`` seconds without progress
        (nor past ``deadline``, a ``time.monotonic()``); True if all ran."""
        if not self.pending():
            return True
        thread = self._thread
        if thread is threading.current_thread():
            return False  # the writer itself (a logger handler logging again): never wait
        if thread is None or not thread.is_alive():
            with self._cond:  # its thread is gone (a fork, shutdown): run what is left here
                self._busy = False
                self._run_here()
            return True
        with self._cond:
            if self._gave_up:
                window = 0.0
            now = time.monotonic()
            give_up = now + window if deadline is None else min(now + window, deadline)
            done = self._done
            while self._queue or self._busy:
                now = time.monotonic()
                if self._done != done:  # the stream takes records: wait again from now
                    done = self._done
                    give_up = now + window if deadline is None else min(now + window,
                                                                           deadline)
                if now >= give_up:
                    self._gave_up = True
                    self._report("unwritten", f"{len(self._queue)} records were not written: "
                                 "the stream took nothing more in time")
                    return False
                self._cond.wait(min(0.05, give_up - now))
            self._gave_up = False
            return True


def drain_all(timeout: float = DRAIN_TIMEOUT) -> None:
    """Drain every sink's background writer, in all at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    for writer in list(_writers):
        with contextlib.suppress(Exception):  # at exit, each sink on its own
            writer.drain(deadline=deadline)


def _after_fork_in_child() -> None:
    for writer in list(_writers):
        writer._reset()  # noqa: SLF001


atexit.register(drain_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
