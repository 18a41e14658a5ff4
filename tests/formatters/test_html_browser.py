"""A ``format="html"`` log in a real headless Chromium: readable while it grows, loading
nothing, running nothing that came from a run.

Needs Debian's ``chromium`` and Playwright's Python package (the shared ``browser`` fixture of
``tests/browser.py``); without them these tests skip, unless ``CHAINSINK_REQUIRE_BROWSER=1``
(or ``CHAINSINK_STRICT=1``) makes them fail instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import workloads
from browser import WatchedPage
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda

from chainsink import FileCallbackHandler, RotatingFileCallbackHandler

#: Markup that would set ``window.pwned`` or open a dialog if anything from the log ran.
PAYLOADS = (
    '<img src=x onerror="window.pwned=1">',
    "<script>window.pwned=2</script>",
    '"><svg onload="window.pwned=3;alert(3)">',
    "</span></body><script>alert(4)</script>",
    '<iframe srcdoc="<script>parent.pwned=5</script>"></iframe>',
    '<a href="javascript:alert(6)">x</a><form action="https://example.com"><button>y',
    '<link rel=stylesheet href="https://example.com/x.css"><style>body{display:none}</style>',
)
RUN_NAME = "<script>alert(1)</script>"
#: What an element count of the page may hold: its head, the body, the events' spans.
NOT_OURS = ("body *:not(span), script, img, svg, iframe, a, form, link[rel=stylesheet],"
            " style:not(head > style)")


def hostile_chain(handler: Any, name: str = RUN_NAME) -> None:
    """A prompt | fake chat model | parser chain under a hostile name and tag, asked a
    question that is markup and answering with every payload; then a step that fails with
    markup in its message."""
    model = GenericFakeChatModel(messages=iter([AIMessage(content=" ".join(PAYLOADS))]))
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()
    chain.invoke({"q": PAYLOADS[0]}, config={"callbacks": [handler], "run_name": name,
                                             "tags": [PAYLOADS[1]],
                                             "metadata": {"<b>k</b>": PAYLOADS[2]}})

    def explode(_: Any) -> Any:
        raise ValueError(PAYLOADS[3] + PAYLOADS[4])

    with contextlib.suppress(ValueError):
        RunnableLambda(explode, name=PAYLOADS[5]).invoke("x", config={"callbacks": [handler]})


class Page(WatchedPage):
    """The log opened from disk, with its console errors, requests and dialogs recorded."""

    def __init__(self, browser: Any, path: Path, scheme: str = "dark") -> None:
        super().__init__(browser, viewport={"width": 1200, "height": 900}, color_scheme=scheme)
        self.url = path.resolve().as_uri()
        self.load()

    def load(self) -> None:
        self.page.goto(self.url)
        self.page.wait_for_load_state("load")

    def reload(self) -> None:
        self.page.reload()
        self.page.wait_for_load_state("load")

    def text(self) -> str:
        """What the page shows."""
        return str(self.page.inner_text("body"))

    def assert_inert(self) -> None:
        """Nothing from the log ran, loaded or became an element; the page logged no error."""
        assert self.page.evaluate("typeof window.pwned") == "undefined"
        assert self.dialogs == []
        assert self.page.locator(NOT_OURS).count() == 0
        assert set(self.requests) == {self.url}
        assert self.errors == []


@pytest.fixture
def opened(browser: Any) -> Iterator[list[Page]]:
    """Pages a test opens, closed after it."""
    pages: list[Page] = []
    yield pages
    for page in pages:
        page.page.close()


def test_html_log_is_readable_mid_run_and_after_a_reload(opened: list[Page], browser: Any,
                                                         tmp_path: Path) -> None:
    """Opened while the handler is open (flushed), the page shows the runs so far as text;
    after more runs, a flush and a reload, all of them; no script from the log runs, no
    request but the file itself, no console error."""
    path = tmp_path / "run.html"
    handler = FileCallbackHandler(path, format="html")
    try:
        hostile_chain(handler)
        workloads.retriever_chain([handler])
        handler.flush()
        page = Page(browser, path)
        opened.append(page)
        shown = page.text()
        assert f"> Entering new {RUN_NAME} chain..." in shown
        assert "> Retriever KeywordRetriever returned 2 documents" in shown
        for payload in PAYLOADS:
            assert payload in shown  # the answer, as text
        assert f"! chain {PAYLOADS[5]} failed" in shown
        assert "> Entering new AgentExecutor chain..." not in shown
        page.assert_inert()

        workloads.agent_executor([handler])
        workloads.stream_lcel([handler])
        hostile_chain(handler, name="<b>second</b>")
        handler.flush()
        page.reload()
        shown = page.text()
        assert f"> Entering new {RUN_NAME} chain..." in shown
        assert "> Entering new AgentExecutor chain..." in shown
        assert "> Tool calculator finished" in shown
        assert "> Entering new <b>second</b> chain..." in shown
        assert shown.count("> Finished RunnableSequence chain.") >= 2
        page.assert_inert()
    finally:
        handler.close()
    assert path.read_text().count("<!DOCTYPE html>") == 1


def test_html_log_shows_a_run_still_going(opened: list[Page], browser: Any,
                                          tmp_path: Path) -> None:
    """Opened from inside a step of a running chain, the page shows the chain started and the
    steps done so far, and not its end."""
    path = tmp_path / "live.html"
    handler = FileCallbackHandler(path, format="html")
    seen: list[str] = []

    def look(x: str) -> str:
        handler.flush()
        page = Page(browser, path)
        opened.append(page)
        seen.append(page.text())
        page.assert_inert()
        return x

    chain = (RunnableLambda(lambda x: x + "!", name="first_step")
             | RunnableLambda(look, name="looking_step"))
    with handler:
        chain.invoke("go", config={"callbacks": [handler], "run_name": "outer"})
    assert "> Entering new outer chain..." in seen[0]
    assert "> Finished first_step chain." in seen[0]
    assert "> Entering new looking_step chain..." in seen[0]
    assert "> Finished outer chain." not in seen[0]
    assert "&gt; Finished outer chain." in path.read_text()


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_colours_are_css_under_the_pages_policy(opened: list[Page], browser: Any,
                                                tmp_path: Path, scheme: str) -> None:
    """The stylesheet applies under the page's own policy (its hash matches): errors red and
    bold, headings bold, the text monospace, in light and dark schemes alike."""
    path = tmp_path / "colours.html"
    with FileCallbackHandler(path, format="html") as handler:
        workloads.error_chain([handler])
    page = Page(browser, path, scheme)
    opened.append(page)

    def style(selector: str, prop: str) -> str:
        return str(page.page.eval_on_selector(
            selector, f"e => getComputedStyle(e).getPropertyValue('{prop}')"))

    red = style(".ev.chain_error .fg-red", "color")
    assert red != style("body", "color")
    r, g, b = (int(v) for v in red[red.index("(") + 1:red.index(")")].split(","))
    assert r > 150 and r > 2 * g and r > 2 * b, red
    assert int(style(".ev.chain_error .fg-red", "font-weight")) >= 700
    assert int(style(".ev.chain_start .b", "font-weight")) >= 700
    assert "monospace" in style("body", "font-family")
    assert style("body", "white-space") == "pre-wrap"
    page.assert_inert()


def test_every_rotated_html_file_is_a_page(opened: list[Page], browser: Any,
                                           tmp_path: Path) -> None:
    """With rotation each file opens as a styled page of its own, its runs shown, nothing run."""
    path = tmp_path / "rot.html"
    handler = RotatingFileCallbackHandler(path, max_bytes=8000, backup_count=10, format="html")
    for _ in range(3):
        hostile_chain(handler)
    handler.close()
    backups = sorted(tmp_path.glob("rot.html.[0-9]*"))
    assert backups
    # a browser tells a local file is HTML by its extension: each backup (rot.html.1) is
    # opened renamed to rot.html.1.html, its bytes untouched
    files = [path]
    for backup in backups:
        files.append(tmp_path / f"{backup.name}.html")
        backup.rename(files[-1])
    for file in files:
        page = Page(browser, file)
        opened.append(page)
        assert "> Entering new" in page.text() or "> Finished" in page.text()
        assert page.page.title() == "rot.html - chainsink"
        page.assert_inert()
