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
_terminating = False  # the SIGTERM handler has begun (or the watcher did its work)
_kicks = 0  # wake-up calls sent to the main thread that its handler has not consumed yet
_started = threading.Event()
_wakeup: tuple[int, int] | None = None  # the pipe the interpreter writes caught signals to

# the forking thread's signal mask from before fork() (see _before_fork)
_fork_masks = threading.local()

#: How long the watcher waits, after waking the main thread, for the SIGTERM handler to begin
#: there; a main thread stuck in a call that never returns to Python is not waited for longer.
WAKE_TIMEOUT = 5.0


def _die(signum: int) -> None:
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _on_sigterm(signum: int, frame: Any) -> None:
    # close what is open and write what is queued, then die of SIGTERM as before; every wait
    # is bounded, and a second SIGTERM meanwhile ends the process at once
    global _terminating, _kicks  # noqa: PLW0603 - process state
    if _terminating:
        if _kicks > 0:  # the watcher's wake-up call, arriving after the handler began
            _kicks -= 1
            return
        _die(signum)
        return
    _terminating = True
    _started.set()
    try:
        _abort_all_at_exit("the process was terminated (SIGTERM) before the run ended")
        # here, on the interrupted thread: a flush it was in the middle of holds the file's
        # (re-entrant) lock, which only this thread can take now
        flush_all(timeout=CLOSE_TIMEOUT)
    finally:
        _die(signum)


def _watch_signals(read_fd: int) -> None:
    """Wake the main thread for a SIGTERM that the kernel gave to another thread.

    Python runs signal handlers on the main thread only, when it next runs Python code: a
    main thread asleep in a system call (an idle event loop, a ``join()``) would not notice a
    SIGTERM delivered to a worker thread until it wakes, and the process, which died at once
    before chainsink's handler was installed, would live on. The interpreter writes every
    caught signal's number to the wake-up pipe from whichever thread caught it; this thread
    reads it and sends SIGTERM to the main thread itself, whose system call is then interrupted.
    If the handler still has not begun after :data:`WAKE_TIMEOUT` (the main thread is stuck in
    code that never returns to Python), the runs are closed and the logs flushed here, and the
    process exits with status 128 + SIGTERM.
    """
    global _kicks, _terminating  # noqa: PLW0603 - process state
    while True:
        try:
            data = os.read(read_fd, 256)
        except OSError:
            return
        if not data:
            return
        if signal.SIGTERM not in data or _terminating:
            continue
        if signal.getsignal(signal.SIGTERM) is not _on_sigterm:
            continue  # the program installed its own handler since: its business
        _kicks += 1
        with contextlib.suppress(Exception):
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGTERM)
        if _started.wait(WAKE_TIMEOUT) or _terminating:
            continue
        _terminating = True
        with contextlib.suppress(Exception):
            _abort_all_at_exit("the process was terminated (SIGTERM) before the run ended")
            flush_all(timeout=CLOSE_TIMEOUT)
        os._exit(128 + signal.SIGTERM)


def _arm_watcher() -> None:
    """Have the interpreter report caught signals on a pipe that :func:`_watch_signals` reads,
    unless something else (an asyncio loop's signal handling) already takes that report; then
    that wakes the main thread, and nothing is needed (see :func:`rearm_watcher` for when it
    stops)."""
    global _wakeup  # noqa: PLW0603 - one per process
    if _wakeup is not None:  # armed before, then reset by someone: the same pipe again
        with contextlib.suppress(ValueError, OSError):
            previous = signal.set_wakeup_fd(_wakeup[1], warn_on_full_buffer=False)
            if previous != -1:
                signal.set_wakeup_fd(previous)
        return
    read_fd, write_fd = os.pipe()
    try:
        os.set_blocking(write_fd, False)
        previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        if previous != -1:
            signal.set_wakeup_fd(previous)
            raise ValueError(previous)
        threading.Thread(target=_watch_signals, args=(read_fd,), name="chainsink-signals",
                         daemon=True).start()
    except (ValueError, OSError, RuntimeError):
        os.close(read_fd)
        os.close(write_fd)
        return
    _wakeup = (read_fd, write_fd)


# the main thread's ident while the watcher may need arming again (see rearm_watcher)
_main_ident: int | None = None


def rearm_watcher() -> None:
    """Arm the SIGTERM watcher again if something reset the interpreter's wake-up fd: an
    asyncio loop removing its last signal handler sets it to -1, and a SIGTERM given to a worker
    thread would then wait for the main thread again. Handlers call it as a trace starts; it
    does something on the main thread only, where chainsink's SIGTERM handler is installed
    (about a microsecond there; an ident comparison elsewhere)."""
    if threading.get_ident() != _main_ident:
        return
    try:
        current = signal.set_wakeup_fd(-1)
        if current != -1:  # still reported somewhere (ours, or an event loop's): as it was
            ours = _wakeup is not None and current == _wakeup[1]
            signal.set_wakeup_fd(current, warn_on_full_buffer=not ours)
            return
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:
            _arm_watcher()
    except (ValueError, OSError):
        pass


def _rearm_in_child() -> None:
    """After ``fork()``: the pipe is shared with the parent (whose watcher would act on the
    child's signals), and the watcher thread did not come along; a new pipe and watcher."""
    global _wakeup, _terminating, _kicks, _main_ident  # noqa: PLW0603 - process state
    _terminating, _kicks = False, 0
    _started.clear()
    if _main_ident is not None:  # the forking thread is the child's main thread
        _main_ident = threading.get_ident()
    if _wakeup is None:
        return
    with contextlib.suppress(ValueError, OSError):
        current = signal.set_wakeup_fd(-1)
        if current != _wakeup[1]:  # no longer ours: leave it as it was
            signal.set_wakeup_fd(current)
    for fd in _wakeup:
        with contextlib.suppress(OSError):
            os.close(fd)
    _wakeup = None
    if signal.getsignal(signal.SIGTERM) is _on_sigterm:
        _arm_watcher()


def _before_fork() -> None:
    # Until the child has a pipe of its own, a SIGTERM it catches would be reported on the
    # parent's, whose watcher would take it for the parent's own: SIGTERM waits (blocked in the
    # forking thread, so in the child's only thread) until the child's pipe is ready.
    if _wakeup is None:
        return
    with contextlib.suppress(Exception):
        _fork_masks.old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


def _restore_mask() -> None:
    old = getattr(_fork_masks, "old", None)
    if old is None:
        return
    _fork_masks.old = None
    with contextlib.suppress(Exception):  # a SIGTERM that came meanwhile is delivered now
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _forget_inherited_runs() -> None:
    with contextlib.suppress(Exception):  # never disturb the child being born
        _rearm_in_child()
    for handler in list(_live_handlers):
        with contextlib.suppress(Exception):  # never disturb the child being born
            handler.disown_runs()
    _restore_mask()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_restore_mask,
                        after_in_child=_forget_inherited_runs)


def _install_sigterm_hook() -> None:
    """Flush logs on SIGTERM, but only where nobody else handles it (still SIG_DFL)."""
    global _sigterm_installed, _main_ident  # noqa: PLW0603 - once per process
    if _sigterm_installed or threading.current_thread() is not threading.main_thread():
        return
    _sigterm_installed = True
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
            _arm_watcher()
            _main_ident = threading.get_ident()
    except (ValueError, OSError, AttributeError):  # no signals here (embedded, Windows)
        pass

