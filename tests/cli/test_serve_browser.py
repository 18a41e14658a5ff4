"""``chainsink serve`` in a real headless Chromium: the list and the open trace follow the log.

A real ``python -m chainsink serve`` process on a free port of 127.0.0.1 serves real logs; runs
are appended by other real processes running LangChain runnables with chainsink's file
handlers. Needs Debian's ``chromium`` and Playwright's Python package (see tests/browser.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import WatchedPage

from ._serve_support import WAIT, Serve, append_run
from ._support import XSS, XSS_RUN_NAME, cli_env, record_log, xss_workload

#: The issue's bound for a run appended by another process to show in the open page.
LIVE_WITHIN_MS = 2000


class LivePage(WatchedPage):
    """The viewer open in a fresh page, with its console errors, dialogs and requests."""

    def __init__(self, browser: Any, server: Serve) -> None:
        super().__init__(browser, viewport={"width": 1400, "height": 1000})
        self.server = server
        self.page.goto(server.url)
        self.page.wait_for_load_state("load")
        self.wait_until(
            "() => document.getElementById('live-status').textContent.startsWith('live')",
            timeout=WAIT)

    def names(self) -> list[str]:
        """The names of the listed traces, in order."""
        return list(self.page.eval_on_selector_all(
            "details.trace .tname", "els => els.map(e => e.textContent)"))

    def trace(self, name: str) -> Any:
        """The list item of the trace called ``name``."""
        return self.page.locator("details.trace").filter(
            has=self.page.locator(".tname", has_text=name)).first

    def wait_for_trace(self, name: str, timeout_ms: float = WAIT * 1000) -> None:
        """Wait until a trace called ``name`` is listed."""
        self.wait_until(
            "name => Array.from(document.querySelectorAll('details.trace .tname'))"
            ".some(e => e.textContent === name)", arg=name, timeout=timeout_ms / 1000)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """A log with one run written before the server starts."""
    path = tmp_path / "app.jsonl"
    append_run(path, "first_run")
    return path


@pytest.fixture
def server(log: Path) -> Iterator[Serve]:
    """``chainsink serve`` over that log (the directory, so rotated files come along)."""
    served = Serve(log.parent)
    yield served
    code, err = served.interrupt()
    assert code == 130 and "Traceback" not in err


@pytest.fixture
def page(browser: Any, server: Serve) -> Iterator[LivePage]:
    """The viewer open in Chromium."""
    opened = LivePage(browser, server)
    yield opened
    opened.close()


def test_lists_traces_and_loads_a_trace_on_demand(page: LivePage) -> None:
    """The page lists the log's trace; opening it fetches its runs from the server and shows
    one row per run; nothing but the server's own origin is asked, and nothing fails."""
    page.wait_for_trace("first_run")
    assert page.names() == ["first_run"]
    trace = page.trace("first_run")
    assert trace.locator(".row.run").count() == 0
    trace.locator("summary").click()
    trace.locator(".row.run").nth(1).wait_for(state="attached", timeout=WAIT * 1000)
    assert trace.locator(".rname").all_text_contents() == ["first_run", "first_run_inner"]
    assert any("/trace?id=" in url for url in page.requests)
    assert all(url.startswith(page.server.url) for url in page.requests)
    assert page.errors == []


def test_a_run_appended_by_another_process_shows_within_2s(page: LivePage, log: Path) -> None:
    """A run logged by another process (a LangChain runnable with FileCallbackHandler(format=
    "jsonl") into the same file) is listed within 2 s without a reload."""
    page.page.evaluate("window.__same_document = true")
    append_run(log, "appended_run")
    page.wait_for_trace("appended_run", timeout_ms=LIVE_WITHIN_MS)
    assert page.names() == ["first_run", "appended_run"]
    assert page.page.evaluate("window.__same_document") is True  # never reloaded
    trace = page.trace("appended_run")
    trace.locator("summary").click()
    trace.locator(".row.run").nth(1).wait_for(state="attached", timeout=WAIT * 1000)
    assert page.errors == []


def test_a_rotated_log_keeps_updating(page: LivePage, log: Path) -> None:
    """With RotatingFileCallbackHandler rotating during each run, each new run is listed, and
    loads whole though its records are in two files."""
    for i in range(3):
        append_run(log, f"rotating_{i}", "rotating")
        page.wait_for_trace(f"rotating_{i}")
    assert (log.parent / "app.jsonl.1").exists()
    trace = page.trace("rotating_0")
    trace.locator("summary").click()
    trace.locator(".row.run").nth(1).wait_for(state="attached", timeout=WAIT * 1000)
    assert trace.locator(".rname").all_text_contents() == ["rotating_0", "rotating_0_inner"]
    assert page.errors == []


#: A child that starts a run, waits for a file to appear, then ends it: a trace in flight.
SLOW_CHILD = r"""
import os, sys, time
import chainsink
from langchain_core.runnables import RunnableLambda

path, gate = sys.argv[1], sys.argv[2]
handler = chainsink.FileCallbackHandler(path, format="jsonl")

def wait(x):
    deadline = time.monotonic() + 60
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.05)
    return x

step = RunnableLambda(lambda x: x, name="late_step")
RunnableLambda(lambda x: step.invoke(wait(x)), name="slow_run").invoke(
    "x", config={"callbacks": [handler]})
handler.close()
"""


