"""The HTML report in a real headless Chromium: it loads nothing, shows every run, expands,
searches (names and content), shows tracebacks and conversations, answers the keyboard, fits a
narrow screen and prints without controls, and runs no script that came from a log.

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
import workloads
from browser import WatchedPage

import chainsink

from ._support import (
    ANSWER_ONLY,
    CUSTOMER,
    TEMPERATURE,
    XSS,
    XSS_RUN_NAME,
    Log,
    answer_workload,
    markup_failure,
    page_data,
    record_with_tracebacks,
    run_cli,
    xss_workload,
)


class Page(WatchedPage):
    """A report opened from disk, with its console errors and network requests recorded."""

    def __init__(self, browser: Any, path: Path, width: int = 1400) -> None:
        super().__init__(browser, viewport={"width": width, "height": 1000})
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)
        self.page.wait_for_load_state("load")

    def visible_traces(self) -> int:
        """How many traces the list shows."""
        return int(self.page.locator("details.trace:not([hidden])").count())

    def expand_everything(self) -> None:
        """Open every trace, then every run's detail panel."""
        self.page.click("#expand-all")
        self.wait_until(
            "document.querySelectorAll('details.trace').length === "
            "document.querySelectorAll('details.trace .tree').length")
        rows = self.page.locator(".row.run")
        for i in range(rows.count()):
            rows.nth(i).click()


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
    page.page.fill("#q", "boom")  # the error_chain's message
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


# -- content: search, tracebacks, conversations (issue 14) -------------------------------------


@pytest.fixture(scope="module")
def content_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bool]:
    """The report of: a model answering :data:`ANSWER_ONLY`, a streamed chain, the LangGraph
    agent, the failing chain and a step failing with markup, every error record with its
    traceback (written in by the test where the handler does not write it yet: the flag)."""
    folder = tmp_path_factory.mktemp("content")
    log = folder / "content.jsonl"
    handler_wrote = record_with_tracebacks(log, [
        answer_workload,
        lambda h: workloads.run_workload("lcel_stream", h),
        lambda h: workloads.run_workload("create_agent", h),
        lambda h: workloads.run_workload("error_chain", h),
        markup_failure])
    out = folder / "content.html"
    done = run_cli("html", log, "-o", out, cwd=folder)
    assert done.returncode == 0, done.stderr
    return out, handler_wrote


@pytest.fixture
def content(browser: Any, content_report: tuple[Path, bool]) -> Iterator[Page]:
    opened = Page(browser, content_report[0])
    yield opened
    opened.close()


def _trace(page: Page, name: str) -> Any:
    """The first listed trace whose data has a run named ``name``."""
    return page.page.locator("details.trace").nth(_index(page, name))


def _index(page: Page, name: str) -> int:
    traces = page_data(Path(page.url.removeprefix("file://")).read_text())["traces"]
    return next(i for i, t in enumerate(traces) if any(r["n"] == name for r in t["rows"]))


def _open(trace: Any) -> None:
    trace.locator("summary").first.click()
    trace.locator(".row.run").first.wait_for(state="attached", timeout=5000)


def test_words_of_one_model_answer_find_exactly_its_trace(content: Page) -> None:
    """Typing words that occur only in one model's answer leaves that trace alone listed, and
    its model run is highlighted once the trace is open."""
    page = content.page
    assert content.visible_traces() == 5
    page.fill("#q", ANSWER_ONLY.upper())  # search ignores case
    assert content.visible_traces() == 1
    shown = page.locator("details.trace:not([hidden])")
    assert shown.evaluate("d => d.id") == f"trace-{_index(content, 'answer_chain')}"
    _open(shown)
    hits = shown.locator(".row.run.hit .rname").all_text_contents()
    assert "ScriptedChatModel" in hits and "answer_chain" in hits
    assert "ChatPromptTemplate" not in hits  # "quokkas" is in its input, the rest is not
    page.fill("#q", "")
    assert content.visible_traces() == 5


