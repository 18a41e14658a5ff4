"""chainsink.cost prices model calls from recorded usage: the genai-prices table, the user's own
prices first, None (never 0) for a model no one prices."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import genai_prices
import pytest
from langchain_core.messages import AIMessage
from langchain_core.prompts import ChatPromptTemplate

import chainsink
from chainsink.cli._workloads import ScriptedChatModel
from chainsink.cost import (
    INSTALL_HINT,
    CostUnavailableError,
    Pricer,
    Prices,
    call_cost,
    decimal_cost,
    load_prices,
    price_table_version,
    token_counts,
)

REPO = Path(__file__).resolve().parent.parent

#: What an OpenAI model reports through langchain-openai: cache hits and reasoning included.
KNOWN_USAGE: dict[str, Any] = {
    "input_tokens": 1200, "output_tokens": 700, "total_tokens": 1900,
    "input_token_details": {"audio": 0, "cache_read": 1024},
    "output_token_details": {"audio": 0, "reasoning": 256},
}
KNOWN_MODEL = "gpt-4o-mini-2024-07-18"


def reply(model: str, usage: dict[str, Any], content: str = "ok") -> AIMessage:
    """A model reply as a provider's chat model returns it: usage and the model's name."""
    return AIMessage(content=content, usage_metadata=usage,  # type: ignore[arg-type]
                     response_metadata={"model_name": model})


def record_calls(path: Path, replies: list[AIMessage]) -> list[dict[str, Any]]:
    """Run a prompt | fake chat model chain once per reply, recorded as JSONL; the records."""
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | ScriptedChatModel(
        messages=iter(replies))
    with chainsink.capture(path):
        for i in range(len(replies)):
            chain.invoke({"q": f"question {i}"})
    return [json.loads(line) for line in path.read_text().splitlines()]


def table_price(model: str, **usage: int) -> Decimal:
    """What genai-prices itself says the call costs."""
    return Decimal(genai_prices.calc_price(genai_prices.Usage(**usage), model).total_price)


def test_recorded_call_costs_what_genai_prices_says(tmp_path: Path) -> None:
    """A run of a model the table knows costs calc_price of its usage, cache hits included
    (the llm_end record keeps the usage's token details for this)."""
    recs = record_calls(tmp_path / "run.jsonl", [reply(KNOWN_MODEL, KNOWN_USAGE)])
    end = next(r for r in recs if r["event"] == "llm_end")
    assert end["usage"]["input_token_details"]["cache_read"] == 1024
    assert end["usage"]["output_token_details"]["reasoning"] == 256
    expected = table_price(KNOWN_MODEL, input_tokens=1200, output_tokens=700,
                           cache_read_tokens=1024, output_reasoning_tokens=256)
    got = decimal_cost(end["model"], end["usage"])
    assert got == expected
    assert call_cost(end["model"], end["usage"]) == float(expected)
    # the cache hits are cheaper: ignoring them would price more
    assert expected < table_price(KNOWN_MODEL, input_tokens=1200, output_tokens=700)


def test_every_table_price_matches_calc_price() -> None:
    """For 400 models of the table's providers, flat or tiered, the cost of a random usage
    (cache reads and writes, audio, reasoning) is exactly genai-prices' calc_price."""
    rnd = random.Random(7)
    snapshot = genai_prices.data_snapshot.get_snapshot()
    models = [(p, m) for p in snapshot.providers for m in p.models]
    checked = 0
    for provider, model in rnd.sample(models, min(400, len(models))):
        inp = rnd.choice([rnd.randint(0, 2000), rnd.randint(0, 400_000)])
        out = rnd.randint(0, 40_000)
        read = rnd.randint(0, inp)
        write = rnd.randint(0, inp - read)
        usage = {"input_tokens": inp, "output_tokens": out,
                 "input_token_details": {"cache_read": read, "cache_creation": write,
                                         "ephemeral_1h_input_tokens": rnd.randint(0, write),
                                         "audio": rnd.randint(0, inp - read - write)},
                 "output_token_details": {"reasoning": rnd.randint(0, out)}}
        counts = {k: v for k, v in token_counts(usage).items() if v}
        try:
            expected = genai_prices.calc_price(genai_prices.Usage(**counts), model.id,
                                               provider_id=provider.id).total_price
        except (LookupError, ValueError):  # a usage this model cannot be priced for
            continue
        assert decimal_cost(model.id, usage, provider=provider.id) == expected, (
            provider.id, model.id, counts)
        checked += 1
    assert checked > 300


@pytest.mark.parametrize(("reported", "table_id"), [
    ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
    ("models/gemini-2.0-flash", "gemini-2.0-flash"),
])
def test_langchain_model_names_match_the_table(reported: str, table_id: str) -> None:
    """Names as LangChain's providers report them price as the table's model."""
    usage = {"input_tokens": 1000, "output_tokens": 100}
    assert call_cost(reported, usage) == float(table_price(table_id, **usage))


@pytest.mark.parametrize("model", ["fake-chat-1", "", None, "ft:gpt-4o-mini:acme::x1"])
def test_unknown_model_costs_none_never_zero(model: str | None) -> None:
    """A fake, missing or fine-tuned model has no price: None, not 0."""
    assert call_cost(model, {"input_tokens": 10, "output_tokens": 5}) is None


@pytest.mark.parametrize("usage", [None, {}, {"total_tokens": 5}, "odd"])
def test_a_call_without_reported_usage_costs_none(usage: Any) -> None:
    """A known model's call that reported no usage (a stream not asked for it) costs None:
    its tokens are unknown, not 0. A reported zero costs 0."""
    assert call_cost("gpt-4o-mini", usage) is None
    assert call_cost("gpt-4o-mini", {"input_tokens": 0, "output_tokens": 0}) == 0.0


def test_provider_hint_picks_the_providers_price() -> None:
    """LangChain's ls_provider picks the provider's own listing (google_genai -> google); an
    unknown provider falls back to the name."""
    usage = {"input_tokens": 1000, "output_tokens": 500}
    assert call_cost("gemini-2.0-flash", usage, provider="google_genai") == float(
        table_price("gemini-2.0-flash", **usage))
    assert call_cost("gpt-4o-mini", usage, provider="scriptedchatmodel") == float(
        table_price("gpt-4o-mini", **usage))


def test_details_never_exceed_their_parent() -> None:
    """A cache count larger than the input (a provider's odd report) is clamped, so the table
    still prices the call instead of refusing it."""
    counts = token_counts({"input_tokens": 100, "output_tokens": 5,
                           "input_token_details": {"cache_read": 400, "cache_creation": 9},
                           "output_token_details": {"reasoning": 50}})
    assert counts["cache_read_tokens"] == 100
    assert counts["cache_write_tokens"] == 0
    assert counts["output_reasoning_tokens"] == 5
    assert call_cost("gpt-4o-mini", {"input_tokens": 100, "output_tokens": 5,
                                     "input_token_details": {"cache_read": 400}}) is not None


def test_user_prices_from_toml_price_a_private_model(tmp_path: Path) -> None:
    """A TOML price file prices a private model, cache hits at their own price, and takes
    precedence over the table."""
    path = tmp_path / "prices.toml"
    path.write_text(textwrap.dedent("""\
        ["acme-private-1"]
        input_mtok = 0.50
        output_mtok = 1.50
        cache_read_mtok = 0.05

        ["gpt-4o-mini"]  # our negotiated price
        input_mtok = 0.1
        output_mtok = 0.2
        """))
    prices = Prices.load(path)
    usage = {"input_tokens": 2_000_000, "output_tokens": 1_000_000,
             "input_token_details": {"cache_read": 1_000_000}}
    # 1M plain input at 0.50 + 1M cached at 0.05 + 1M output at 1.50
    assert decimal_cost("acme-private-1", usage, prices=prices) == Decimal("2.05")
    assert call_cost("ACME-private-1", usage, prices=prices) == 2.05
    assert call_cost("acme-private-1", usage) is None  # the table does not know it
    assert call_cost("gpt-4o-mini", {"input_tokens": 1_000_000, "output_tokens": 1_000_000},
                     prices=prices) == pytest.approx(0.3)


def test_user_prices_from_a_mapping_and_json(tmp_path: Path) -> None:
    """A mapping and a JSON file price the same way; a pattern matches dated names."""
    table = {"acme-*": {"input_mtok": 1, "output_mtok": "2.5"}}
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(table))
    usage = {"input_tokens": 1_000_000, "output_tokens": 2_000_000}
    for prices in (load_prices(table), load_prices(path), Prices(table)):
        assert prices is not None
        assert call_cost("acme-2026-11-01", usage, prices=prices) == 6.0
        assert "acme-x" in prices and "other" not in prices


