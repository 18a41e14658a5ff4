"""Bad input gets one clear stderr line naming the file (and line), a defined exit code, and
never a traceback; piping into ``head`` ends quietly; usage errors exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ._support import Log, cli_env

COMMANDS = ["tail", "stats", "html"]


def _lines(stderr: str) -> list[str]:
    """stderr without html's closing ``wrote ...`` note."""
    return [line for line in stderr.splitlines() if not line.startswith("chainsink: wrote ")]


def _run(cli: Any, command: str, path: Path, out: Path) -> Any:
    """Run ``command`` on ``path``; ``html`` writes its page to ``out``."""
    return cli(command, path, "-o", out) if command == "html" else cli(command, path)


def _good_lines(log: Log, n: int = 6) -> list[str]:
    return [json.dumps(r) for r in log.records[:n]]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("case", "needle"), [
    ("missing", "no such file"),
    ("directory", "is a directory"),
    ("binary", "binary data"),
    ("empty", "empty, no records"),
    ("json_not_records", "no chainsink records (3 bad lines; line 1: not a JSON object"),
    ("partial_only", "no chainsink records (line 1: partial last line)"),
])
def test_nothing_usable_is_one_line_and_exit_1(cli, tmp_path: Path, command: str, case: str,
                                               needle: str) -> None:
    """Nothing usable in the input: exit 1 and exactly one stderr line naming the file."""
    path = tmp_path / f"{case}.jsonl"
    if case == "directory":
        path.mkdir()
    elif case == "binary":
        path.write_bytes(bytes(range(256)) * 64)
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "json_not_records":
        path.write_text('[1, 2]\n"text"\n{"a": 1}\n')
    elif case == "partial_only":
        path.write_text('{"v": 1, "event": "chain_start", "run_id": "x"')
    done = _run(cli, command, path, tmp_path / "out.html")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"chainsink: {path}: ")
    assert needle in lines[0]
    assert not (tmp_path / "out.html").exists()


@pytest.mark.parametrize("command", ["tail", "stats"])
def test_a_text_file_is_not_a_jsonl_log(cli, tmp_path: Path, command: str) -> None:
    """A plain text file given to tail or stats: exit 1, one line naming it."""
    path = tmp_path / "notes.txt"
    path.write_text("hello\nthis is not json\n")
    done = cli(command, path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"chainsink: {path}: a text log, not JSONL (chainsink html renders text logs)"]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_corrupt_line_in_the_middle_is_a_warning_and_the_rest_is_used(
        cli, tmp_path: Path, mixed_log: Log, command: str) -> None:
    """A corrupt line mid-file: one warning naming file and line, exit 0, the rest used."""
    good = _good_lines(mixed_log)
    path = tmp_path / "corrupt.jsonl"
    path.write_text("\n".join([*good[:3], '{"v": 1, "event": "chain_st', *good[3:]]) + "\n")
    out = tmp_path / "corrupt.html"
    done = _run(cli, command, path, out)
    assert done.returncode == 0
    assert "Traceback" not in done.stderr
    lines = _lines(done.stderr)
    assert len(lines) == 1
    assert lines[0].startswith(f"chainsink: skipped {path}:4: not valid JSON (")
    assert (out.stat().st_size if command == "html" else len(done.stdout)) > 0


@pytest.mark.parametrize("command", COMMANDS)
def test_a_partial_last_line_is_a_warning(cli, tmp_path: Path, mixed_log: Log,
                                          command: str) -> None:
    """A half-written last line: one warning naming file and line, exit 0."""
    good = _good_lines(mixed_log)
    path = tmp_path / "partial.jsonl"
    path.write_text("\n".join(good) + "\n" + good[0][:50])
    done = _run(cli, command, path, tmp_path / "p.html")
    assert done.returncode == 0
    assert _lines(done.stderr) == [f"chainsink: skipped {path}:{len(good) + 1}: partial last line"]


@pytest.mark.parametrize("command", COMMANDS)
def test_many_bad_lines_are_capped(cli, tmp_path: Path, mixed_log: Log, command: str) -> None:
    """Past ten bad lines in a file, the rest are counted in one closing line."""
    good = _good_lines(mixed_log, 2)
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(good + ["garbage"] * 25) + "\n")
    done = _run(cli, command, path, tmp_path / "m.html")
    assert done.returncode == 0
    lines = _lines(done.stderr)
    assert len(lines) == 11
    assert lines[0].startswith(f"chainsink: skipped {path}:3: not valid JSON (")
    assert lines[-1] == f"chainsink: {path}: 15 more bad lines skipped"


