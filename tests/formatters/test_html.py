"""HtmlFormatter: the console's text of each event as one escaped, closed HTML fragment, its
colours as CSS classes, after a page head that file sinks write once per file they start."""

from __future__ import annotations

import base64
import contextlib
import glob
import hashlib
import pickle
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.runnables import RunnableLambda

from chainsink import FileCallbackHandler, RotatingFileCallbackHandler
from chainsink.formatters import ConsoleFormatter, HtmlFormatter

from ._events import make

HOSTILE = ("<script>alert(1)</script>", '<img src=x onerror="window.pwned=1">',
           "</span><b>&amp;", '"><svg onload=alert(2)>')
#: The class names a fragment's spans may carry: the event kind, the palette, the attributes.
PALETTE = {"fg-red", "fg-green", "fg-yellow", "fg-blue", "fg-pink", "b", "dim", "i"}
ERROR = {"type": "ValueError", "message": HOSTILE[1]}
RESULT = LLMResult(generations=[[ChatGeneration(message=AIMessage(content=HOSTILE[0]))]])

#: One event of every kind the detailed console shows, each carrying hostile markup.
EVENTS = [
    make("chain_start", depth=0, inputs={"q": HOSTILE[0]}),
    make("chain_start", inputs=HOSTILE[3]),
    make("chain_end", outputs={HOSTILE[2]: HOSTILE[1]}, duration_ms=1.5,
         usage_by_model={HOSTILE[0]: {"input_tokens": 1, "output_tokens": 2,
                                      "total_tokens": 3, "calls": 1}}),
    make("llm_start", prompts=[HOSTILE[1], HOSTILE[2]]),
    make("chat_model_start", messages=[[HumanMessage(content=HOSTILE[3])]]),
    make("llm_end", outputs=RESULT, duration_ms=3.25, model=HOSTILE[2],
         usage={"input_tokens": 2, "output_tokens": 3, "total_tokens": 5}),
    make("tool_start", input_str=HOSTILE[0]),
    make("tool_end", outputs=HOSTILE[1], duration_ms=2.0),
    make("retriever_start", query=HOSTILE[2]),
    make("retriever_end", outputs={"documents": [{"page_content": HOSTILE[3],
                                                  "metadata": {"m": HOSTILE[0]}}]},
         duration_ms=1.0),
    make("chain_error", error=ERROR, duration_ms=1.0),
    make("tool_error", error=ERROR, interrupted=True),
    make("llm_error", error=ERROR),
    make("retriever_error", error=ERROR),
    make("agent_action", tool=HOSTILE[0], log=HOSTILE[1], display={"color": "blue"}),
    make("agent_finish", log=HOSTILE[2]),
    make("text", text=HOSTILE[3], display={"color": "yellow"}),
    make("retry", attempt=2, error=ERROR),
    make("custom_event", event_name=HOSTILE[0], data={"d": HOSTILE[1]}),
]


class Fragment(HTMLParser):
    """An HTML fragment parsed: its tags with their attributes, and its text as a browser
    shows it (entities decoded)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.ends: list[str] = []
        self.parts: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.ends.append(tag)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def classes(self) -> list[set[str]]:
        return [set((attrs.get("class") or "").split()) for _, attrs in self.tags]


def heads(text: str) -> int:
    """How many page heads ``text`` holds."""
    return text.count("<!DOCTYPE html>")


def hostile(event: Any) -> Any:
    """``event`` with a run name that is markup."""
    return event.replace(name=HOSTILE[0])


# -- the fragments ---------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["detailed", "classic"])
def test_each_fragment_is_the_consoles_text_escaped(style: str) -> None:
    """For every event kind, the fragment's text (as a browser reads it) is exactly the plain
    console text of that style, the run's markup included as text: the only elements are
    closed spans whose only attribute is a class from a fixed set."""
    html, plain = HtmlFormatter(style), ConsoleFormatter(style, ansi=False)
    shown = 0
    for event in map(hostile, EVENTS):
        fragment = html(event)
        expected = plain(event)
        if not expected:
            assert fragment == "", event.event
            continue
        shown += 1
        parsed = Fragment(fragment)
        assert parsed.text == expected, event.event
        assert {tag for tag, _ in parsed.tags} == {"span"}, event.event
        assert len(parsed.ends) == len(parsed.tags), event.event  # every span closed
        assert parsed.tags[0][1] == {"class": f"ev {event.event}"}, event.event
        for _, attrs in parsed.tags[1:]:
            assert set(attrs) == {"class"}, event.event
            assert set(str(attrs["class"]).split()) <= PALETTE, event.event
        assert "\x1b" not in fragment, event.event
        assert not re.search(r"<(?!/?span\b)", fragment), event.event
    assert shown >= (len(EVENTS) if style == "detailed" else 3)


def test_hostile_strings_stand_as_text() -> None:
    """A run named ``<script>alert(1)</script>`` and inputs holding ``<img onerror>`` appear
    escaped, never as markup."""
    fragment = HtmlFormatter()(make("chain_start", depth=0, inputs={"q": HOSTILE[1]})
                               .replace(name=HOSTILE[0]))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in fragment
    assert "&lt;img src=x onerror=" in fragment
    assert "<script" not in fragment and "<img" not in fragment


def test_detailed_is_the_default_and_shows_the_detailed_content() -> None:
    """By default the page shows what the detailed console shows: nesting, durations, usage,
    the model's answer."""
    fmt = HtmlFormatter()
    assert fmt.style == "detailed"
    text = Fragment(fmt(make("llm_end", outputs=RESULT, duration_ms=3.25, model="m1",
                             usage={"input_tokens": 2, "output_tokens": 3,
                                    "total_tokens": 5}))).text
    assert text.startswith("  > thing finished (3.2 ms) [m1] tokens: 2 in, 3 out, 5 total\n")
    assert HOSTILE[0] in text  # the answer, as text