@pytest.mark.parametrize(("words", "run"), [
    (CUSTOMER, "answer_chain"),  # a metadata value
    ('"expression": "2 + 2"', None),  # not JSON text: a tool's argument as the model gave it
    ("2 + 2 = 4", "LangGraph"),  # the agent's final answer (a chat message)
    ("you do arithmetic.", "LangGraph"),  # its system prompt
    ("explode on demand", "explode"),  # a chain's input
    ("in _explode", "explode"),  # the traceback names the function that raised
])
def test_search_covers_messages_tool_arguments_metadata_and_tracebacks(
        content: Page, words: str, run: str | None) -> None:
    """Inputs, chat messages, metadata values and tracebacks are searched: each of these
    finds the one trace holding it (and JSON punctuation is no part of the text searched)."""
    content.page.fill("#q", words)
    if run is None:
        assert content.visible_traces() == 0
        return
    assert content.visible_traces() == 1
    index = _index(content, run)
    assert content.page.locator("details.trace").nth(index).is_visible()


def test_a_failure_shows_its_traceback_collapsed_until_asked(
        content: Page, content_report: tuple[Path, bool]) -> None:
    """Under the failing trace's error line and the failed run's error: a closed "traceback"
    toggle; opened, it shows the traceback, naming the function that raised, as text."""
    trace = _trace(content, "explode")
    _open(trace)
    line = trace.locator(".tree > details.tb")
    assert line.count() == 1 and not line.locator("pre").is_visible()
    line.locator("summary").click()
    text = line.locator("pre").inner_text()
    assert "in _explode" in text and "raise ValueError(ERROR_MESSAGE)" in text
    assert text.rstrip().endswith("ValueError: boom")
    rows = trace.locator(".row.run")
    names = rows.locator(".rname").all_text_contents()
    rows.nth(names.index("explode")).click()
    panel = trace.locator(".detail details.tb")
    assert panel.count() == 1 and not panel.locator("pre").is_visible()
    panel.locator("summary").click()
    assert "in _explode" in panel.locator("pre").inner_text()
    assert content.errors == []


def test_a_traceback_with_markup_is_shown_as_text(content: Page) -> None:
    """A traceback whose message holds a <script> shows it as text and runs nothing."""
    trace = _trace(content, "markup_step")
    _open(trace)
    trace.locator(".tree > details.tb summary").click()
    assert XSS[1] in trace.locator(".tree > details.tb pre").inner_text()
    assert "explode_with_markup" in trace.locator(".tree > details.tb pre").inner_text()
    assert content.page.evaluate("typeof window.__xss") == "undefined"
    assert content.errors == []


def test_run_rows_are_reachable_with_tab_and_open_with_enter(content: Page) -> None:
    """From the search box, Tab reaches a trace line (Enter opens it), then its run rows;
    Enter opens a row's detail, the arrow keys move between rows and trace lines (right
    opens a trace), and the focus is visible."""
    page = content.page
    traces = page_data(Path(content.url.removeprefix("file://")).read_text())["traces"]
    page.focus("#q")

    def tab_until(selector: str, limit: int = 40) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"document.activeElement.matches({selector!r})"):
                return
        raise AssertionError(f"Tab never reached {selector}")

    def focused() -> str:
        return str(page.evaluate(
            "(e => e.matches('summary') ? 'trace ' + e.querySelector('.tname').textContent"
            " : e.querySelector('.rname').textContent)(document.activeElement)"))

    tab_until("details.trace > summary")
    page.keyboard.press("Enter")
    first, second = page.locator("details.trace").nth(0), page.locator("details.trace").nth(1)
    assert first.get_attribute("open") is not None
    tab_until(".row.run")
    assert focused() == traces[0]["rows"][0]["n"]
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    assert first.locator(".detail").count() == 1 and first.locator(".detail").is_visible()
    page.keyboard.press("Enter")
    assert not first.locator(".detail").is_visible()
    for _ in range(len(traces[0]["rows"])):  # past this trace's last row: the next trace
        page.keyboard.press("ArrowDown")
    assert focused() == "trace " + traces[1]["name"]
    page.keyboard.press("ArrowRight")
    assert second.get_attribute("open") is not None
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert focused() == traces[1]["rows"][1]["n"]
    page.keyboard.press("Enter")
    assert second.locator(".detail:not([hidden])").count() == 1
    page.keyboard.press("ArrowUp")
    assert focused() == traces[1]["rows"][0]["n"]
    assert content.errors == []


