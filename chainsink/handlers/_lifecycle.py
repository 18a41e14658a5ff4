"""Process lifecycle: what happens to every live handler at exit, on SIGTERM and at fork.

At interpreter exit (and on SIGTERM, where nobody else handles it) every live handler's open
runs are closed as aborted and its sink flushed, each on a helper thread with a bounded wait;
a forked child forgets the runs its parent had open. Handlers join with :func:`register`.
"""

from __future__ import annotations

import _thread
import atexit
import contextlib
import os
import signal
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from chainsink.sinks import flush_all


class _Live(Protocol):
    sink: Any

    def has_open_runs(self) -> bool: ...
    def abort_open_runs(self, reason: str = ...) -> None: ...
    def disown_runs(self) -> None: ...


_live_handlers: weakref.WeakSet[Any] = weakref.WeakSet()


def register(handler: _Live) -> None:
    """Look after ``handler`` at exit, on SIGTERM and at fork (for as long as it lives)."""
    _live_handlers.add(handler)
    _install_sigterm_hook()


#: How long closing the open runs at exit or on SIGTERM may take, in seconds: a sink stuck in a
#: write (a stdout pipe nobody reads) is left behind after that, and the process goes on exiting.
CLOSE_TIMEOUT = 2.0


def _close_runs(handler: Any, reason: str, done: Any) -> None:
    try:
        handler.abort_open_runs(reason)
        handler.sink.flush()
    except Exception:  # noqa: BLE001, S110 - at exit, each handler on its own
        pass
    finally:
        done.release()


def _flush_sinks(handlers: list[Any], done: Any) -> None:
    try:
        for handler in handlers:
            with contextlib.suppress(Exception):  # at exit, each handler on its own
                handler.sink.flush()
    finally:
        done.release()


def _abort_all_at_exit(reason: str = "the process exited before the run ended",
                       timeout: float = CLOSE_TIMEOUT) -> None:
    """Close every live handler's open runs as aborted and flush its sink, within ``timeout``.

    The work runs on helper threads, one per handler with open runs: the calling thread (a
    signal handler's) may have been stopped inside a sink's write, holding a lock that writing
    takes again, and a sink stuck in a write must not keep the process from exiting. Low-level
    threads, so that no lock of the ``threading`` module that the caller may hold is needed.
    """
    jobs: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
    idle = []
    for handler in list(_live_handlers):
        if handler.has_open_runs():
            jobs.append((_close_runs, (handler, reason)))
        else:
            idle.append(handler)
    if idle:
        jobs.append((_flush_sinks, (idle,)))
    deadline = time.monotonic() + timeout
    waits = []
    for job, args in jobs:
        done = _thread.allocate_lock()
        done.acquire()
        try:
            _thread.start_new_thread(job, (*args, done))
        except RuntimeError:  # no new threads this late in shutdown: do it here, then
            job(*args, done)
        waits.append(done)
    for done in waits:
        done.acquire(timeout=max(0.0, deadline - time.monotonic()))


# registered after the sinks' own exit flush, so it runs before it (atexit is LIFO)
atexit.register(_abort_all_at_exit)

_sigterm_installed = False


def _on_sigterm(signum: int, frame: Any) -> None:
    # close what is open and write what is queued, then die of SIGTERM as before; every wait
    # is bounded, and a second SIGTERM meanwhile ends the process at once
    try:
        signal.signal(signum, signal.SIG_DFL)
        _abort_all_at_exit("the process was terminated (SIGTERM) before the run ended")
        # here, on the interrupted thread: a flush it was in the middle of holds the file's
        # (re-entrant) lock, which only this thread can take now
        flush_all(timeout=CLOSE_TIMEOUT)
    finally:
        os.kill(os.getpid(), signum)


def _forget_inherited_runs() -> None:
    for handler in list(_live_handlers):
        with contextlib.suppress(Exception):  # never disturb the child being born
            handler.disown_runs()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited_runs)


def _install_sigterm_hook() -> None:
    """Flush logs on SIGTERM, but only where nobody else handles it (still SIG_DFL)."""
    global _sigterm_installed  # noqa: PLW0603 - once per process
    if _sigterm_installed or threading.current_thread() is not threading.main_thread():
        return
    _sigterm_installed = True
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError, AttributeError):  # no signals here (embedded, Windows)
        pass