def test_colours_become_classes() -> None:
    """The console's colours become classes: errors red and bold, durations dim, an agent's
    log in its colour, bold italic; headings bold."""
    fmt = HtmlFormatter()
    error = Fragment(fmt(make("chain_error", error={"type": "E", "message": "m"},
                              duration_ms=2.0)))
    assert {"fg-red", "b"} in error.classes()
    assert {"fg-red", "b", "dim"} in error.classes()  # the duration, inside the red line
    agent = Fragment(fmt(make("agent_action", tool="t", log="go", display={"color": "blue"})))
    assert {"fg-blue", "b", "i"} in agent.classes() and {"b"} in agent.classes()
    custom = Fragment(fmt(make("custom_event", event_name="progress", data={})))
    assert {"fg-pink", "b", "i"} in custom.classes()
    plain_text = Fragment(fmt(make("text", text="x")))
    assert plain_text.classes() == [{"ev", "text"}]


def test_content_never_brings_its_own_escapes_or_styles() -> None:
    """A run's own colour codes and control characters: palette codes LangChain itself puts in
    text become classes, anything else shows as text or is dropped; none stays raw."""
    fmt = HtmlFormatter()
    fragment = fmt(make("text", text="\x1b[32;1m\x1b[1;3mok\x1b[0m \x1b[5mblink\x1b[0m "
                                     "\x1b]0;title\x07 bell\x07"))
    parsed = Fragment(fragment)
    assert {"fg-green", "b", "i"} in parsed.classes()
    assert parsed.text == "      ok blink \\x1b]0;title\\x07 bell\\x07\n"
    assert "\x1b" not in fragment and "\x07" not in fragment


def test_streamed_tokens_render_nothing() -> None:
    """Streamed tokens make no fragment (the model's end shows its whole output), and the
    one-fragment-per-token style is refused."""
    assert HtmlFormatter()(make("llm_new_token", token="<b>x</b>")) == ""
    assert "llm_new_token" not in (HtmlFormatter().kinds or ())
    with pytest.raises(ValueError, match="style"):
        HtmlFormatter("line")
    with pytest.raises(ValueError):
        HtmlFormatter(color="purple")


# -- the page head -----------------------------------------------------------------------------


