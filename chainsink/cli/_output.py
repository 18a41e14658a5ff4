"""Where the CLI writes with ``-o PATH``: like a shell's ``>``, without its sharp edges.

Whatever is at the path keeps its identity. A regular file is replaced whole (written under a
temporary name with the old file's mode and owner, then renamed over it), so an interrupted run
never leaves half a file; a character device, a FIFO, a terminal, ``/dev/stdout`` (or a link to
it), a symlink and a file with several names are written into instead, as ``>`` would. An output
that is one of the inputs is refused before anything is read.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Iterable
from typing import IO

from chainsink.cli._common import STDIN, OutputError

#: The output name that means stdout.
STDOUT = STDIN


def refuse_input(target: str, inputs: Iterable[tuple[int, int] | None]) -> None:
    """Refuse ``target`` if it is the same file as one of the inputs (``(st_dev, st_ino)``).

    Any spelling of the path counts: relative, ``./x``, a symlink or another hard link; for
    ``-``, the file stdout is redirected to (``-o - >> LOG``).

    Raises:
        OutputError: The output is one of the inputs.
    """
    try:
        # stdout too: `-o - >> LOG` would read its own output back (a text log, forever)
        st = os.fstat(sys.stdout.fileno()) if target == STDOUT else os.stat(target)
    except (OSError, ValueError, AttributeError):
        return  # nothing there yet, or no real stdout (writing will say what is wrong)
    if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) in set(inputs):
        where = "stdout" if target == STDOUT else target
        raise OutputError(f"{where}: is one of the inputs; write the report elsewhere")


def write_output(target: str, chunks: Iterable[str]) -> None:
    """Write ``chunks`` (as UTF-8) to ``target`` (``-``: stdout) as they are made.

    Raises:
        OutputError: The output could not be written.
        BrokenPipeError: The reader of a pipe went away (the caller ends quietly).
    """
    if target == STDOUT:
        out = sys.stdout.buffer
        _write_chunks(out, chunks)
        out.flush()
        return
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise _error(target, exc) from None
    std = _standard_fd(st)
    if std is not None:  # /dev/stdout, /proc/self/fd/1, or the very file stdout goes to
        _write_std(target, std, chunks)
    elif st is not None and not stat.S_ISREG(st.st_mode):  # a device, a FIFO, a terminal
        _write_in_place(target, chunks, os.O_WRONLY)
    elif os.path.islink(target) or (st is not None and st.st_nlink > 1):
        _write_in_place(target, chunks, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    else:
        _replace(target, st, chunks)


def _standard_fd(st: os.stat_result | None) -> int | None:
    """1 or 2 if ``st`` is the file that stdout or stderr already writes to."""
    if st is None:
        return None
    for fd in (1, 2):
        try:
            std = os.fstat(fd)
        except OSError:
            continue
        if (std.st_dev, std.st_ino) == (st.st_dev, st.st_ino):
            return fd
    return None


def _write_std(target: str, fd: int, chunks: Iterable[str]) -> None:
    """Write through stdout's or stderr's own descriptor: its offset, its append mode."""
    with contextlib.suppress(OSError, ValueError):
        (sys.stdout if fd == 1 else sys.stderr).flush()
    try:
        out = open(os.dup(fd), "wb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise _error(target, exc) from None
    try:
        _write_chunks(out, chunks)
        out.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise _error(target, exc) from None
    finally:
        with contextlib.suppress(OSError):
            out.close()


def _write_in_place(target: str, chunks: Iterable[str], flags: int) -> None:
    try:
        fd = os.open(target, flags | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise _error(target, exc) from None
    try:
        with open(fd, "wb") as out:
            _write_chunks(out, chunks)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise _error(target, exc) from None


def _replace(target: str, old: os.stat_result | None, chunks: Iterable[str]) -> None:
    """Write a temporary file beside ``target`` with its mode and owner, then rename it over."""
    directory = os.path.dirname(os.path.abspath(target))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".chainsink-", suffix=".tmp", dir=directory)
    except PermissionError:
        if old is not None:  # a writable file in a directory we may not add to: as ``>``
            _write_in_place(target, chunks, os.O_WRONLY | os.O_TRUNC)
            return
        raise _error(target, PermissionError(13, "Permission denied")) from None
    except OSError as exc:
        raise _error(target, exc) from None
    try:
        with os.fdopen(fd, "wb") as f:
            _take_over(f.fileno(), old)
            _write_chunks(f, chunks)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _error(target, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _take_over(fd: int, old: os.stat_result | None) -> None:
    """Give the new file the old one's owner and mode (a new one: 0666 less the umask)."""
    if old is None:
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)
        return
    if os.geteuid() == 0:
        os.fchown(fd, old.st_uid, old.st_gid)
    else:
        with contextlib.suppress(OSError):  # a group we belong to; else the default group
            os.fchown(fd, -1, old.st_gid)
    os.fchmod(fd, stat.S_IMODE(old.st_mode))  # after chown, which clears set-id bits


def _write_chunks(f: IO[bytes], chunks: Iterable[str]) -> None:
    for chunk in chunks:
        f.write(chunk.encode("utf-8", "replace"))


def _error(target: str, exc: OSError) -> OutputError:
    return OutputError(f"{target}: cannot write ({exc.strerror or exc})")
