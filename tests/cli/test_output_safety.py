"""``-o PATH`` writes like a shell's ``>``: whatever is there keeps its identity, mode and owner,
and a report never overwrites one of its own inputs.

No test here touches the machine's device nodes: the FIFO, the character device and the
``/dev/stdout`` look-alike are made in a temporary directory.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ._support import Log, cli_env, page_data


def _html(*args: object, cwd: Path, stdout: object = subprocess.PIPE
          ) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "chainsink", "html", *map(str, args)],
                          cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, env=cli_env(),
                          timeout=120, check=False)


def _errors(done: subprocess.CompletedProcess[bytes]) -> list[str]:
    return [line for line in done.stderr.decode().splitlines()
            if not line.startswith("chainsink: wrote ")]


def test_an_existing_report_keeps_its_mode_and_owner(tmp_path: Path, mixed_log: Log) -> None:
    """A 0600 report owned by someone else is replaced whole, still 0600 and theirs."""
    out = tmp_path / "private.html"
    out.write_text("old report")
    out.chmod(0o600)
    os.chown(out, 12345, 23456)
    done = _html(mixed_log.path, "-o", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    st = out.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert (st.st_uid, st.st_gid) == (12345, 23456)
    assert page_data(out.read_text())["traces"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["private.html"]  # no temp file left


def test_a_new_report_gets_the_mode_open_would_give(tmp_path: Path, mixed_log: Log) -> None:
    """A report written where nothing was gets 0666 less the umask, like ``>``."""
    out = tmp_path / "new.html"
    done = _html(mixed_log.path, "-o", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask


def test_a_symlink_stays_a_symlink_and_its_target_gets_the_page(tmp_path: Path,
                                                                mixed_log: Log) -> None:
    """-o through a symlink writes the file it points to; the link itself stays."""
    real = tmp_path / "reports" / "today.html"
    real.parent.mkdir()
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "latest.html"
    link.symlink_to(real)
    done = _html(mixed_log.path, "-o", link, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert page_data(real.read_text())["traces"]


def test_a_dangling_symlink_creates_its_target(tmp_path: Path, mixed_log: Log) -> None:
    """-o to a symlink whose target does not exist yet creates the target, like ``>``."""
    link = tmp_path / "latest.html"
    link.symlink_to("made.html")
    done = _html(mixed_log.path, "-o", link, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert link.is_symlink()
    assert page_data((tmp_path / "made.html").read_text())["traces"]


def test_a_hard_linked_report_is_written_in_place(tmp_path: Path, mixed_log: Log) -> None:
    """A report with a second name is rewritten in place, so both names show the new page."""
    out = tmp_path / "r.html"
    out.write_text("old")
    other = tmp_path / "also.html"
    os.link(out, other)
    done = _html(mixed_log.path, "-o", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_ino == other.stat().st_ino
    assert page_data(other.read_text())["traces"]


class _FifoReader(threading.Thread):
    """Reads a FIFO until told to stop, from a descriptor opened before any writer."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # never blocks, even with no writer
        self.data = bytearray()
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while True:
                stopping = self.stop.is_set()  # drain once more after being told to stop
                try:
                    chunk = os.read(self.fd, 1 << 16)
                except BlockingIOError:  # a writer, but nothing written yet
                    chunk = b""
                if chunk:
                    self.data += chunk
                elif stopping:
                    return
                else:
                    self.stop.wait(0.02)
        finally:
            os.close(self.fd)


