"""Append-only file sink: whole records, off the caller's thread, safe across threads, tasks,
forks and processes.

Callers only append encoded text to an in-memory batch under a short lock. One flusher thread per
process writes every sink's batch a few times a second with a single ``os.write`` on an
``O_APPEND`` descriptor, so lines from several processes never interleave or split. A sink is
flushed synchronously on ``flush()``/``close()``, before ``fork()``, at interpreter exit, and at
the exit of a forked ``multiprocessing`` child.

A log never stalls its caller: the file is opened and written without blocking (``O_NONBLOCK``:
a FIFO with no reader fails at once instead of waiting for one, and a full pipe takes what it
can), what it cannot take yet stays queued (bounded) for the flusher thread, which waits for the
pipe to drain; ``close()`` and the flush at exit wait for such a log a bounded time only.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import errno
import os
import select
import stat
import sys
import threading
import time
import weakref
from typing import Any

from chainsink._stderr import Reporter
from chainsink.sinks._base import Sink

#: How often the flusher thread writes pending batches, in seconds.
FLUSH_INTERVAL = 0.2
#: Pending bytes past which the writing thread flushes itself (backpressure, nothing dropped).
MAX_PENDING_BYTES = 8 * 1024 * 1024
#: On an event loop, or while the log takes nothing (a full pipe, a write stuck elsewhere), the
#: writer never flushes itself; past this, records are dropped (reported).
LOOP_MAX_PENDING_BYTES = 64 * 1024 * 1024
#: How long a flush waits for another thread's write to finish before leaving its records to
#: the flusher thread, in seconds.
LOCK_TIMEOUT = 5.0
#: How long ``close()`` and the flush at exit wait for a log that takes nothing more (a pipe
#: nobody reads), in seconds without progress.
EXIT_TIMEOUT = 2.0

_MODES = {"a": 0, "w": os.O_TRUNC, "x": os.O_EXCL}
# never wait in open() (a FIFO with no reader) or write() (a full pipe); no effect on a file
_OPEN_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
               | getattr(os, "O_NONBLOCK", 0))

_live: weakref.WeakSet[FileSink] = weakref.WeakSet()
_flusher: threading.Thread | None = None
_flusher_lock = threading.Lock()


def _parse_mode(mode: str) -> int:
    base = mode.replace("t", "").replace("+", "")
    if not isinstance(mode, str) or base not in _MODES or "b" in mode:
        raise ValueError(f"mode must be 'a', 'w' or 'x' (text), not {mode!r}")
    return _MODES[base]


def _absolute(path: str) -> str:
    """``path`` made absolute now, so a later ``os.chdir`` does not move the log."""
    try:
        return os.path.abspath(path)
    except OSError:  # the working directory is gone: the path as given is all there is
        return path


def _wait_writable(fds: list[int], timeout: float) -> bool:
    """Wait up to ``timeout`` seconds until one of ``fds`` can take a write."""
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            for fd in fds:
                poller.register(fd, select.POLLOUT)
            return bool(poller.poll(max(0, int(timeout * 1000))))
        return bool(select.select([], fds, [], timeout)[1])
    except (OSError, ValueError):  # a descriptor closed meanwhile: try the write again
        return True


class FileSink(Sink):
    """Write text records to a file, appending whole records.

    Args:
        path: The file, fixed here (a relative path is resolved against the current
            directory now). Its directory must exist.
        mode: ``"a"`` to append (the default), ``"w"`` to truncate, ``"x"`` to refuse an
            existing file. Checked here, when the sink is built: ``"w"`` truncates and ``"x"``
            creates the file now, once, so forked workers sharing the sink never truncate (or
            refuse) it again.
        header: Text written just before the first record of each file the sink starts
            (a new or empty file, one replaced under it), never when appending to a file with
            content: an HTML page's head (see :class:`chainsink.typing.WritesHeader`). The
            sink decides only when; the text is its formatter's. It goes in the same write as
            the records after it. Processes starting one empty file at the same instant may
            each write it (a browser ignores a second head); :class:`RotatingFileSink`,
            writing under a lock, never does.

    Raises:
        ValueError: For another mode.
        FileExistsError: For ``"x"`` and a path that exists.

    With ``"a"`` the file is opened on the first write; it is reopened if it is deleted or
    replaced (log rotation by another tool). Write failures (a full disk, a missing directory,
    a FIFO with no reader) are reported once on stderr; the records stay pending and are
    retried on the next flush.
    """

    def __init__(self, path: str | os.PathLike[str], mode: str = "a", *,
                 header: str = "") -> None:
        flags = _parse_mode(mode)
        if not isinstance(header, str):
            raise TypeError(f"header must be a str, not {type(header).__name__}")
        self.path = _absolute(os.fspath(path))
        self.mode = mode
        self.header = header
        self._header = header.encode("utf-8", "backslashreplace")
        self._fd: int | None = None
        self._ino: tuple[int, int] | None = None
        self._regular = True  # the open file is a regular file (a size says if it is empty)
        self._headed = False  # the header went to the open descriptor (for a pipe)
        # deque appends and poplefts are atomic: writers never wait for the flusher
        self._pending: collections.deque[bytes] = collections.deque()
        self._pending_bytes = 0  # approximate (unlocked): only for backpressure
        self._closed = False
        self._failing = False
        # the log took nothing at the last try (a full pipe, a FIFO with no reader, another
        # thread's write stuck): writers then leave the waiting to the flusher thread
        self._blocked = False
        self._full = False  # a full pipe, which the flusher thread waits on to write again
        self._gave_up = False  # a bounded wait ran out: the next one (at exit) is not waited
        # re-entrant: a SIGTERM handler may flush on the thread that holds it
        self._io_lock = threading.RLock()  # orders batches and guards the descriptor
        self._report = Reporter(f"file {self.path}")
        if flags:
            self._prepare(flags)
        _live.add(self)

    def _prepare(self, flags: int) -> None:
        """Truncate (``"w"``) or create (``"x"``) the file now, in the process making the sink."""
        try:
            fd = os.open(self.path, _OPEN_FLAGS | flags, 0o644)
        except FileExistsError:
            raise
        except OSError:  # nothing to truncate yet (a missing directory, a FIFO with no
            return  # reader): the first write reports what is still wrong then
        os.close(fd)

    def write(self, text: str, event: Any = None) -> None:
        """Queue ``text`` to be appended; returns without doing I/O (unless far behind)."""
        self.write_bytes(text.encode("utf-8", "backslashreplace"))

    def write_bytes(self, data: bytes) -> None:
        """Queue one record already encoded as UTF-8 (what :meth:`write` does after encoding).

        Handlers use it for records a formatter renders straight to bytes, such as streamed
        tokens in JSONL.
        """
        if self._closed or self._pending_bytes >= MAX_PENDING_BYTES or _flusher is None:
            self._write_rare(data)
            return
        self._pending.append(data)  # the common case: one append, no I/O
        self._pending_bytes += len(data)
        if self._closed:  # close() ran while we appended: write it ourselves, not lost
            self.flush()

    def _write_rare(self, data: bytes) -> None:
        """:meth:`write_bytes` when closed, far behind, or before the flusher thread runs."""
        if self._closed:
            self._report("write after close", "the record was dropped")
            return
        behind = self._pending_bytes >= MAX_PENDING_BYTES
        # a caller that must not wait: an event loop, or any caller while the log takes nothing
        hands_off = behind and (
            self._blocked or asyncio._get_running_loop() is not None)  # noqa: SLF001 - C-level
        if behind and (self._failing or (
                hands_off and self._pending_bytes >= LOOP_MAX_PENDING_BYTES)):
            # the file cannot take more: bound the memory rather than block or grow forever
            self._report("dropped", f"over {self._pending_bytes} bytes are waiting for a "
                         "file that cannot be written fast enough; new records are dropped")
            return
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._closed:  # close() ran while we appended: write it ourselves, not lost
            self.flush()
            return
        if _flusher is None:
            _start_flusher()
        if behind:
            if hands_off:
                _wake.set()  # never block an event loop on the file: the flusher catches up
            else:
                self.flush()

    def flush(self) -> None:
        """Append every pending record the file takes now (a full pipe keeps the rest queued
        for the flusher thread)."""
        self._flush(0.0 if self._blocked else LOCK_TIMEOUT)

    def _flush(self, timeout: float) -> bool:
        """:meth:`flush`, waiting up to ``timeout`` seconds for another thread's write; False
        if that write was still going on (the records stay queued)."""
        lock = self._io_lock
        if not lock.acquire(timeout=timeout):
            self._blocked = True  # stuck elsewhere: later writers do not wait for it either
            return False
        try:
            pending = self._pending
            if not pending:
                return True
            batch = []
            take = pending.popleft
            try:
                while True:
                    batch.append(take())
            except IndexError:  # drained (writers may keep appending: they wait for next time)
                pass
            self._pending_bytes = 0
            rest = self._write_records(batch)
            if rest:  # keep what could not be written, in order, for the next try
                pending.extendleft(reversed(rest))
                self._pending_bytes += sum(map(len, rest))
        finally:
            lock.release()
        return True

    def _drain(self, window: float = EXIT_TIMEOUT, deadline: float | None = None) -> None:
        """Flush, waiting for a log that takes nothing right now (a full pipe) as long as it
        keeps taking records, but never ``window`` seconds without progress (nor past
        ``deadline``, a ``time.monotonic()``); then report what is left behind."""
        if self._gave_up:  # once waited in vain (close() then exit): one more try only
            window = 0.0
        give_up = time.monotonic() + window
        if deadline is not None:
            give_up = min(give_up, deadline)
        while True:
            before = self._pending_bytes
            if not self._flush(max(0.0, give_up - time.monotonic())):
                break
            if not self._pending or self._failing or not self._blocked:
                return  # written, or failing for a reason waiting does not cure (reported)
            now = time.monotonic()
            if self._pending_bytes < before:  # the reader took some: wait again from now
                give_up = now + window if deadline is None else min(now + window, deadline)
            if now >= give_up:
                break
            fd = self._fd
            if self._full and fd is not None:
                _wait_writable([fd], min(give_up - now, 0.1))
            else:  # not open yet (a FIFO with no reader): try again shortly
                time.sleep(min(give_up - now, 0.05))
        if self._pending:
            self._gave_up = True
            self._report("unwritten", f"about {self._pending_bytes} bytes of records were not "
                         "written: the log took nothing more in time")

    def close(self) -> None:
        """Flush and close the file, waiting a bounded time for a log that takes nothing
        more; later writes are dropped with one report."""
        if self._closed:
            return
        self._drain()
        self._closed = True
        self._drain()  # what raced in before the flag was set
        if self._io_lock.acquire(timeout=LOCK_TIMEOUT):
            try:
                self._close_fd()
            finally:
                self._io_lock.release()
        _live.discard(self)

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def __del__(self) -> None:
        # never raise from a finalizer; a plain try, because at interpreter exit this module's
        # globals (contextlib included) may already be None
        try:  # noqa: SIM105 - contextlib.suppress may be gone then
            self.close()
        except Exception:  # noqa: BLE001, S110
            pass

    # -- under _io_lock -----------------------------------------------------------------------

    def _write_records(self, records: list[bytes]) -> list[bytes]:
        """Append ``records`` in one write (after the header if they start the file); return
        what could not be written."""
        return self._write_all(b"".join(records), self._header)

    def _write_all(self, data: bytes, head: bytes = b"") -> list[bytes]:
        """Write ``data``, with ``head`` first if the file is empty (one ``os.write``, so a
        reader never sees the head without a record); return the part that could not be
        written ([] on success). Unwritten, the head is left out: the retry asks again."""
        out = data
        done = 0
        try:
            fd = self._descriptor()
            # a pipe or a device has no size: it starts once per descriptor
            if head and (os.fstat(fd).st_size == 0 if self._regular else not self._headed):
                out = head + data
            view = memoryview(out)
            while view:
                written = os.write(fd, view)
                done += written
                view = view[written:]
        except BlockingIOError:  # a full pipe: the rest waits for its reader (no failure)
            self._failing, self._blocked, self._full = False, True, True
            return [self._unwritten(out, data, done)]
        except OSError as exc:
            # a FIFO with no reader yet is waited for (bounded); anything else is a failure
            waiting = exc.errno == errno.ENXIO
            self._failing, self._blocked, self._full = not waiting, waiting, False
            self._report("write", exc)
            return [self._unwritten(out, data, done)]
        self._failing = self._blocked = self._full = self._gave_up = False
        self._headed = True
        return []

    def _unwritten(self, out: bytes, data: bytes, done: int) -> bytes:
        """What is left of ``out`` (``data``, maybe after the head) once ``done`` bytes of it
        were written: all of ``data`` if nothing was (the head is decided again)."""
        if not done:
            return data
        self._headed = True
        return out[done:]

    def _descriptor(self) -> int:
        if self._fd is not None:
            try:
                st = os.stat(self.path)
                if (st.st_dev, st.st_ino) == self._ino:
                    return self._fd
            except OSError:
                pass
            self._close_fd()  # deleted or replaced: start a new file at the path
        fd = os.open(self.path, _OPEN_FLAGS, 0o644)  # 'w' and 'x' did their part at __init__
        st = os.fstat(fd)
        self._fd, self._ino = fd, (st.st_dev, st.st_ino)
        self._regular, self._headed = stat.S_ISREG(st.st_mode), False
        return fd

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _after_fork_in_child(self) -> None:
        # the parent owns whatever was pending; a lock held by another thread at fork is dead
        self._io_lock = threading.RLock()
        self._pending = collections.deque()
        self._pending_bytes = 0
        self._blocked = self._full = False


def flush_all(timeout: float | None = None) -> None:
    """Flush every open file sink in this process, waiting for a log that takes nothing right
    now (a full pipe) a bounded time: :data:`EXIT_TIMEOUT` without progress per sink, and in
    all at most ``timeout`` seconds if given."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for sink in list(_live):
        with contextlib.suppress(Exception):  # at exit, each sink on its own
            sink._drain(deadline=deadline)  # noqa: SLF001


