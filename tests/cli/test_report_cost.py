"""Cost in the HTML report and the live viewer: priced as genai-prices prices each call, the
user's own prices first, unknown (never $0) for a model no one prices, and a page that says how
to get cost when the price table is not installed."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import genai_prices
import pytest
from langchain_core.messages import AIMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda

import chainsink
from chainsink.cli._workloads import ScriptedChatModel
from chainsink.cost import INSTALL_HINT
from chainsink.read import read_events
from chainsink.report import format_usd, summarize

from ._serve_support import Events, Serve
from ._support import DATA, cli_env, page_data

KNOWN = "gpt-4o-mini-2024-07-18"
#: What an OpenAI model reports through langchain-openai: cache hits and reasoning included.
KNOWN_USAGE: dict[str, Any] = {
    "input_tokens": 1200, "output_tokens": 700, "total_tokens": 1900,
    "input_token_details": {"audio": 0, "cache_read": 1024},
    "output_token_details": {"audio": 0, "reasoning": 256},
}
FAKE = "fake-chat-1"
PRIVATE = "acme-private-1"
PLAIN_USAGE: dict[str, Any] = {"input_tokens": 2_000_000, "output_tokens": 1_000_000,
                               "total_tokens": 3_000_000}
PRICES_TOML = f"""
["{PRIVATE}"]
input_mtok = 0.50
output_mtok = 1.50
"""
#: 2M input tokens at $0.50/M and 1M output tokens at $1.50/M.
PRIVATE_COST = Decimal("2.5")


def known_price() -> Decimal:
    """What genai-prices' calc_price says one call of KNOWN with KNOWN_USAGE costs."""
    return Decimal(genai_prices.calc_price(genai_prices.Usage(
        input_tokens=1200, output_tokens=700, cache_read_tokens=1024,
        output_reasoning_tokens=256), KNOWN).total_price)


def reply(model: str, usage: dict[str, Any]) -> AIMessage:
    """A model reply as a provider's chat model returns it: usage and the model's name."""
    return AIMessage(content="ok", usage_metadata=usage,  # type: ignore[arg-type]
                     response_metadata={"model_name": model})


def model_chain(model: str, usage: dict[str, Any], name: str) -> Any:
    """prompt | a fake chat model answering as ``model`` with ``usage``, named ``name``."""
    llm = ScriptedChatModel(messages=iter([reply(model, usage)] * 10))
    return (ChatPromptTemplate.from_messages([("human", "{q}")]) | llm).with_config(
        run_name=name)


def two_models(first: tuple[str, dict[str, Any]], second: tuple[str, dict[str, Any]],
               name: str) -> Any:
    """One trace calling two models in turn."""
    a, b = model_chain(*first, name="a"), model_chain(*second, name="b")
    return RunnableLambda(lambda q: [a.invoke({"q": q}), b.invoke({"q": q})], name=name)


@pytest.fixture(scope="module")
def cost_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log of four traces: two calls of a model the table knows, one of a fake model, one
    of each, and one of a private model (priced only by the user's prices)."""
    path = tmp_path_factory.mktemp("cost") / "run.jsonl"
    with chainsink.capture(path):
        two_models((KNOWN, KNOWN_USAGE), (KNOWN, KNOWN_USAGE), "known_twice").invoke("q")
        model_chain(FAKE, KNOWN_USAGE, "fake_only").invoke({"q": "q"})
        two_models((KNOWN, KNOWN_USAGE), (FAKE, KNOWN_USAGE), "known_and_fake").invoke("q")
        model_chain(PRIVATE, PLAIN_USAGE, "private").invoke({"q": "q"})
    return path


@pytest.fixture(scope="module")
def prices_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's prices for the private model, as TOML."""
    path = tmp_path_factory.mktemp("prices") / "prices.toml"
    path.write_text(PRICES_TOML)
    return path


def html_report(log: Path, out: Path, *args: Any) -> str:
    """``chainsink html LOG -o OUT ARGS`` in a fresh process; the page."""
    done = subprocess.run([sys.executable, "-m", "chainsink", "html", str(log), "-o", str(out),
                           *map(str, args)], capture_output=True, text=True, env=cli_env(),
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return out.read_text()


def token_rows(page: str) -> dict[str, list[str]]:
    """The tokens-by-model table: model -> the texts of its other cells."""
    table = re.search(r'<table id="tokens">(.*?)</table>', page, re.DOTALL)
    assert table is not None
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.DOTALL):
        cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        if cells:
            rows[cells[0]] = cells[1:]
    return rows


def cost_card(page: str) -> tuple[str, str]:
    """The cost card's figure and note."""
    card = re.search(r'<div class="card[^"]*"><b>([^<]*)</b><span>cost</span>'
                     r'<small>([^<]*)</small>', page)
    assert card is not None, "no cost card"
    return html.unescape(card.group(1)), html.unescape(card.group(2))


def traces_by_name(page: str) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in page_data(page)["traces"]}