@pytest.mark.parametrize("command", COMMANDS)
def test_a_multi_megabyte_record_is_read_and_shown_cut(cli, tmp_path: Path, mixed_log: Log,
                                                       command: str) -> None:
    """A valid 5 MB record is read without complaint; what is shown of it is cut short."""
    big = dict(mixed_log.records[0], inputs={"input": "x" * (5 * 2**20)})
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join([json.dumps(big), *_good_lines(mixed_log)[1:]]) + "\n")
    out = tmp_path / "big.html"
    done = _run(cli, command, path, out)
    assert done.returncode == 0
    assert _lines(done.stderr) == []
    shown = out.stat().st_size if command == "html" else len(done.stdout)
    assert 0 < shown < 2**20


@pytest.mark.parametrize("command", COMMANDS)
def test_a_multi_megabyte_corrupt_line_is_one_warning(cli, tmp_path: Path, mixed_log: Log,
                                                      command: str) -> None:
    """A 5 MB line that is not JSON: one warning naming file and line, the rest used."""
    good = _good_lines(mixed_log)
    path = tmp_path / "bigbad.jsonl"
    path.write_text("\n".join([*good[:2], "{" + "y" * (5 * 2**20), *good[2:]]) + "\n")
    done = _run(cli, command, path, tmp_path / "b.html")
    assert done.returncode == 0
    lines = _lines(done.stderr)
    assert len(lines) == 1
    assert lines[0].startswith(f"chainsink: skipped {path}:3: not valid JSON")


def test_one_missing_file_among_good_ones_is_reported_and_the_rest_used(
        cli, tmp_path: Path, mixed_log: Log) -> None:
    """A missing file next to a good log: one line for it, exit 0 with the good log's stats."""
    missing = tmp_path / "nope.jsonl"
    done = cli("stats", "--json", missing, mixed_log.path)
    assert done.returncode == 0
    assert done.stderr.splitlines() == [f"chainsink: {missing}: no such file"]
    assert json.loads(done.stdout)["records"] == len(mixed_log.records)


def test_follow_of_a_missing_file_exits_1(cli, tmp_path: Path) -> None:
    """tail -f of a file that does not exist: one line, exit 1 (nothing to follow)."""
    missing = tmp_path / "nope.jsonl"
    done = cli("tail", "-f", missing)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"chainsink: {missing}: no such file"]


def test_html_output_that_cannot_be_written_is_one_line(cli, tmp_path: Path,
                                                        mixed_log: Log) -> None:
    """-o into a missing directory: exit 1, one line naming the output."""
    target = tmp_path / "no" / "such" / "dir" / "r.html"
    done = cli("html", mixed_log.path, "-o", target)
    assert done.returncode == 1
    assert done.stderr.splitlines()[0].startswith(f"chainsink: {target}: cannot write")
    assert len(done.stderr.splitlines()) == 1


@pytest.mark.parametrize("args", [
    [],
    ["bogus"],
    ["tail"],
    ["tail", "--event", "nonsense", "x.jsonl"],
    ["tail", "--style", "fancy", "x.jsonl"],
    ["html", "--max-traces", "-1", "x.jsonl"],
    ["stats", "-", "-"],
])
def test_usage_errors_exit_2(cli, args: list[str]) -> None:
    """A wrong command line exits 2 with a usage message, never a traceback."""
    done = cli(*args)
    assert done.returncode == 2
    assert "usage: chainsink" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", [["tail", "--no-color"], ["stats"], ["html", "-o", "-"]])
def test_output_piped_to_head_ends_quietly(tmp_path: Path, concurrent_log: Log,
                                           command: list[str]) -> None:
    """When the reader of stdout goes away (``| head -1``), the command exits 0, silently."""
    path = tmp_path / "long.jsonl"
    path.write_bytes(concurrent_log.path.read_bytes() * 20)
    proc = subprocess.Popen([sys.executable, "-m", "chainsink", command[0], *command[1:],
                             str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=cli_env())
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()
    code = proc.wait(60)
    err = proc.stderr.read().decode()
    assert code == 0
    assert err == ""