def test_a_model_run_shows_its_conversation_parameters_and_first_token(content: Page) -> None:
    """A chat model's detail lays out its messages by role, with tool calls; its invocation
    parameters; and, when it streamed, its time to first token."""
    trace = _trace(content, "LangGraph")
    _open(trace)
    rows = trace.locator(".row.run")
    names = rows.locator(".rname").all_text_contents()
    last_model = len(names) - 1 - names[::-1].index("ScriptedChatModel")
    rows.nth(last_model).click()
    panel = trace.locator(".detail")
    roles = panel.locator(".msg .role b").all_text_contents()
    assert [r.lower() for r in roles] == ["system", "human", "ai", "tool", "ai"]
    call = panel.locator(".msg .call").inner_text()
    assert call.startswith("calculator(") and '"expression": "2 + 2"' in call
    assert panel.locator(".msg.ai .content").last.inner_text() == "2 + 2 = 4"

    answer = content.page.locator("details.trace").nth(_index(content, "answer_chain"))
    _open(answer)
    model_rows = answer.locator(".row.run", has_text="ScriptedChatModel")
    model_rows.first.click()
    detail = answer.locator(".detail").first
    params = dict(zip(detail.locator("dl.params dt").all_text_contents(),
                      detail.locator("dl.params dd").all_text_contents(), strict=True))
    assert params.get("temperature") == str(TEMPERATURE) and params.get("max_tokens") == "64"
    assert content.errors == []


def test_a_streamed_model_run_shows_its_time_to_first_token(content: Page,
                                                             content_report: tuple[Path, bool]
                                                             ) -> None:
    """The streamed chain's model run says when its first token came (after its start)."""
    traces = page_data(content_report[0].read_text())["traces"]
    streamed = [r for t in traces for r in t["rows"] if "ttft" in r]
    assert len(streamed) == 1 and 0 <= streamed[0]["ttft"] <= streamed[0]["ms"]
    trace = content.page.locator("details.trace").nth(
        next(i for i, t in enumerate(traces) if any("ttft" in r for r in t["rows"])))
    _open(trace)
    trace.locator(".row.run", has_text="ScriptedChatModel").first.click()
    assert "first token" in trace.locator(".detail dt").all_text_contents()


def test_at_420_px_nothing_scrolls_sideways(browser: Any, content_report: tuple[Path, bool],
                                            report: Path) -> None:
    """At a 420 px wide viewport, with every trace and every run detail open, the page is no
    wider than the screen, and each run's name is on screen."""
    for path in (content_report[0], report):
        narrow = Page(browser, path, width=420)
        try:
            narrow.expand_everything()
            for toggle in narrow.page.locator("details.tb > summary").all():
                toggle.click()
            width = narrow.page.evaluate("document.scrollingElement.scrollWidth")
            assert width <= 420, (path.name, width)
            for box in narrow.page.locator(".row.run .rname").all():
                rect = box.bounding_box()
                assert rect is not None and rect["x"] >= 0 and rect["x"] + 20 <= 420
            assert narrow.errors == []
        finally:
            narrow.close()


def test_printing_hides_the_controls_and_keeps_the_traces(content: Page) -> None:
    """Printed, the page has no search box, filters or buttons; it shows each trace's line,
    the runs of an open trace and, opened for the print only, its traceback."""
    failing = _trace(content, "explode")
    _open(failing)
    content.page.emulate_media(media="print")
    assert not content.page.locator("#q").is_visible()
    assert not content.page.locator("#expand-all").is_visible()
    assert content.page.locator("details.trace > summary").first.is_visible()
    assert failing.locator(".row.run").first.is_visible()
    content.page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert "in _explode" in failing.locator(".tree > details.tb pre").inner_text()
    pdf = content.page.pdf()
    assert pdf.startswith(b"%PDF") and len(pdf) > 5_000
    content.page.evaluate("window.dispatchEvent(new Event('afterprint'))")
    assert not failing.locator(".tree > details.tb pre").is_visible()
    content.page.emulate_media(media="screen")
    assert content.page.locator("#q").is_visible()
