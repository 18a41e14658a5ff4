"""``chainsink html``: one self-contained page; everything from a log escaped; bounded detail."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from langchain_core.callbacks.manager import dispatch_custom_event
from langchain_core.runnables import RunnableConfig, RunnableLambda

import chainsink

from ._support import DATA, XSS, Log, cli_env, page_data, record_log, xss_workload


def test_page_is_self_contained(cli, tmp_path: Path, mixed_log: Log) -> None:
    """The page references no external resource and its CSP forbids network access."""
    out = tmp_path / "r.html"
    done = cli("html", mixed_log.path, "-o", out)
    assert done.returncode == 0, done.stderr
    html = out.read_text()
    markup = DATA.sub("", html)
    assert not re.search(r"(?i)<link|\bsrc\s*=|@import|url\(|https?://", markup)
    assert "default-src 'none'" in html


def test_nothing_from_a_log_reaches_the_markup_unescaped(cli, tmp_path: Path,
                                                         mixed_log: Log) -> None:
    """Log markup is escaped in the page, and the data block has no '<', '>' or '&'."""
    out = tmp_path / "r.html"
    assert cli("html", mixed_log.path, "-o", out).returncode == 0
    html = out.read_text()
    block = DATA.search(html)
    assert block
    assert not re.search(r"[<>&]", block.group(1))
    markup = DATA.sub("", html)
    for payload in XSS:
        assert payload not in markup
    assert "&lt;script&gt;window.__xss=5&lt;/script&gt;" in markup  # a run name, escaped
    texts = json.dumps(page_data(html))
    assert "window.__xss=2" in texts  # the model's answer is there, as data


def test_detail_is_bounded_failed_traces_first_and_the_summary_covers_all(
        cli, tmp_path: Path) -> None:
    """--max-traces bounds the detail, failed traces first; the summary counts all traces."""
    log = record_log(tmp_path / "many.jsonl",
                     ["lcel_invoke", "error_chain", "lcel_invoke", "retriever_chain",
                      "error_chain", "lcel_invoke", "lcel_invoke", "lcel_stream"])
    roots = [r for r in log.runs if r.parent_run_id is None]
    out = tmp_path / "r.html"
    done = cli("html", "--max-traces", "4", log.path, "-o", out)
    assert done.returncode == 0, done.stderr
    html = out.read_text()
    shown = page_data(html)["traces"]
    assert len(shown) == 4
    failed = sorted((r for r in roots if r.error), key=lambda r: r.start_time, reverse=True)
    fine = sorted((r for r in roots if not r.error), key=lambda r: r.start_time, reverse=True)
    assert [t["id"] for t in shown] == [str(r.id) for r in (failed + fine)[:4]]
    assert f"<b>{len(roots)}</b><span>traces</span>" in html
    assert "Full detail for 4 of 8 traces" in html


def test_a_trace_lists_its_runs_as_a_tree_with_timing(cli, tmp_path: Path) -> None:
    """A detailed trace lists every run in tree order, with timing inside the trace's span."""
    log = record_log(tmp_path / "rag.jsonl", ["retriever_chain"])
    out = tmp_path / "r.html"
    assert cli("html", log.path, "-o", out).returncode == 0
    (trace,) = page_data(out.read_text())["traces"]
    rows = trace["rows"]
    assert sorted(r["n"] for r in rows) == sorted(run.name for run in log.runs)
    assert rows[0]["d"] == 0 and rows[0]["e"] == len(rows)
    for i, row in enumerate(rows):
        assert row["o"] >= 0 and row["o"] + row["ms"] <= trace["span"] + 0.01
        for child in rows[i + 1:row["e"]]:
            assert child["d"] > row["d"]
    model = next(r for r in rows if r["t"] == "llm")
    assert model["tok"] == [42, 9, 51] and model["model"] == "fake-chat-1"
    retriever = next(r for r in rows if r["t"] == "retriever")
    assert retriever["in"] == "What do parrots do?" and "[1] Parrots" in retriever["out"]