def test_header_is_a_page_head_that_allows_no_script_and_no_network() -> None:
    """The head: doctype, UTF-8, a CSP with nothing allowed but this exact stylesheet (its hash
    matches), no referrer, a viewport, a title naming the log (escaped); it ends in <body>."""
    head = HtmlFormatter().header('<b>"run".html')
    assert head.startswith("<!DOCTYPE html>\n")
    assert head.endswith("<body>")
    assert head.index('<meta charset="utf-8">') < 1024
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', head)
    assert csp is not None
    policy = dict(part.strip().split(" ", 1) for part in csp.group(1).split(";"))
    assert policy["default-src"] == "'none'"
    assert "script-src" not in policy and "connect-src" not in policy
    style = re.search(r"<style>(.*)</style>", head, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert policy["style-src"] == f"'sha256-{digest}'"
    assert head.index("Content-Security-Policy") < head.index("<style>")
    assert '<meta name="referrer" content="no-referrer">' in head
    assert '<meta name="viewport"' in head
    assert "<title>&lt;b&gt;&quot;run&quot;.html - chainsink</title>" in head
    for colour in ("fg-red", "fg-green", "fg-yellow", "fg-blue", "fg-pink", ".b{", ".dim{"):
        assert colour in style.group(1)


# -- handlers ------------------------------------------------------------------------------------


def run(handler: Any, name: str, fail: bool = False) -> None:
    """A real two-step LCEL chain under ``name`` (failing in its second step if asked)."""
    def second(x: str) -> str:
        if fail:
            raise ValueError(HOSTILE[1])
        return x + "!"

    chain = RunnableLambda(lambda x: x.upper(), name="shout") | RunnableLambda(second,
                                                                               name="bang")
    with contextlib.suppress(ValueError):
        chain.invoke(HOSTILE[2], config={"callbacks": [handler], "run_name": name})


def test_file_handler_html_writes_one_page_across_handlers(tmp_path: Path) -> None:
    """``FileCallbackHandler(path, format="html")`` starts a page; a second handler appending
    to it adds its runs under the same head; the detailed content is escaped."""
    path = tmp_path / "run.html"
    with FileCallbackHandler(path, format="html") as handler:
        assert handler.style == "detailed"
        run(handler, HOSTILE[0])
    with FileCallbackHandler(path, format="html") as handler:
        run(handler, "second", fail=True)
    text = path.read_text()
    assert heads(text) == 1 and text.startswith("<!DOCTYPE html>")
    assert "<title>run.html - chainsink</title>" in text
    shown = Fragment(text[text.index("<body>"):]).text
    assert f"> Entering new {HOSTILE[0]} chain..." in shown
    assert "  > Finished shout chain." in shown
    assert "! chain bang failed" in shown and HOSTILE[1] in shown
    assert "<script" not in text and "<img" not in text


def test_a_path_and_an_html_formatter_make_a_page(tmp_path: Path) -> None:
    """``CallbackHandler(path, HtmlFormatter())``: the file made for the path starts with the
    page head too, as does a sink set later."""
    from chainsink import CallbackHandler

    path, later = tmp_path / "bare.html", tmp_path / "later.html"
    with CallbackHandler(path, HtmlFormatter()) as handler:
        run(handler, "first")
        handler.sink = later
        run(handler, "second")
    for file, name in ((path, "first"), (later, "second")):
        text = file.read_text()
        assert heads(text) == 1 and text.startswith("<!DOCTYPE html>")
        assert f"> Entering new {name} chain..." in Fragment(text[text.index("<body>"):]).text


def test_file_handler_html_style_and_options(tmp_path: Path) -> None:
    """``style="classic"`` gives LangChain's lines; a style HTML cannot show fails when the
    handler is made; a pickled handler appends to the page without a second head."""
    path = tmp_path / "classic.html"
    with FileCallbackHandler(path, format="html", style="classic") as handler:
        run(handler, "c")
    shown = Fragment(path.read_text().split("<body>", 1)[1]).text
    assert shown.startswith("\n\n> Entering new c chain...\n\n\n> Entering new shout chain")
    assert shown.endswith("\n> Finished chain.\n") and "inputs" not in shown
    with pytest.raises(ValueError, match="style"):
        FileCallbackHandler(tmp_path / "x.html", format="html", style="line")
    assert FileCallbackHandler(tmp_path / "y.log").style == "classic"
    handler = FileCallbackHandler(path, format="html", style="classic")
    clone = pickle.loads(pickle.dumps(handler))
    run(clone, "d")
    clone.close()
    handler.close()
    assert heads(path.read_text()) == 1 and "new d chain" in path.read_text()


def test_rotating_handler_html_pages(tmp_path: Path) -> None:
    """``RotatingFileCallbackHandler(format="html")``: every file is a page of its own, head
    first, with whole fragments."""
    path = tmp_path / "run.html"
    handler = RotatingFileCallbackHandler(path, max_bytes=6000, backup_count=20,
                                          format="html")
    for i in range(12):
        run(handler, f"run{i}")
    handler.close()
    files = [name for name in glob.glob(f"{path}*") if not name.endswith(".lock")]
    assert len(files) > 2
    seen = ""
    for name in files:
        text = Path(name).read_text()
        assert text.startswith("<!DOCTYPE html>") and heads(text) == 1, name
        body = text.split("<body>", 1)[1]
        parsed = Fragment(body)
        assert len(parsed.tags) == len(parsed.ends), name  # no fragment split across files
        seen += parsed.text
    for i in range(12):
        assert f"> Entering new run{i} chain..." in seen
