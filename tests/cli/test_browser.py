"""The HTML report in a real headless Chromium: it loads nothing, shows every run, expands,
searches, and runs no script that came from a log.

Needs Debian's ``chromium`` and Playwright's Python package (never ``playwright install``).
Without them these tests skip, unless ``CHAINSINK_REQUIRE_BROWSER=1`` (or ``CHAINSINK_STRICT=1``,
as CI sets) makes them fail instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import chainsink

from ._support import XSS, XSS_RUN_NAME, Log, page_data, xss_workload


class Page:
    """A report opened from disk, with its console errors and network requests recorded."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)
        self.page.wait_for_load_state("load")

    def visible_traces(self) -> int:
        """How many traces the list shows."""
        return int(self.page.locator("details.trace:not([hidden])").count())

    def expand_everything(self) -> None:
        """Open every trace, then every run's detail panel."""
        self.page.click("#expand-all")
        self.page.wait_for_function(
            "document.querySelectorAll('details.trace').length === "
            "document.querySelectorAll('details.trace .tree').length")
        rows = self.page.locator(".row.run")
        for i in range(rows.count()):
            rows.nth(i).click()

    def close(self) -> None:
        self.page.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, mixed_log: Log) -> Path:
    """The report of the agent + RAG + failing chain + hostile markup log."""
    from ._support import run_cli

    out = tmp_path_factory.mktemp("report") / "report.html"
    done = run_cli("html", mixed_log.path, "-o", out, cwd=out.parent)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture
def page(browser: Any, report: Path) -> Iterator[Page]:
    """The report open in a fresh page."""
    opened = Page(browser, report)
    yield opened
    opened.close()


def test_report_loads_nothing_and_logs_no_errors(page: Page, report: Path,
                                                tmp_path: Path) -> None:
    """The page requests nothing but its own file:// URL and logs no console error."""
    traces = page_data(report.read_text())["traces"]
    biggest = max(range(len(traces)), key=lambda i: len(traces[i]["rows"]))
    trace = page.page.locator("details.trace").nth(biggest)
    trace.locator("summary").click()
    llm = next(i for i, r in enumerate(traces[biggest]["rows"]) if r["t"] == "llm")
    trace.locator(".row.run").nth(llm).click()
    assert trace.locator(".detail").count() == 1
    page.page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert page.requests == [page.url]
    assert page.errors == []


def test_every_run_name_is_on_the_page(page: Page, mixed_log: Log) -> None:
    """With every trace expanded, each run name of the log is shown (as text)."""
    page.expand_everything()
    shown = set(page.page.eval_on_selector_all(".rname", "els => els.map(e => e.textContent)"))
    assert mixed_log.names <= shown
    assert page.errors == []


def test_expanding_a_trace_shows_its_runs(page: Page, report: Path, mixed_log: Log) -> None:
    """A trace shows no runs until expanded; then one row per run of that trace."""
    data = page_data(report.read_text())["traces"]
    trace = page.page.locator("details.trace").nth(1)
    assert trace.locator(".row.run").count() == 0
    expected = sum(1 for r in mixed_log.records
                   if r["trace_id"] == data[1]["id"] and r["event"].endswith("_start"))
    trace.locator("summary").click()
    # rows are rendered by the details' toggle event, which fires after the click returns
    trace.locator(".row.run").nth(expected - 1).wait_for(state="attached", timeout=5000)
    assert trace.locator(".row.run").count() == expected > 1
    assert trace.locator(".rname").first.text_content() == data[1]["name"]


def test_search_narrows_the_list(page: Page, mixed_log: Log) -> None:
    """Search, the errors box and the run-type filter narrow the list; clearing restores it."""
    total = page.visible_traces()
    assert total == len(mixed_log.trace_ids)
    page.page.fill("#q", "explode")
    assert page.visible_traces() == 1
    assert page.page.text_content("#count") == f"1 of {total} traces"
    page.page.fill("#q", "calculator")
    assert page.visible_traces() == 2  # the classic agent and the LangGraph one
    page.page.fill("#q", "")
    page.page.check("#errors-only")
    failed = {r["trace_id"] for r in mixed_log.records if r["event"].endswith("_error")}
    assert page.visible_traces() == len(failed)
    page.page.uncheck("#errors-only")
    page.page.select_option("#type", "retriever")
    assert page.visible_traces() == 1
    page.page.select_option("#type", "")
    assert page.visible_traces() == total


def test_markup_from_the_log_runs_nothing(page: Page) -> None:
    """<script> and onerror= from the log run nothing with every trace and run opened."""
    page.expand_everything()
    page.page.wait_for_timeout(300)  # give any injected handler (an img onerror) its chance
    assert page.page.evaluate("typeof window.__xss") == "undefined"
    text = page.page.inner_text("body")
    for payload in (*XSS, XSS_RUN_NAME):
        assert payload in text
    assert page.errors == []


def test_an_ansi_log_report_is_clean_in_the_browser(browser: Any, tmp_path: Path) -> None:
    """A report of an ANSI log shows its text with colours, loads nothing, runs nothing."""
    from ._support import run_cli

    log = tmp_path / "run.log"
    handler = chainsink.FileCallbackHandler(log, format="ansi", style="detailed")
    xss_workload([handler])
    handler.close()
    out = tmp_path / "run.html"
    assert run_cli("html", log, "-o", out, cwd=tmp_path).returncode == 0
    page = Page(browser, out)
    try:
        assert page.page.evaluate("typeof window.__xss") == "undefined"
        assert XSS[1] in page.page.inner_text("body")
        colored = page.page.locator("span.ansi1").count() + page.page.locator("span.ansi31").count()
        assert colored > 0
        assert page.requests == [page.url]
        assert page.errors == []
        if os.environ.get("CHAINSINK_SCREENSHOTS"):
            shutil.copy(out, os.environ["CHAINSINK_SCREENSHOTS"])
    finally:
        page.close()
