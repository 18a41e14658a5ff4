"""chainsink.usage() replaces get_openai_callback() for every provider: its names, its printed
summary, and a cost that is None (never $0) when a model's price is unknown."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

import genai_prices
import workloads
from langchain_core.messages import AIMessage
from langchain_core.prompts import ChatPromptTemplate

import chainsink
from chainsink.cli._workloads import ScriptedChatModel

MODEL = "gpt-4o-mini-2024-07-18"
USAGE: dict[str, Any] = {
    "input_tokens": 1200, "output_tokens": 700, "total_tokens": 1900,
    "input_token_details": {"audio": 0, "cache_read": 1024},
    "output_token_details": {"audio": 0, "reasoning": 256},
}


def reply(model: str = MODEL, usage: dict[str, Any] | None = None) -> AIMessage:
    """A chat model's reply with usage_metadata and the model's name, as providers send it."""
    return AIMessage(content="2", usage_metadata=usage or USAGE,  # type: ignore[arg-type]
                     response_metadata={"model_name": model})


def llm(*replies: AIMessage) -> ScriptedChatModel:
    """A fake chat model answering ``replies`` in turn (the last one forever)."""
    return ScriptedChatModel(messages=itertools.chain(replies[:-1], itertools.repeat(replies[-1])))


def call_price(model: str = MODEL) -> Decimal:
    """What genai-prices says one call with USAGE costs."""
    return Decimal(genai_prices.calc_price(genai_prices.Usage(
        input_tokens=1200, output_tokens=700, cache_read_tokens=1024,
        output_reasoning_tokens=256), model).total_price)


def test_usage_has_get_openai_callbacks_names_and_cost() -> None:
    """prompt/completion tokens, cached prompt and reasoning tokens, requests and total cost
    are the sums of what two calls reported, priced by genai-prices."""
    model = llm(reply())
    with chainsink.usage() as cb:
        model.invoke("What is the square root of 4?")
        model.invoke("What is the square root of 4?")
    assert (cb.prompt_tokens, cb.completion_tokens, cb.total_tokens) == (2400, 1400, 3800)
    assert (cb.prompt_tokens_cached, cb.reasoning_tokens) == (2048, 512)
    assert cb.successful_requests == 2
    assert cb.total_cost == float(2 * call_price())
    assert cb.unpriced_models == []
    assert cb.cost_by_model == {MODEL: float(2 * call_price())}
    assert cb.as_dict()["by_model"][MODEL]["cost"] == cb.total_cost


def test_printing_usage_prints_get_openai_callbacks_summary() -> None:
    """str(u) is the block get_openai_callback() prints."""
    with chainsink.usage() as cb:
        llm(reply()).invoke("hi")
    assert str(cb) == (
        "Tokens Used: 1900\n"
        "\tPrompt Tokens: 1200\n"
        "\t\tPrompt Tokens Cached: 1024\n"
        "\tCompletion Tokens: 700\n"
        "\t\tReasoning Tokens: 256\n"
        "Successful Requests: 1\n"
        f"Total Cost (USD): ${float(call_price())}")


def test_an_unknown_model_makes_the_cost_unknown_not_zero() -> None:
    """A model with no known price: total_cost is None, the model is named in unpriced_models,
    and the printed cost line says unknown (with what the priced calls cost), never $0."""
    fake = {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}
    with chainsink.usage() as cb:
        llm(reply(workloads.CHAT_MODEL_NAME, fake)).invoke("a")
    assert cb.total_cost is None
    assert cb.unpriced_models == [workloads.CHAT_MODEL_NAME]
    last = str(cb).splitlines()[-1]
    assert last == f"Total Cost (USD): unknown (no price for {workloads.CHAT_MODEL_NAME})"
    with chainsink.usage() as both:
        llm(reply(), reply(workloads.CHAT_MODEL_NAME, fake)).invoke("a")
        llm(reply(workloads.CHAT_MODEL_NAME, fake)).invoke("b")
    assert both.total_cost is None
    assert both.priced_cost == float(call_price())
    assert "$0 " not in str(both) and str(both).endswith(
        f"unknown (${float(call_price())} priced; no price for {workloads.CHAT_MODEL_NAME})")


def test_the_workloads_fake_models_are_unpriced() -> None:
    """The test workloads' fake-chat-1 is counted but never priced."""
    with chainsink.usage() as cb:
        workloads.invoke_lcel([])
    assert cb.total_tokens > 0
    assert cb.total_cost is None and cb.unpriced_models == [workloads.CHAT_MODEL_NAME]


def test_user_prices_price_a_private_model(tmp_path: Path) -> None:
    """usage(prices=...) prices a private model from a mapping or a TOML file."""
    private = {"input_tokens": 1_000_000, "output_tokens": 1_000_000, "total_tokens": 2_000_000}
    path = tmp_path / "prices.toml"
    path.write_text('["acme-private-1"]\ninput_mtok = 0.5\noutput_mtok = 1.5\n')
    for prices in ({"acme-private-1": {"input_mtok": 0.5, "output_mtok": 1.5}}, path):
        with chainsink.usage(prices=prices) as cb:
            llm(reply("acme-private-1", private)).invoke("hi")
        assert cb.total_cost == 2.0, prices


def test_usage_cost_is_exact_under_threads() -> None:
    """A threaded batch of 16 priced calls costs 16 times one call."""
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | llm(reply())
    with chainsink.usage() as cb:
        chain.batch([{"q": str(i)} for i in range(16)], config={"max_concurrency": 8})
    assert cb.successful_requests == 16
    assert cb.total_cost == float(16 * call_price())


async def test_the_seed_example_runs_with_usage_in_place_of_get_openai_callback() -> None:
    """The seed's get_openai_callback example, with ``chainsink.usage`` for
    ``get_openai_callback`` and a fake chat model for ``OpenAI()``, runs as written; only the
    calls change as a chat model takes them (``llm(x)`` -> ``llm.invoke(x)``,
    ``llm.agenerate([x])`` -> ``llm.ainvoke(x)``). Its counts and printed summary work."""
    get_openai_callback = chainsink.usage
    llm_ = llm(reply())

    with get_openai_callback() as cb:
        llm_.invoke("What is the square root of 4?")

    total_tokens = cb.total_tokens
    assert total_tokens > 0

    with get_openai_callback() as cb:
        llm_.invoke("What is the square root of 4?")
        llm_.invoke("What is the square root of 4?")

    assert cb.total_tokens == total_tokens * 2

    # You can kick off concurrent runs from within the context manager
    with get_openai_callback() as cb:
        await asyncio.gather(
            *[llm_.ainvoke("What is the square root of 4?") for _ in range(3)]
        )

    assert cb.total_tokens == total_tokens * 3

    # The context manager is concurrency safe
    task = asyncio.create_task(llm_.ainvoke("What is the square root of 4?"))
    with get_openai_callback() as cb:
        await llm_.ainvoke("What is the square root of 4?")

    await task
    assert cb.total_tokens == total_tokens

    # the second seed: print the totals
    with get_openai_callback() as cb:
        llm_.invoke("解释量子力学")
        print(f"总消耗Token: {cb.total_tokens}")
        print(cb)
    assert cb.total_cost == float(call_price())
    assert str(cb).startswith("Tokens Used: 1900\n\tPrompt Tokens: 1200\n")