def test_a_fifo_is_written_into_not_replaced(tmp_path: Path, mixed_log: Log) -> None:
    """-o to a FIFO sends the page down the pipe; the FIFO is still there afterwards."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = _FifoReader(fifo)
    reader.start()
    try:
        done = _html(mixed_log.path, "-o", fifo, cwd=tmp_path)
    finally:
        reader.stop.set()
        reader.join(10)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert page_data(reader.data.decode())["traces"]


def test_a_character_device_is_written_into_not_replaced(tmp_path: Path, mixed_log: Log) -> None:
    """-o to a character device (a private /dev/null clone) writes to it and leaves it be."""
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except OSError as exc:  # not root, or no CAP_MKNOD here
        pytest.skip(f"cannot make a device node: {exc}")
    before = os.lstat(node)
    done = _html(mixed_log.path, "-o", node, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    st = os.lstat(node)
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    assert (st.st_ino, st.st_mode) == (before.st_ino, before.st_mode)


@pytest.mark.parametrize("redirect", ["pipe", "append"])
def test_a_dev_stdout_alike_writes_to_stdout(tmp_path: Path, mixed_log: Log,
                                            redirect: str) -> None:
    """-o to a link to /proc/self/fd/1 (what /dev/stdout is) writes to stdout as it stands:
    down a pipe, or after what a file opened for appending already holds."""
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    if redirect == "pipe":
        done = _html(mixed_log.path, "-o", link, cwd=tmp_path)
        page = done.stdout.decode()
    else:
        log = tmp_path / "out.log"
        log.write_text("kept line\n")
        with open(log, "ab") as sink:
            done = _html(mixed_log.path, "-o", link, cwd=tmp_path, stdout=sink)
        kept, page = log.read_text().split("\n", 1)
        assert kept == "kept line"
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"
    assert page_data(page)["traces"]


@pytest.mark.parametrize("spelling", ["same", "dot", "absolute", "symlink", "hardlink"])
def test_an_output_that_is_an_input_is_refused(tmp_path: Path, mixed_log: Log,
                                               spelling: str) -> None:
    """-o naming one of the inputs, however spelt, is one line and exit 1; the log is kept."""
    log = tmp_path / "b.jsonl"
    data = mixed_log.path.read_bytes()
    log.write_bytes(data)
    out = {"same": "b.jsonl", "dot": "./b.jsonl", "absolute": str(log),
           "symlink": "link.jsonl", "hardlink": "hard.jsonl"}[spelling]
    if spelling == "symlink":
        (tmp_path / out).symlink_to("b.jsonl")
    elif spelling == "hardlink":
        os.link(log, tmp_path / out)
    done = _html(mixed_log.path, "b.jsonl", "-o", out, cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"chainsink: {out}: ") and "input" in lines[0]
    assert log.read_bytes() == data


def test_an_output_that_stdin_is_read_from_is_refused(tmp_path: Path, mixed_log: Log) -> None:
    """``html - -o b.jsonl < b.jsonl``: the output is the input too; refused, log kept."""
    log = tmp_path / "b.jsonl"
    data = mixed_log.path.read_bytes()
    log.write_bytes(data)
    with open(log, "rb") as stdin:
        done = subprocess.run([sys.executable, "-m", "chainsink", "html", "-", "-o", "b.jsonl"],
                              cwd=tmp_path, stdin=stdin, capture_output=True, env=cli_env(),
                              timeout=120, check=False)
    assert done.returncode == 1
    assert len(done.stderr.decode().splitlines()) == 1
    assert log.read_bytes() == data


def test_stdout_appended_to_an_input_is_refused(tmp_path: Path) -> None:
    """`html LOG -o - >> LOG` would read its own page back (a text log grew without end):
    refused with one line, and the log keeps its bytes."""
    log = tmp_path / "grow.log"
    log.write_bytes(b"plain text log\n> Entering new X chain...\n")
    before = log.read_bytes()
    with open(log, "ab") as out:
        done = subprocess.run([sys.executable, "-m", "chainsink", "html", str(log), "-o", "-"],
                              stdout=out, stderr=subprocess.PIPE, env=cli_env(), timeout=60,
                              check=False)
    assert done.returncode == 1
    assert _errors(done) == ["chainsink: stdout: is one of the inputs; write the report "
                             "elsewhere"]
    assert log.read_bytes() == before


def test_stdin_report_goes_to_stdout_by_default(tmp_path: Path, mixed_log: Log) -> None:
    """`html - < LOG` with no -o writes the page to stdout (the README's default for stdin)."""
    with open(mixed_log.path, "rb") as src:
        done = subprocess.run([sys.executable, "-m", "chainsink", "html", "-"], stdin=src,
                              capture_output=True, env=cli_env(), timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert page_data(done.stdout.decode("utf-8"))["traces"]