def test_the_open_trace_follows_its_run(page: LivePage, log: Path, tmp_path: Path) -> None:
    """A trace opened while its run is in flight shows the runs logged later, and its end,
    without a reload."""
    gate = tmp_path / "gate"
    child = subprocess.Popen([sys.executable, "-c", SLOW_CHILD, str(log), str(gate)],
                             env=cli_env(), stderr=subprocess.PIPE, text=True)
    try:
        page.wait_for_trace("slow_run")
        trace = page.trace("slow_run")
        trace.locator("summary").click()
        trace.locator(".row.run").first.wait_for(state="attached", timeout=WAIT * 1000)
        assert trace.locator(".rname").all_text_contents() == ["slow_run"]
        assert trace.locator(".badge-inc").count() == 1  # not ended yet
        gate.write_text("go")
        assert child.wait(WAIT) == 0, child.stderr.read() if child.stderr else ""
        page.wait_until(
            "() => Array.from(document.querySelectorAll('details.trace[open] .rname'))"
            ".map(e => e.textContent).join(',') === 'slow_run,late_step'", timeout=WAIT)
        assert trace.evaluate("d => d.open") is True
        assert trace.locator(".badge-inc").count() == 0
    finally:
        gate.write_text("go")
        child.wait(WAIT)
    assert page.errors == []


def test_an_expanded_run_stays_expanded_when_its_trace_changes(page: LivePage, log: Path,
                                                               tmp_path: Path) -> None:
    """A run whose details the user expanded in the open trace stays expanded when the trace
    is drawn again because its run logged more."""
    gate = tmp_path / "gate"
    child = subprocess.Popen([sys.executable, "-c", SLOW_CHILD, str(log), str(gate)],
                             env=cli_env(), stderr=subprocess.PIPE, text=True)
    try:
        page.wait_for_trace("slow_run")
        trace = page.trace("slow_run")
        trace.locator("summary").click()
        row = trace.locator(".row.run").first
        row.wait_for(state="attached", timeout=WAIT * 1000)
        row.click()
        assert trace.locator(".row.run.opened .rname").all_text_contents() == ["slow_run"]
        gate.write_text("go")
        assert child.wait(WAIT) == 0, child.stderr.read() if child.stderr else ""
        page.wait_until(
            "() => Array.from(document.querySelectorAll('details.trace[open] .rname'))"
            ".map(e => e.textContent).join(',') === 'slow_run,late_step'", timeout=WAIT)
        assert trace.locator(".badge-inc").count() == 0  # drawn again: the run ended
        assert trace.locator(".row.run.opened .rname").all_text_contents() == ["slow_run"]
        assert trace.locator(".row.run.opened + .detail").first.is_visible()
    finally:
        gate.write_text("go")
        child.wait(WAIT)
    assert page.errors == []


def test_markup_in_the_log_runs_nothing(browser: Any, tmp_path: Path) -> None:
    """<script>, onerror= and friends in a log, there at start or appended live, run nothing
    with every trace opened (no dialog, no global set, no console error)."""
    log = record_log(tmp_path / "xss.jsonl", [xss_workload])
    served = Serve(log.path)
    page = LivePage(browser, served)
    try:
        script = ("import sys, chainsink; sys.path[:0] = [sys.argv[2]]\n"
                  "from cli._support import xss_workload\n"
                  "h = chainsink.FileCallbackHandler(sys.argv[1], format='jsonl')\n"
                  "xss_workload([h]); h.close()\n")
        tests_dir = str(Path(__file__).resolve().parents[1])
        done = subprocess.run([sys.executable, "-c", script, str(log.path), tests_dir],
                              env=cli_env(), capture_output=True, text=True, timeout=120,
                              check=False)
        assert done.returncode == 0, done.stderr
        expected = 2 * len(log.trace_ids)
        page.wait_until(
            "n => document.querySelectorAll('details.trace').length === n", arg=expected,
            timeout=WAIT)
        page.page.click("#expand-all")
        page.wait_until(
            "() => document.querySelectorAll('details.trace').length === "
            "document.querySelectorAll('details.trace .tree:not(.loading)').length",
            timeout=WAIT)
        rows = page.page.locator(".row.run")
        for i in range(rows.count()):
            rows.nth(i).click()
        time.sleep(0.3)  # give an injected handler (an img onerror) its chance to run
        assert page.page.evaluate("typeof window.__xss") == "undefined"
        text = page.page.inner_text("body")
        for payload in (*XSS, XSS_RUN_NAME):
            assert payload in text
        assert page.dialogs == []
        assert page.errors == []
    finally:
        page.close()
        code, err = served.interrupt()
    assert code == 130 and "Traceback" not in err


def test_survives_the_server_going_away(browser: Any, log: Path) -> None:
    """When the server stops, the page says so and keeps what it shows (no console error
    but the browser's own about the lost connection)."""
    served = Serve(log)
    page = LivePage(browser, served)
    try:
        page.wait_for_trace("first_run")
        served.interrupt()
        page.wait_until(
            "() => document.getElementById('live-status').textContent.includes('lost')",
            timeout=WAIT)
        assert page.names() == ["first_run"]
        assert all("EventSource" in e or "ERR_CONNECTION_REFUSED" in e or
                   "Failed to load resource" in e for e in page.errors), page.errors
    finally:
        page.close()
    assert os.path.exists(log)
