"""Size-based rotation that never splits a record, safe with several writer processes."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
from collections.abc import Iterator

from chainsink.sinks._file import FileSink

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: rotation is safe within one process only
    fcntl = None  # type: ignore[assignment]


class RotatingFileSink(FileSink):
    """A :class:`FileSink` that rotates like CPython's ``RotatingFileHandler``.

    When the next record would take the file past ``max_bytes``, the file becomes ``.1``, the
    old ``.1`` becomes ``.2`` and so on up to ``.{backup_count}`` (the oldest is deleted). A
    record always goes whole into one file; a record larger than ``max_bytes`` gets a file of
    its own.

    Several processes may write and rotate the same file: each batch is written under an
    exclusive ``flock`` on ``<filename>.lock``, after checking whether another process
    already rotated. (Without ``fcntl``, i.e. on Windows, this holds within one process
    only.)

    Args:
        path: The log file.
        max_bytes: Rotate before the file would exceed this size. Must be positive.
        backup_count: How many rotated files to keep. Must be at least 1.
        compress: Gzip rotated files (``.1.gz``, ``.2.gz``, ...).
        header: Text written at the top of each file the sink starts (a new or empty one, and
            each one after a rotation), just before its first record, never when appending to
            a file with content: an HTML page's head (see
            :class:`chainsink.typing.WritesHeader`). It counts towards ``max_bytes``; a file
            always takes at least one record after it.

    Raises:
        ValueError: For a non-positive ``max_bytes`` or a ``backup_count`` below 1.
    """

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int, backup_count: int,
                 compress: bool = False, header: str = "") -> None:
        if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes <= 0:
            raise ValueError(f"max_bytes must be a positive int, not {max_bytes!r}")
        if (not isinstance(backup_count, int) or isinstance(backup_count, bool)
                or backup_count < 1):
            raise ValueError(f"backup_count must be an int >= 1, not {backup_count!r}")
        super().__init__(path, "a", header=header)
        self.max_bytes = max_bytes
        self.backup_count = backup_count
        self.compress = compress
        self._lock_path = self.path + ".lock"
        self._lock_fd: int | None = None

    def _backup(self, n: int) -> str:
        return f"{self.path}.{n}.gz" if self.compress else f"{self.path}.{n}"

    @contextlib.contextmanager
    def _process_lock(self) -> Iterator[None]:
        if fcntl is None:
            yield
            return
        if self._lock_fd is None:
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _write_records(self, records: list[bytes]) -> list[bytes]:
        start = 0
        try:
            with self._process_lock():
                size = os.fstat(self._descriptor()).st_size
                while start < len(records):
                    # a file started here gets the header, in the same write as its records
                    head = self._header if size == 0 else b""
                    end, grown = start, len(head)
                    # take records while they fit; an empty file takes at least one
                    while end < len(records) and (
                            size + grown + len(records[end]) <= self.max_bytes
                            or (size == 0 and end == start)):
                        grown += len(records[end])
                        end += 1
                    if end > start:
                        rest = self._write_all(b"".join(records[start:end]), head)
                        if rest:
                            return rest + records[end:]
                        size += grown
                        start = end
                    if start < len(records):
                        self._rotate()
                        size = 0
        except OSError as exc:
            self._failing = True
            self._report("rotate", exc)
            return records[start:]
        return []

    def _rotate(self) -> None:
        self._close_fd()
        for n in range(self.backup_count - 1, 0, -1):
            src = self._backup(n)
            if os.path.exists(src):
                os.replace(src, self._backup(n + 1))
        if not os.path.exists(self.path):
            return
        if self.compress:
            with open(self.path, "rb") as src_file, gzip.open(self._backup(1), "wb") as dst:
                shutil.copyfileobj(src_file, dst)
            os.unlink(self.path)
        else:
            os.replace(self.path, self._backup(1))

    def _after_fork_in_child(self) -> None:
        super()._after_fork_in_child()
        # flock belongs to the open file description, which the child shares with its parent:
        # the child must open the lock file itself or both would "hold" one lock
        self._lock_fd = None

    def close(self) -> None:
        """Flush, close the file and release the lock file's descriptor."""
        super().close()
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
