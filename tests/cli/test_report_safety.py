"""The HTML report never reaches the network, never hides content, and shows text as written.

A text or ANSI log's escapes stay inert: an OSC 8 hyperlink is text, not a live link, and a
cursor move or ``\\r`` never erases another line; converting it takes linear time whatever its
escapes. A UTF-8 BOM, bidi controls in names, and names like ``__proto__`` render and count as
written. Checked on the page's HTML, and in a real headless Chromium (see ``test_browser.py``).
"""

from __future__ import annotations

import gc
import html
import itertools
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest
from langchain_core.runnables import RunnableLambda
from workloads import UsageFakeChatModel, make_usage

import chainsink
from chainsink.report import render_html

from ._support import page_data, run_cli
from .test_browser import Page

BOM = "\ufeff"

#: A text log whose escapes a terminal would act on (and ansi2html did: links, erased lines).
ESCAPED_LINES = [
    "plain line one",
    "click \x1b]8;;https://evil.example/steal?x=1\x07here\x1b]8;;\x07 please",
    "st-terminated \x1b]8;;http://evil.example/st\x1b\\st link\x1b]8;;\x1b\\ end",
    "unterminated \x1b]8;;https://evil.example/open and the rest of the line",
    "progress 10%\rprogress 100%",
    "a line before the cursor goes up",
    "\x1b[A\x1b[Kafter cursor up and erase",
    "\x1b[2J\x1b[Hafter a screen clear",
    "back\b\b\b\bspace",
    "\x1b[8mconcealed text\x1b[28m shown",
    "box \x1b(0lqk\x1b(B drawing",
    "\x1b[31;1mred\x1b[0m and \x9b2J c1",
    "last plain line",
]
_CONTROL = re.compile("\r(?!\n)|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def shown(line: str) -> str:
    """A text log line as the report shows it: SGR codes style it, every other control
    character is text (``\\x1b``, a lone ``\\r`` as ``\\r``)."""
    line = re.sub("\x1b\\[[0-9;:]*m", "", line)
    return _CONTROL.sub(lambda m: "\\r" if m.group() == "\r" else f"\\x{ord(m.group()):02x}",
                        line)


class _Links(HTMLParser):
    """Every href and src of a page, and the text of its ``<pre>`` elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.pre: list[str] = []
        self._in_pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v or "" for k, v in attrs if k in ("href", "src", "action", "formaction")]
        self._in_pre += tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        self._in_pre -= tag == "pre"

    def handle_data(self, data: str) -> None:
        if self._in_pre:
            self.pre.append(data)


def _report(tmp_path: Path, name: str, data: bytes, *extra: str) -> tuple[str, str]:
    log = tmp_path / name
    log.write_bytes(data)
    out = tmp_path / (name + ".html")
    done = run_cli("html", log, "-o", out, *extra, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return out.read_text(encoding="utf-8"), done.stderr


def test_a_text_log_keeps_links_and_cursor_moves_inert(tmp_path: Path) -> None:
    """OSC 8 links become text (no <a href> to anywhere), and no escape erases a line: every
    line of the log is in the page, each escape shown as text."""
    page, _ = _report(tmp_path, "escapes.log", "\n".join(ESCAPED_LINES).encode() + b"\n")
    parsed = _Links()
    parsed.feed(page)
    assert all(url.startswith(("#", "data:")) for url in parsed.urls), parsed.urls
    text = "".join(parsed.pre)
    for line in ESCAPED_LINES:
        assert shown(line) in text, line
    assert "\x1b" not in page and "\x9b" not in page


#: Text that made ansi2html slow (unterminated OSC: 27 s for one 200 kB line) or might.
GENERATORS: dict[str, Callable[[int], str]] = {
    "unterminated OSC 8": lambda n: "\x1b]8;;" * (n // 5),
    "many ESC[": lambda n: "\x1b[" * (n // 2),
    "long SGR chain": lambda n: "\x1b[" + "1;" * (n // 2) + "m x",
    "many SGR codes": lambda n: "\x1b[31;1mx" * (n // 9),
    "many OSC 8 links": lambda n: "\x1b]8;;u\x07t\x1b]8;;\x07" * (n // 16),
    "ESC at every other char": lambda n: "\x1bx" * (n // 2),
}
SIZES = (25_000, 50_000, 100_000, 200_000)


def _convert_time(text: str, repeats: int = 5) -> float:
    """The least CPU time, of ``repeats``, to write the page of a text log holding ``text``."""
    best = float("inf")
    gc.collect()
    gc.disable()  # a collection landing in one size's run would skew its ratio
    try:
        for _ in range(repeats):
            start = time.process_time()
            page = "".join(render_html(None, [], text_logs=[("log", None, iter([text]))]))
            best = min(best, time.process_time() - start)
            assert "</pre>" in page
    finally:
        gc.enable()
    return best


@pytest.mark.parametrize("kind", list(GENERATORS))
def test_converting_a_text_log_takes_linear_time(kind: str) -> None:
    """One line of 25 kB to 200 kB of adversarial escapes: the CPU time to write its page grows
    about as the line does, 8x over the three doublings (quadratic would be 64x). Judged end to
    end, with the least of repeats (more of them while it looks slow, the machine being
    shared), so one noisy size cannot fail it and a quadratic step cannot hide."""
    texts = [GENERATORS[kind](n) + "\n" for n in SIZES]
    times = [_convert_time(text) for text in texts]
    for _ in range(3):  # while it looks slow, time both ends again: the min over all repeats
        if times[-1] / times[0] < 20.0:
            break
        times[0] = min(times[0], _convert_time(texts[0]))
        times[-1] = min(times[-1], _convert_time(texts[-1]))
    ratios = [b / a for a, b in itertools.pairwise(times)]
    assert times[-1] / times[0] < 20.0, (kind, [f"{t * 1000:.1f} ms" for t in times], ratios)


# -- a BOM ---------------------------------------------------------------------------------------


def _steps(path: Path, names: list[str]) -> list[dict[str, Any]]:
    handler = chainsink.FileCallbackHandler(path, format="jsonl", mode="w")
    for name in names:
        RunnableLambda(lambda x: x, name=name).invoke("hi", config={"callbacks": [handler]})
    handler.close()
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_a_bom_does_not_make_the_first_jsonl_line_bad(tmp_path: Path) -> None:
    """A UTF-8 BOM before a JSONL log's first record: read_events, tail and html take every
    record, with no warning."""
    log = tmp_path / "bom.jsonl"
    records = _steps(log, ["first_step", "second_step"])
    plain = log.read_bytes()
    log.write_bytes(BOM.encode() + plain)
    errors: list[Any] = []
    assert list(chainsink.read_events(log, on_error=errors.append)) == records
    assert errors == []
    tail = run_cli("tail", "--no-color", log, cwd=tmp_path)
    assert tail.returncode == 0 and tail.stderr == ""
    assert tail.stdout.count("> Entering new first_step chain") == 1
    page, err = _report(tmp_path, "bom2.jsonl", BOM.encode() + plain)
    assert "skipped" not in err, err
    traces = page_data(page)["traces"]
    assert sorted(t["name"] for t in traces) == ["first_step", "second_step"]
    assert all(t["status"] == "ok" for t in traces), traces


def test_a_bom_is_not_shown_at_the_start_of_a_text_log(tmp_path: Path) -> None:
    """A text log's BOM is an encoding mark, not text: the report's log starts with its text."""
    page, _ = _report(tmp_path, "bom.log", (BOM + "first line\nsecond line\n").encode())
    parsed = _Links()
    parsed.feed(page)
    assert "".join(parsed.pre).startswith("first line\n")


# -- names that are bidi controls or JavaScript's own --------------------------------------------

#: Names a model, a user or a tool may give a run, a tag, a metadata key or a model.
ODD_NAMES = [
    "\u202eevil-override", "a\u2066left-isolate\u2069b", "\u2067rtl-isolate\u2069",
    "\u2068first-strong\u2069", "\u202bembedding\u202c", "__proto__", "constructor",
    "hasOwnProperty", "toString", "valueOf", "isPrototypeOf", "__defineGetter__",
]
AFTER = "after-tag"


def _odd_workload(handlers: list[Any]) -> None:
    for i, name in enumerate(ODD_NAMES):
        model = UsageFakeChatModel(messages=iter([chainsink_ai(name, i)]))
        chain = RunnableLambda(lambda x: x, name=name) | model
        chain.invoke(name, config={
            "callbacks": handlers, "run_name": name, "tags": [name, AFTER],
            "metadata": {name: name, "__proto__": {"polluted": True}, "constructor": i}})


def chainsink_ai(model: str, i: int) -> Any:
    from langchain_core.messages import AIMessage

    return AIMessage(content=f"answer {i}", usage_metadata=make_usage(i + 1, 1),  # type: ignore[arg-type]
                     response_metadata={"model_name": model})


@pytest.fixture(scope="module")
def odd_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """A JSONL log (with a BOM) of runs, run types, tags, metadata and models named
    :data:`ODD_NAMES`; the inner step of each trace has its name as run type."""
    path = tmp_path_factory.mktemp("odd") / "odd.jsonl"
    handler = chainsink.FileCallbackHandler(path, format="jsonl", mode="w")
    _odd_workload([handler])
    handler.close()
    records = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    for rec in records:
        if rec["parent_run_id"] is not None and rec["run_type"] == "chain":
            rec["run_type"] = rec["name"]
    path.write_bytes(BOM.encode() + b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path, records


@pytest.fixture(scope="module")
def odd_report(odd_log: tuple[Path, list[dict[str, Any]]]) -> Path:
    path, _ = odd_log
    out = path.with_suffix(".html")
    done = run_cli("html", path, "-o", out, cwd=path.parent)
    assert done.returncode == 0, done.stderr
    assert "skipped" not in done.stderr, done.stderr
    return out


def _runs_by_name(records: list[dict[str, Any]]) -> Counter[str]:
    return Counter(r["name"] for r in records if r["event"].endswith("_start"))


def test_odd_names_count_in_the_summary(odd_log: tuple[Path, list[dict[str, Any]]],
                                        odd_report: Path) -> None:
    """The latency and token tables count every odd name as its own row, as written."""
    _, records = odd_log
    page = odd_report.read_text(encoding="utf-8")

    def table(table_id: str) -> dict[str, int]:
        body = page.split(f'<table id="{table_id}">', 1)[1].split("</table>", 1)[0]
        rows = re.findall(r'<td class="name">(?:<bdi>)?(.*?)(?:</bdi>)?</td>'
                          r'<td class="num">([\d,]+)</td>', body)
        return {html.unescape(k): int(v.replace(",", "")) for k, v in rows}

    assert table("latency") == dict(_runs_by_name(records))
    calls = Counter(r["model"] for r in records if r["event"] == "llm_end")
    assert {k: v for k, v in table("tokens").items() if k != "all models"} == dict(calls)
    assert set(calls) == set(ODD_NAMES)


@pytest.fixture
def odd_page(browser: Any, odd_report: Path) -> Iterator[Page]:
    opened = Page(browser, odd_report)
    yield opened
    opened.close()


#: The on-screen rectangle of the first text node in ``el`` holding ``text`` (or null).
_RECT = """([el, text]) => {
  const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let node = walk.nextNode(); node; node = walk.nextNode()) {
    const at = node.data.indexOf(text);
    if (at >= 0) {
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + text.length);
      const r = range.getBoundingClientRect();
      return {left: r.left, right: r.right};
    }
  }
  return null;
}"""


def test_odd_names_show_filter_and_stay_isolated_in_the_browser(
        odd_page: Page, odd_log: tuple[Path, list[dict[str, Any]]]) -> None:
    """In Chromium: every odd run type is a filter option that finds its trace; every odd
    name is a run row as written; a right-to-left override in a name or tag never reorders
    the text after it (the trace tag beside a name, the next tag)."""
    page = odd_page.page
    _, records = odd_log
    types = page.eval_on_selector_all("#type option", "os => os.map(o => o.value)")
    assert set(ODD_NAMES) <= set(types), set(ODD_NAMES) - set(types)
    for name in ODD_NAMES:
        page.select_option("#type", name)
        assert odd_page.visible_traces() == 1, name
    page.select_option("#type", "")
    assert odd_page.visible_traces() == len({r["trace_id"] for r in records})

    odd_page.expand_everything()
    shown = Counter(page.eval_on_selector_all(".rname", "els => els.map(e => e.textContent)"))
    assert shown == _runs_by_name(records)

    # the slowest-traces table: a name, then its tag, left to right whatever the name holds
    for cell in page.locator("#slowest td.name").all():
        name = cell.locator("a").text_content() or ""
        tag = cell.locator(".tid").bounding_box()
        text_box = page.evaluate(_RECT, [cell.element_handle(), name])
        assert tag is not None and text_box is not None, name
        assert tag["x"] >= text_box["right"] - 1, (name, tag, text_box)
    # the tags of a run: the tag after an override still reads after it
    checked = 0
    for dd in page.locator(".detail dd").all():
        text = dd.text_content() or ""
        if AFTER not in text:
            continue
        first = next(n for n in ODD_NAMES if n in text)
        a = page.evaluate(_RECT, [dd.element_handle(), first])
        b = page.evaluate(_RECT, [dd.element_handle(), AFTER])
        assert a is not None and b is not None
        assert b["left"] >= a["right"] - 1, (first, a, b)
        checked += 1
    assert checked >= len(ODD_NAMES)
    # metadata keyed by JavaScript's own names is shown as written
    metas = page.eval_on_selector_all(".detail pre", "ps => ps.map(p => p.textContent)")
    assert sum('"__proto__"' in m and '"polluted"' in m and '"constructor"' in m
               for m in metas) >= len(ODD_NAMES)
    assert odd_page.errors == []
    assert odd_page.requests == [odd_page.url]


def test_a_text_log_report_in_the_browser_links_nowhere_and_hides_nothing(
        browser: Any, tmp_path: Path) -> None:
    """In Chromium: a report of the escapes log has no link out of the page, every line is
    on screen, concealed text is visible, and nothing is requested."""
    log = tmp_path / "escapes.log"
    log.write_bytes("\n".join(ESCAPED_LINES).encode() + b"\n")
    out = tmp_path / "escapes.html"
    assert run_cli("html", log, "-o", out, cwd=tmp_path).returncode == 0
    page = Page(browser, out)
    try:
        hrefs = page.page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
        assert [h for h in hrefs if not h.startswith(page.url + "#")] == []
        text = page.page.inner_text("pre")
        for line in ESCAPED_LINES:
            assert shown(line) in text, line
        hidden = page.page.eval_on_selector_all(
            "pre span", "ss => ss.filter(s => getComputedStyle(s).visibility !== 'visible')"
                        ".map(s => s.textContent)")
        assert hidden == []
        assert page.requests == [page.url]
        assert page.errors == []
    finally:
        page.close()


def test_a_text_log_reads_the_same_however_it_is_cut_into_chunks() -> None:
    """An escape or a CRLF cut between two chunks (a line longer than a read) shows as it does
    whole: the log's text is the same for every cut."""
    from chainsink.report._text import ansi_to_html

    text = BOM + "a\x1b[31;1mred\x1b[0m b\r\nc \x1b]8;;u\x07d\x1b[2J\re\x9b\n"

    def visible(chunks: list[str]) -> str:
        return html.unescape(re.sub("<[^>]+>", "", "".join(ansi_to_html(chunks))))

    whole = visible([text])
    assert whole == "ared b\nc \\x1b]8;;u\\x07d\\x1b[2J\\re\\x9b\n"
    for cut in range(len(text) + 1):
        assert visible([text[:cut], text[cut:]]) == whole, cut