def test_a_known_models_cost_in_the_report_is_genai_prices_calc_price(
        cost_log: Path, tmp_path: Path) -> None:
    """Per model, per trace and per run, the report's cost of a model the table knows is
    calc_price of the usage each call reported (cache hits and reasoning included)."""
    one = known_price()
    summary = summarize(read_events(cost_log))
    assert summary.cost_by_model[KNOWN] == 3 * one  # exact: summed as Decimals
    page = html_report(cost_log, tmp_path / "r.html")
    assert token_rows(page)[KNOWN][-1] == format_usd(3 * one)
    trace = traces_by_name(page)["known_twice"]
    assert trace["cost"]["usd"] == float(2 * one)
    assert trace["cost"]["text"] == format_usd(2 * one)
    assert trace["cost"]["unpriced"] == []
    runs = [r for r in trace["rows"] if r.get("model") == KNOWN]
    assert [r["cost"] for r in runs] == [format_usd(one)] * 2
    assert "genai-prices " + genai_prices.__version__ in page  # the table's version


def test_an_unknown_model_is_unpriced_and_its_traces_cost_unknown_not_zero(
        cost_log: Path, tmp_path: Path) -> None:
    """A model the table does not know is listed as unpriced, the total is unknown (with the
    priced part and how many models are unpriced), and so is the cost of every trace that
    called it, even one whose other calls are priced; nothing unknown shows as $0."""
    page = html_report(cost_log, tmp_path / "r.html")
    rows = token_rows(page)
    assert rows[FAKE][-1] == "unpriced"
    assert rows["all models"][-1] == "unknown"
    figure, note = cost_card(page)
    assert figure == "unknown"
    assert note == f"{format_usd(3 * known_price())} priced \u00b7 2 unpriced models"
    unpriced = re.search(r'<p class="note" id="unpriced">(.*?)</p>', page)
    assert unpriced is not None
    assert FAKE in unpriced.group(1) and PRIVATE in unpriced.group(1)
    traces = traces_by_name(page)
    for name in ("fake_only", "known_and_fake", "private"):
        assert traces[name]["cost"]["usd"] is None, name
        assert traces[name]["cost"]["text"] == "unknown"
    assert traces["known_and_fake"]["cost"]["priced"] == float(known_price())
    assert traces["known_and_fake"]["cost"]["priced_text"] == format_usd(known_price())
    assert traces["known_and_fake"]["cost"]["unpriced"] == [FAKE]
    fake_run = next(r for r in traces["fake_only"]["rows"] if r.get("model") == FAKE)
    assert fake_run["cost"] == "unpriced"
    assert "$0.000000" not in DATA.sub("", page)  # the markup shows no unknown as $0


