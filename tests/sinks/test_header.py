"""File sinks given a header (an HTML page's head) write it once at the top of each file they
start: a new or empty file, one replaced under them, each rotated file; never when appending
to a file with content, nor twice after a failed write."""

from __future__ import annotations

import glob
import os
import re
import threading
from pathlib import Path

import pytest

from chainsink.formatters import HtmlFormatter
from chainsink.sinks import FileSink, RotatingFileSink

HEAD = HtmlFormatter().header("x")


def heads(text: str) -> int:
    """How many page heads ``text`` holds."""
    return text.count("<!DOCTYPE html>")


def test_header_written_once_for_a_new_file_and_never_when_appending(tmp_path: Path) -> None:
    """A new file starts with the head; later records and a second sink appending to the
    non-empty file add none; an empty existing file gets it."""
    path = tmp_path / "run.html"
    sink = FileSink(path, header=HEAD)
    sink.write("<span>1</span>")
    sink.flush()
    sink.write("<span>2</span>")
    sink.close()
    again = FileSink(path, header=HEAD)
    again.write("<span>3</span>")
    again.close()
    assert path.read_text() == HEAD + "<span>1</span><span>2</span><span>3</span>"
    empty = tmp_path / "empty.html"
    empty.touch()
    sink = FileSink(empty, header=HEAD)
    sink.write("<span>1</span>")
    sink.close()
    assert empty.read_text() == HEAD + "<span>1</span>"


def test_no_header_before_a_first_record_nor_when_appending_to_other_content(
        tmp_path: Path) -> None:
    """A sink that wrote nothing leaves no file; appending to a file with content (even not a
    page) adds records only; mode "w" starts the file over, head first."""
    path = tmp_path / "run.html"
    FileSink(path, header=HEAD).close()
    assert not path.exists()
    path.write_text("earlier\n")
    sink = FileSink(path, header=HEAD)
    sink.write("<span>1</span>")
    sink.close()
    assert path.read_text() == "earlier\n<span>1</span>"
    sink = FileSink(path, "w", header=HEAD)
    sink.write("<span>2</span>")
    sink.close()
    assert path.read_text() == HEAD + "<span>2</span>"


def test_a_file_replaced_under_the_sink_starts_with_the_header(tmp_path: Path) -> None:
    """Deleted (or moved away by another tool) mid-run, the file is started again, head
    first."""
    path = tmp_path / "run.html"
    sink = FileSink(path, header=HEAD)
    sink.write("<span>1</span>")
    sink.flush()
    os.replace(path, tmp_path / "old.html")
    sink.write("<span>2</span>")
    sink.close()
    assert (tmp_path / "old.html").read_text() == HEAD + "<span>1</span>"
    assert path.read_text() == HEAD + "<span>2</span>"


def test_a_failed_first_write_does_not_repeat_the_header(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    """Records that could not be written (the directory is missing) are retried; the file
    then starts with the head once."""
    path = tmp_path / "later" / "run.html"
    sink = FileSink(path, header=HEAD)
    sink.write("<span>1</span>")
    sink.flush()
    assert "later" in capsys.readouterr().err  # reported, kept
    path.parent.mkdir()
    sink.write("<span>2</span>")
    sink.close()
    assert path.read_text() == HEAD + "<span>1</span><span>2</span>"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_pipe_gets_the_header_once(tmp_path: Path) -> None:
    """A FIFO has no size to say it is new: the head goes once, before the first record."""
    path = tmp_path / "pipe.html"
    os.mkfifo(path)
    got: list[bytes] = []
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)

    def read() -> None:
        os.set_blocking(reader, True)
        while chunk := os.read(reader, 65536):
            got.append(chunk)

    sink = FileSink(path, header=HEAD)
    sink.write("<span>1</span>")
    sink.flush()
    # read once the sink holds the FIFO open (a FIFO with no writer reads as ended)
    thread = threading.Thread(target=read)
    thread.start()
    sink.write("<span>2</span>")
    sink.close()
    thread.join(30)
    os.close(reader)
    assert b"".join(got).decode() == HEAD + "<span>1</span><span>2</span>"


def test_each_rotated_file_starts_with_the_header(tmp_path: Path) -> None:
    """Rotating, every file (the current one and each backup) starts with the head, once, and
    holds whole records; a record bigger than the limit still gets a file of its own."""
    path = tmp_path / "run.html"
    sink = RotatingFileSink(path, max_bytes=len(HEAD) + 40, backup_count=50, header=HEAD)
    records = [f"<span>{i:03}</span>" for i in range(20)] + ["<span>" + "x" * 200 + "</span>"]
    for i, record in enumerate(records):
        sink.write(record)
        if i % 3 == 0:
            sink.flush()
    sink.close()
    files = sorted(glob.glob(f"{path}*"), key=lambda name: -int(name.rsplit(".", 1)[1])
                   if name[-1].isdigit() else 0)
    files = [name for name in files if not name.endswith(".lock")]
    assert len(files) > 5
    bodies = []
    for name in files:
        text = Path(name).read_text()
        assert text.startswith(HEAD) and heads(text) == 1, name
        body = text[len(HEAD):]
        assert body and re.fullmatch(r"(<span>[^<]*</span>)+", body), name
        bodies.append(body)
    assert "".join(bodies) == "".join(records)