def test_prices_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CHAINSINK_PRICES names the price file used when none is given."""
    path = tmp_path / "p.toml"
    path.write_text('["acme-1"]\ninput_mtok = 1\noutput_mtok = 1\n')
    monkeypatch.setenv("CHAINSINK_PRICES", str(path))
    prices = load_prices()
    assert prices is not None and "acme-1" in prices
    monkeypatch.delenv("CHAINSINK_PRICES")
    assert load_prices() is None


@pytest.mark.parametrize(("table", "says"), [
    ({"m": {"input_mtok": 1}}, "output_mtok is required"),
    ({"m": {"input_mtok": 1, "output_mtok": -1}}, "non-negative"),
    ({"m": {"input_mtok": 1, "output_mtok": "lots"}}, "must be a number"),
    ({"m": {"input_mtok": 1, "output_mtok": 1, "input": 2}}, "unknown key 'input'"),
    ({"m": 3}, "must be a table"),
])
def test_bad_prices_are_refused_in_one_line(table: dict[str, Any], says: str) -> None:
    """Malformed prices raise a one-line ValueError naming the model and the problem."""
    with pytest.raises(ValueError, match=says) as info:
        Prices(table)
    assert "\n" not in str(info.value) and "'m'" in str(info.value)


def test_unreadable_price_file_names_the_file(tmp_path: Path) -> None:
    """A missing or unparsable file gives a ValueError that starts with its path."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[unclosed\n")
    for path in (bad, tmp_path / "missing.toml"):
        with pytest.raises(ValueError, match=str(path).replace("\\", "\\\\")):
            Prices.load(path)