def test_user_prices_from_a_toml_file_price_a_private_model(
        cost_log: Path, prices_file: Path, tmp_path: Path) -> None:
    """``--prices FILE`` prices a model the table does not know, in the table, the trace and
    the run, and the page says the prices are the user's; $CHAINSINK_PRICES does the same."""
    page = html_report(cost_log, tmp_path / "r.html", "--prices", prices_file)
    assert token_rows(page)[PRIVATE][-1] == format_usd(PRIVATE_COST)
    trace = traces_by_name(page)["private"]
    assert trace["cost"]["usd"] == float(PRIVATE_COST)
    assert next(r for r in trace["rows"] if r.get("model") == PRIVATE)["cost"] == "$2.50"
    assert "your prices" in re.search(r'<p class="note" id="prices">(.*?)</p>', page).group(1)
    unpriced = re.search(r'<p class="note" id="unpriced">(.*?)</p>', page)
    assert unpriced is not None and PRIVATE not in unpriced.group(1)
    done = subprocess.run([sys.executable, "-m", "chainsink", "html", str(cost_log), "-o",
                           str(tmp_path / "env.html")], capture_output=True, text=True,
                          env=cli_env({"CHAINSINK_PRICES": str(prices_file)}), timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    env_page = (tmp_path / "env.html").read_text()
    assert traces_by_name(env_page)["private"]["cost"]["usd"] == float(PRIVATE_COST)


@pytest.mark.parametrize("command", ["html", "serve"])
def test_bad_prices_are_a_one_line_usage_error(cost_log: Path, tmp_path: Path,
                                               command: str) -> None:
    """Prices that cannot be used stop ``html`` and ``serve`` with exit 2 and one line
    naming the file, never a traceback."""
    bad = tmp_path / "bad.toml"
    bad.write_text('["acme"]\ninput_mtok = "cheap"\noutput_mtok = 1\n')
    done = subprocess.run([sys.executable, "-m", "chainsink", command, str(cost_log),
                           "--prices", str(bad)], capture_output=True, text=True,
                          env=cli_env(), timeout=60, check=False, cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert str(bad) in done.stderr and "input_mtok" in done.stderr


#: ``chainsink html`` in a process where genai_prices cannot be imported (the extra missing).
WITHOUT_TABLE = """
import sys
sys.modules["genai_prices"] = None
from chainsink.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_without_the_price_table_the_report_renders_and_says_how_to_get_cost(
        cost_log: Path, tmp_path: Path) -> None:
    """Without chainsink[cost], the page has its summary and traces, no cost column or card,
    no cost in the trace data, and says once what to install."""
    out = tmp_path / "r.html"
    done = subprocess.run([sys.executable, "-c", WITHOUT_TABLE, "html", str(cost_log), "-o",
                           str(out)], capture_output=True, text=True, env=cli_env(),
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    assert page.count(html.escape(INSTALL_HINT)) == 1
    assert '<th class="num">cost</th>' not in page
    assert "<span>cost</span>" not in page
    traces = page_data(page)["traces"]
    assert len(traces) == 4
    assert all("cost" not in t for t in traces)
    assert all("cost" not in r for t in traces for r in t["rows"])
    assert token_rows(page)[KNOWN][0] == "3"  # the tokens table is there, without cost


def test_without_the_price_table_user_prices_still_price_their_models(
        cost_log: Path, prices_file: Path, tmp_path: Path) -> None:
    """Without chainsink[cost], ``--prices`` still prices its models; the table's models are
    unpriced, and the page says what to install for them."""
    out = tmp_path / "r.html"
    done = subprocess.run([sys.executable, "-c", WITHOUT_TABLE, "html", str(cost_log), "-o",
                           str(out), "--prices", str(prices_file)], capture_output=True,
                          text=True, env=cli_env(), timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    rows = token_rows(page)
    assert rows[PRIVATE][-1] == format_usd(PRIVATE_COST)
    assert rows[KNOWN][-1] == "unpriced"
    assert page.count(html.escape(INSTALL_HINT)) == 1


#: A log without model calls, summarised: the price table is never imported.
NO_MODEL_CALLS = """
import sys
from chainsink.read import read_events
from chainsink.report import render_html, summarize, trace_view
summary = summarize(read_events(sys.argv[1]), keep_records=True)
traces = [trace_view(t, t.records or [], pricer=summary.pricer) for t in summary.selected()]
page = "".join(render_html(summary, traces))
assert summary.traces == 1 and "<span>cost</span>" not in page
print("genai_prices" in sys.modules)
"""


def test_a_log_without_model_calls_never_loads_the_price_table(tmp_path: Path) -> None:
    """Summarising and rendering a log without model calls does not import genai_prices."""
    log = tmp_path / "plain.jsonl"
    with chainsink.capture(log):
        RunnableLambda(lambda x: x + "!", name="plain").invoke("hi")
    done = subprocess.run([sys.executable, "-c", NO_MODEL_CALLS, str(log)],
                          capture_output=True, text=True, env=cli_env(), timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_the_viewers_list_entry_for_a_trace_carries_its_cost(cost_log: Path,
                                                             prices_file: Path) -> None:
    """``chainsink serve --prices FILE`` sends each trace's entry with its cost (unknown for
    a trace of an unpriced model), and the opened trace's model runs with theirs."""
    server = Serve(cost_log, "--prices", prices_file)
    events = Events(server)
    try:
        known = events.wait_for("known_twice")
        fake = events.wait_for("fake_only")
        private = events.wait_for("private")
        assert known is not None and fake is not None and private is not None, \
            server.stderr()
        assert known["cost"]["usd"] == float(2 * known_price())
        assert known["cost"]["text"] == format_usd(2 * known_price())
        assert fake["cost"]["usd"] is None and fake["cost"]["unpriced"] == [FAKE]
        assert private["cost"]["usd"] == float(PRIVATE_COST)
        full = server.json(f"/trace?id={known['id']}")
        assert [r["cost"] for r in full["rows"] if r.get("model") == KNOWN] == \
            [format_usd(known_price())] * 2
        status, _, body = server.get("/")
        assert status == 200
        page = body.decode()
        assert {t["name"]: t["cost"]["usd"] for t in page_data(page)["traces"]}["private"] \
            == float(PRIVATE_COST)
        assert cost_card(page)[0] == "unknown"  # the fake model is still unpriced
    finally:
        events.close()
        server.interrupt()


def test_the_page_shows_cost_in_a_browser(browser: Any, cost_log: Path, prices_file: Path,
                                          tmp_path: Path) -> None:
    """In Chromium, the report shows the total, each trace's cost in its list line and its
    header (unknown, with the unpriced model, for a trace of a fake model), and a model
    run's cost in its detail panel."""
    out = tmp_path / "r.html"
    html_report(cost_log, out, "--prices", prices_file)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(out.resolve().as_uri())
        two = format_usd(2 * known_price())
        known = page.locator("details.trace", has_text="known_twice")
        assert known.locator("summary .cost").inner_text() == two
        fake = page.locator("details.trace", has_text="fake_only")
        assert fake.locator("summary .cost").inner_text() == "cost unknown"
        known.locator("summary").click()
        assert known.locator(".trace-cost").inner_text() == f"cost {two}"
        fake.locator("summary").click()
        assert fake.locator(".trace-cost").inner_text() == f"cost unknown: unpriced {FAKE}"
        mixed = page.locator("details.trace", has_text="known_and_fake")
        mixed.locator("summary").click()
        assert mixed.locator(".trace-cost").inner_text() == (
            f"cost unknown: unpriced {FAKE} (the others cost {format_usd(known_price())})")
        known.locator(".row.run", has_text="ScriptedChatModel").first.click()
        detail = known.locator(".detail").first.inner_text()
        assert f"cost\n{format_usd(known_price())}" in detail or \
            f"cost\t{format_usd(known_price())}" in detail, detail
        assert errors == []
    finally:
        page.close()


def test_stats_and_report_agree_on_cost(cost_log: Path, tmp_path: Path) -> None:
    """``chainsink stats --json`` and the report price the same log alike, per model."""
    done = subprocess.run([sys.executable, "-m", "chainsink", "stats", "--json", str(cost_log)],
                          capture_output=True, text=True, env=cli_env(), timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    summary = summarize(read_events(cost_log))
    for model, tokens in stats["tokens_by_model"].items():
        found = summary.cost_by_model[model]
        assert tokens["cost"] == (None if found is None else float(found)), model