def _flush_each() -> None:
    """Flush every open file sink with what its log takes now, waiting for nothing."""
    for sink in list(_live):
        with contextlib.suppress(Exception):  # each sink on its own
            sink.flush()


_wake = threading.Event()


def _run_flusher() -> None:
    wait = FLUSH_INTERVAL
    while True:
        _wake.wait(wait)
        _wake.clear()
        _flush_each()
        wait = FLUSH_INTERVAL
        # logs left with records they could not take (full pipes): write again as soon as
        # one drains, checking back at least every interval for everything else
        full = [fd for sink in list(_live) if sink._full and sink._pending  # noqa: SLF001
                and (fd := sink._fd) is not None]  # noqa: SLF001
        if full and _wait_writable(full, min(FLUSH_INTERVAL, 0.2)):
            wait = 0.0


def _start_flusher() -> None:
    global _flusher  # noqa: PLW0603 - one flusher per process
    with _flusher_lock:
        if _flusher is None:
            thread = threading.Thread(target=_run_flusher, name="chainsink-flusher", daemon=True)
            thread.start()
            _flusher = thread
            _register_multiprocessing_exit()


_mp_exit_pid: int | None = None


def _register_multiprocessing_exit() -> None:
    """In a multiprocessing child (fork, forkserver or spawn), flush at its exit too.

    Such children leave through ``os._exit`` after multiprocessing's own exit hooks, skipping
    ``atexit``; a child that imported chainsink after its fork (forkserver) is only reached
    this way.
    """
    global _mp_exit_pid  # noqa: PLW0603 - once per process
    mp = sys.modules.get("multiprocessing")
    if mp is None or _mp_exit_pid == os.getpid():
        return
    try:
        if mp.parent_process() is None:
            return
        import multiprocessing.util as mp_util

        mp_util.Finalize(None, flush_all, exitpriority=100)
        _mp_exit_pid = os.getpid()
    except Exception:  # noqa: BLE001, S110 - best effort; atexit still covers normal exits
        pass


def _before_fork() -> None:
    _flush_each()
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is not None and not getattr(_before_fork, "registered", False):
        # multiprocessing's forked children leave through os._exit, skipping atexit; this
        # hook runs in each child after multiprocessing reset its own finalizers
        mp_util.register_after_fork(_FORK_TOKEN, _register_child_exit)
        _before_fork.registered = True  # type: ignore[attr-defined]


def _after_fork_in_child() -> None:
    global _flusher  # noqa: PLW0603
    _flusher = None
    for sink in list(_live):
        sink._after_fork_in_child()  # noqa: SLF001


def _register_child_exit(_token: object) -> None:
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is not None:
        mp_util.Finalize(None, flush_all, exitpriority=100)


class _Token:
    """A weak-referenceable key for multiprocessing's after-fork registry."""


_FORK_TOKEN = _Token()

atexit.register(flush_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