def test_price_table_version_names_genai_prices() -> None:
    """The table's version is genai-prices' release (its bundled snapshot)."""
    assert price_table_version() == f"genai-prices {genai_prices.__version__}"


def _fresh_python(code: str, *, without_genai_prices: bool) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter; optionally as if genai-prices were not installed
    (``sys.modules[name] = None`` makes Python's import fail, as for a missing package)."""
    prelude = "import sys\nsys.modules['genai_prices'] = None\n" if without_genai_prices else ""
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)


def test_importing_chainsink_never_loads_the_price_table() -> None:
    """import chainsink (and chainsink.cost, and a usage block with no calls) loads no
    genai_prices; the first priced call does."""
    done = _fresh_python("""
        import sys, chainsink, chainsink.cost
        with chainsink.usage():
            pass
        assert "genai_prices" not in sys.modules, "loaded early"
        chainsink.cost.call_cost("gpt-4o-mini", {"input_tokens": 1, "output_tokens": 1})
        assert "genai_prices" in sys.modules
        """, without_genai_prices=False)
    assert done.returncode == 0, done.stderr


def test_without_the_extra_cost_says_what_to_install() -> None:
    """Without genai-prices the table's lookups raise a one-line ImportError naming the extra;
    the user's prices still work; usage() still counts tokens, its cost is None and its
    summary says what to install."""
    done = _fresh_python("""
        from chainsink.cost import CostUnavailableError, call_cost, cost_available
        assert not cost_available()
        print(call_cost("acme", {"input_tokens": 10**6}, prices=__import__(
            "chainsink.cost").cost.Prices({"acme": {"input_mtok": 2, "output_mtok": 3}})))
        try:
            call_cost("gpt-4o-mini", {"input_tokens": 1})
        except CostUnavailableError as exc:
            print(exc)
        import chainsink
        from chainsink.cli._workloads import ScriptedChatModel
        with chainsink.usage() as u:
            ScriptedChatModel(messages=iter(["hi"]), model_name="gpt-4o-mini",
                              estimate_usage=True).invoke("hello")
        print(u.total_tokens > 0, u.total_cost, u.unpriced_models)
        print(str(u).splitlines()[-1])
        """, without_genai_prices=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "2.0", f"cost needs the genai-prices price table: {INSTALL_HINT}",
        "True None ['gpt-4o-mini']",
        f"Total Cost (USD): unknown (no price for gpt-4o-mini; {INSTALL_HINT})"]
    assert issubclass(CostUnavailableError, ImportError)


# -- Pricer: what every reader prices with -------------------------------------------------------