def test_events_inside_a_run_read_as_the_console_shows_them(cli, tmp_path: Path) -> None:
    """Custom events inside a run are listed with their offset, as the detailed console prints."""

    def step(x: Any, config: RunnableConfig) -> Any:
        for done in (1, 2):
            dispatch_custom_event("progress", {"done": done, "total": 2}, config=config)
        return x

    log = record_log(tmp_path / "ev.jsonl",
                     [lambda h: RunnableLambda(step, name="work").invoke(1, {"callbacks": h})])
    out = tmp_path / "r.html"
    assert cli("html", log.path, "-o", out).returncode == 0
    (row,) = page_data(out.read_text())["traces"][0]["rows"]
    assert [text for _, text in row["ev"]] == ['progress {"done":1,"total":2}',
                                              'progress {"done":2,"total":2}']
    assert all(offset >= 0 for offset, _ in row["ev"])


def test_stdin_gives_the_same_page_data_as_the_file(cli, tmp_path: Path,
                                                    concurrent_log: Log) -> None:
    """One pass over stdin picks and shows the same traces as two passes over the file."""
    from_file = tmp_path / "f.html"
    assert cli("html", "--max-traces", "5", concurrent_log.path, "-o", from_file).returncode == 0
    piped = cli("html", "--max-traces", "5", "-", "-o", "-",
                stdin=concurrent_log.path.read_text())
    assert piped.returncode == 0, piped.stderr
    assert page_data(piped.stdout)["traces"] == page_data(from_file.read_text())["traces"]


def test_an_ansi_log_becomes_html_through_ansi2html(cli, tmp_path: Path) -> None:
    """An ANSI log (FileCallbackHandler format="ansi") becomes coloured, escaped HTML."""
    path = tmp_path / "run.log"
    handler = chainsink.FileCallbackHandler(path, format="ansi", style="detailed")
    xss_workload([handler])
    handler.close()
    assert "\x1b[" in path.read_text()
    out = tmp_path / "run.html"
    done = cli("html", path, "-o", out)
    assert done.returncode == 0, done.stderr
    html = out.read_text()
    assert 'class="ansi1' in html or 'class="ansi31' in html
    assert "\x1b" not in html
    for payload in XSS:
        assert payload not in html
    assert "&lt;script&gt;window.__xss=2&lt;/script&gt;" in html


def test_the_default_output_is_named_after_the_log(cli, tmp_path: Path, mixed_log: Log) -> None:
    """Without -o, the page is written to <log name>.html in the current directory."""
    done = cli("html", mixed_log.path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "mixed.html").exists()
    assert done.stderr.startswith("chainsink: wrote mixed.html: ")


def test_progress_bar_is_drawn_only_on_a_terminal(tmp_path: Path, concurrent_log: Log) -> None:
    """A long conversion draws a progress bar when stderr is a terminal, and nothing on a pipe."""
    path = tmp_path / "big.jsonl"
    data = concurrent_log.path.read_bytes()
    path.write_bytes(data * (5 * 2**20 // len(data) + 1))
    cmd = [sys.executable, "-m", "chainsink", "html", str(path), "-o", str(tmp_path / "b.html")]
    piped = subprocess.run(cmd, capture_output=True, env=cli_env(), timeout=120, check=False)
    assert piped.returncode == 0
    assert b"%" not in piped.stderr and b"\r" not in piped.stderr

    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=slave, env=cli_env())
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.wait(120) == 0
    assert b"\r" in seen and b"%" in seen and b"chainsink html: [" in seen


def test_the_page_title_is_the_log_name_and_its_time_range(cli, tmp_path: Path,
                                                           mixed_log: Log) -> None:
    """``chainsink html`` titles the page with the log's name and the time range it covers;
    ``--title`` names it instead (escaped)."""
    out = tmp_path / "r.html"
    assert cli("html", mixed_log.path, "-o", out).returncode == 0
    title = re.search("<title>(.*)</title>", out.read_text())
    assert title is not None
    stamps = sorted(r["ts"] for r in mixed_log.records)
    first, last = (s[:16].replace("T", " ") for s in (stamps[0], stamps[-1]))
    span = first if first == last else f"{first}\u2013{last[11:]}"
    assert title.group(1) == f"mixed.jsonl \u00b7 {span} UTC"
    assert cli("html", mixed_log.path, "-o", out, "--title", "<nightly>").returncode == 0
    assert f"<title>&lt;nightly&gt; \u00b7 {span} UTC</title>" in out.read_text()
