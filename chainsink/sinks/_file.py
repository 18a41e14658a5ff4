"""Append-only file sink: whole records, off the caller's thread, safe across threads, tasks,
forks and processes.

Callers only append encoded text to an in-memory batch under a short lock. One flusher thread per
process writes every sink's batch a few times a second with a single ``os.write`` on an
``O_APPEND`` descriptor, so lines from several processes never interleave or split. A sink is
flushed synchronously on ``flush()``/``close()``, before ``fork()``, at interpreter exit, and at
the exit of a forked ``multiprocessing`` child.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import os
import sys
import threading
import weakref
from typing import Any

from chainsink._report import Reporter
from chainsink.sinks._base import Sink

#: How often the flusher thread writes pending batches, in seconds.
FLUSH_INTERVAL = 0.2
#: Pending bytes past which the writing thread flushes itself (backpressure, nothing dropped).
MAX_PENDING_BYTES = 8 * 1024 * 1024
#: On an event loop the writer never flushes itself; past this, records are dropped (reported).
LOOP_MAX_PENDING_BYTES = 64 * 1024 * 1024

_MODES = {"a": 0, "w": os.O_TRUNC, "x": os.O_EXCL}

_live: weakref.WeakSet[FileSink] = weakref.WeakSet()
_flusher: threading.Thread | None = None
_flusher_lock = threading.Lock()


def _parse_mode(mode: str) -> int:
    base = mode.replace("t", "").replace("+", "")
    if not isinstance(mode, str) or base not in _MODES or "b" in mode:
        raise ValueError(f"mode must be 'a', 'w' or 'x' (text), not {mode!r}")
    return _MODES[base]


class FileSink(Sink):
    """Write text records to a file, appending whole records.

    Args:
        path: The file. Its directory must exist; the file is created on the first write.
        mode: ``"a"`` to append (the default), ``"w"`` to truncate on the first write, ``"x"``
            to refuse an existing file. Checked here, when the sink is built.

    The file is opened lazily and reopened if it is deleted or replaced (log rotation by
    another tool). Write failures (a full disk, a missing directory) are reported once on
    stderr; the records stay pending and are retried on the next flush.
    """

    def __init__(self, path: str | os.PathLike[str], mode: str = "a") -> None:
        self._first_flags = _parse_mode(mode)
        self.path = os.fspath(path)
        self.mode = mode
        self._fd: int | None = None
        self._ino: tuple[int, int] | None = None
        # deque appends and poplefts are atomic: writers never wait for the flusher
        self._pending: collections.deque[bytes] = collections.deque()
        self._pending_bytes = 0  # approximate (unlocked): only for backpressure
        self._closed = False
        self._failing = False
        # re-entrant: a SIGTERM handler may flush on the thread that holds it
        self._io_lock = threading.RLock()  # orders batches and guards the descriptor
        self._report = Reporter(f"file {self.path}")
        _live.add(self)

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
        in_loop = behind and asyncio._get_running_loop() is not None  # noqa: SLF001 - C-level
        if behind and (self._failing or (
                in_loop and self._pending_bytes >= LOOP_MAX_PENDING_BYTES)):
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
            if in_loop:
                _wake.set()  # never block an event loop on the file: the flusher catches up
            else:
                self.flush()

    def flush(self) -> None:
        """Append every pending record to the file now."""
        with self._io_lock:
            pending = self._pending
            if not pending:
                return
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

    def close(self) -> None:
        """Flush and close the file; later writes are dropped with one report."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        self.flush()  # what raced in before the flag was set
        with self._io_lock:
            self._close_fd()
        _live.discard(self)

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # never raise from a finalizer
            self.close()

    # -- under _io_lock -----------------------------------------------------------------------

    def _write_records(self, records: list[bytes]) -> list[bytes]:
        """Append ``records`` in one write; return what could not be written."""
        return self._write_all(b"".join(records))

    def _write_all(self, data: bytes) -> list[bytes]:
        """Write ``data``; return the part that could not be written ([] on success)."""
        view = memoryview(data)
        try:
            fd = self._descriptor()
            while view:
                view = view[os.write(fd, view):]
        except OSError as exc:
            self._failing = True
            self._report("write", exc)
            return [bytes(view)]
        self._failing = False
        return []

    def _descriptor(self) -> int:
        if self._fd is not None:
            try:
                st = os.stat(self.path)
                if (st.st_dev, st.st_ino) == self._ino:
                    return self._fd
            except OSError:
                pass
            self._close_fd()  # deleted or replaced: start a new file at the path
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | self._first_flags
        fd = os.open(self.path, flags | getattr(os, "O_CLOEXEC", 0), 0o644)
        self._first_flags = 0  # 'w' truncates and 'x' checks only the first open
        st = os.fstat(fd)
        self._fd, self._ino = fd, (st.st_dev, st.st_ino)
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


def flush_all() -> None:
    """Flush every open file sink in this process."""
    for sink in list(_live):
        with contextlib.suppress(Exception):  # at exit, each sink on its own
            sink.flush()


_wake = threading.Event()


def _run_flusher() -> None:
    while True:
        _wake.wait(FLUSH_INTERVAL)
        _wake.clear()
        flush_all()


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
    flush_all()
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