def test_pricer_tries_the_users_prices_first_then_the_table() -> None:
    """A Pricer prices a model the user's prices name with them, any other with the table,
    exactly as decimal_cost does; both kinds of prices are shown."""
    own = Prices({"gpt-4o-mini*": {"input_mtok": 1, "output_mtok": 2}, "acme-1": {
        "input_mtok": 3, "output_mtok": 4}})
    pricer = Pricer(own)
    assert pricer.prices is own and pricer.table and pricer.shown
    assert pricer("gpt-4o-mini", {"input_tokens": 10**6, "output_tokens": 0}) == 1
    assert pricer("acme-1", {"input_tokens": 0, "output_tokens": 10**6}) == 4
    assert Pricer()("gpt-4o-mini", KNOWN_USAGE) == decimal_cost("gpt-4o-mini", KNOWN_USAGE)
    assert not pricer.missing_table


def test_pricer_remembers_a_model_no_one_prices() -> None:
    """A model neither the user's prices nor the table know is unpriced (None, never 0), and
    looked up once per provider: its later calls are not looked up again."""
    pricer = Pricer()
    assert pricer("no-such-model-xyz", {"input_tokens": 5, "output_tokens": 1}) is None
    assert pricer("no-such-model-xyz", {"input_tokens": 5}, "acme") is None
    assert pricer._unknown == {("no-such-model-xyz", None), ("no-such-model-xyz", "acme")}
    # a call without usage says nothing of the model: it is not remembered
    assert pricer("gpt-4o-mini", {}) is None
    assert ("gpt-4o-mini", None) not in pricer._unknown


@pytest.mark.parametrize("rec", [
    {}, {"model": 3, "usage": {"input_tokens": 1}}, {"model": "gpt-4o-mini", "usage": "x"},
    {"model": "gpt-4o-mini", "usage": None}, {"model": "", "usage": {"input_tokens": 1}},
    {"model": "gpt-4o-mini", "usage": {"input_tokens": "many"}, "ts": 5, "metadata": []},
])
def test_pricer_prices_odd_records_as_unpriced_never_raising(rec: dict[str, Any]) -> None:
    """price_record gives None (or a price of the counts that make sense) for odd values of a
    record: never a traceback."""
    found = Pricer().price_record(rec)
    assert found is None or found == decimal_cost("gpt-4o-mini", {"input_tokens": 0})


def test_pricer_prices_an_llm_end_record_with_its_provider_and_time() -> None:
    """price_record reads the record's model, usage, metadata.ls_provider and ts."""
    rec = {"event": "llm_end", "model": "gpt-4o-mini", "usage": KNOWN_USAGE,
           "metadata": {"ls_provider": "openai"}, "ts": "2025-06-01T12:00:00.000000Z"}
    from chainsink._schema import parse_time

    assert Pricer().price_record(rec) == decimal_cost(
        "gpt-4o-mini", KNOWN_USAGE, provider="openai", when=parse_time(rec["ts"]))


def test_pricer_is_lazy_and_says_when_the_table_is_missing() -> None:
    """Making a Pricer loads no genai_prices; without the extra a table lookup is unpriced
    and flags missing_table, while the user's prices still price their models."""
    lazy = _fresh_python("""
        import sys
        from chainsink.cost import Pricer
        pricer = Pricer()
        pricer("acme", {})  # no usage: nothing to look up
        assert "genai_prices" not in sys.modules, "loaded early"
        pricer("gpt-4o-mini", {"input_tokens": 1})
        assert "genai_prices" in sys.modules
        """, without_genai_prices=False)
    assert lazy.returncode == 0, lazy.stderr
    done = _fresh_python("""
        from chainsink.cost import Pricer, Prices
        pricer = Pricer(Prices({"acme": {"input_mtok": 2, "output_mtok": 3}}))
        print(pricer("acme", {"input_tokens": 10**6}), pricer.missing_table)
        print(pricer("gpt-4o-mini", {"input_tokens": 1}), pricer.missing_table,
              pricer.table, pricer.shown)
        """, without_genai_prices=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["2 False", "None True False True"]


@pytest.mark.parametrize("usage", [
    {"input_tokens": "5", "output_tokens": "5"},
    {"input_tokens": float("nan"), "output_tokens": None},
    {"input_tokens": -3, "output_tokens": -1},
    {"input_tokens": True, "output_tokens": False},
    {"input_tokens": float("inf")},
])
def test_counts_that_are_not_counts_cost_none_never_zero(usage: dict[str, Any]) -> None:
    """Text, NaN, infinite, negative or boolean counts say nothing of what a call cost: None,
    as for a call that reported no usage, never $0."""
    assert call_cost("gpt-4o", usage) is None
    assert call_cost("gpt-4o", {**usage, "output_tokens": 10}) is not None
