"""Custom callback handlers: the hand-written way and the chainsink way.

Part 1 re-creates the handlers from the LangChain callbacks docs on fake models:

* ``MyCustomHandler`` (a ``BaseCallbackHandler`` subclass) prints every streamed token of a
  chat model (``GenericFakeChatModel`` streams its answer word by word);
* ``MyCustomHandlerOne`` / ``MyCustomHandlerTwo`` show constructor callbacks (set on the LLM
  only) against request callbacks (reaching every run of the chain).

Part 2 does the same with no subclassing: ``chainsink.CallbackHandler(sink, formatter)`` pairs
a formatter from ``chainsink.formatters`` (a callable ``Event -> str``) with a sink from
``chainsink.sinks`` (a path, a text stream, or a callable taking one string):

* ``ConsoleFormatter(style="detailed", ansi=False)`` into a callable sink that collects lines;
* ``JsonlFormatter()`` into a stream sink on stdout;
* a plain function as formatter, printing tokens like ``MyCustomHandler`` does.

Run from the repository root (with chainsink installed, e.g. ``pip install -e .``)::

    python examples/03_custom_handler.py

It writes no files; an optional argv[1] (an output directory) is accepted and ignored.
"""

from __future__ import annotations

import sys
import textwrap
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import FakeListLLM, GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.prompts import PromptTemplate

import chainsink
from chainsink.formatters import ConsoleFormatter, JsonlFormatter
from chainsink.sinks import make_sink

JOKE = "Why don't scientists trust atoms? Because they make up everything."


def joke_model() -> GenericFakeChatModel:
    """A chat model that streams the docs' joke word by word."""
    return GenericFakeChatModel(messages=iter([AIMessage(content=JOKE)]))


def banner(title: str) -> None:
    print(f"\n{'=' * 10} {title} {'=' * 10}")


# --- Part 1: handlers written by hand, as in the docs -------------------------------------


class MyCustomHandler(BaseCallbackHandler):
    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        print(f"My custom handler, token: {token}")


class MyCustomHandlerOne(BaseCallbackHandler):
    def on_llm_start(self, serialized: dict[str, Any], prompts: list[str], **kwargs: Any) -> None:
        print(f"on_llm_start {kwargs.get('name') or (serialized or {}).get('name')}")

    def on_chain_start(
        self, serialized: dict[str, Any], inputs: dict[str, Any], **kwargs: Any
    ) -> None:
        name = kwargs.get("name") or (serialized or {}).get("name")
        print(f"on_chain_start {name}")

    def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
        print(f"on_chain_end {outputs!r}")


class MyCustomHandlerTwo(BaseCallbackHandler):
    def on_llm_start(self, serialized: dict[str, Any], prompts: list[str], **kwargs: Any) -> None:
        name = kwargs.get("name") or (serialized or {}).get("name")
        print(f"on_llm_start (I'm the second handler!!) {name}")


def hand_written() -> None:
    banner("MyCustomHandler: one line per streamed token")
    chat = joke_model()
    messages = [HumanMessage(content="Tell me a joke")]
    chunks = chat.stream(messages, config={"callbacks": [MyCustomHandler()]})
    answer = "".join(str(chunk.content) for chunk in chunks)
    print(f"answer: {answer!r}")

    banner("constructor callbacks (handler2 on the LLM) + request callbacks (handler1)")
    llm = FakeListLLM(responses=["1.1769067372187674"], callbacks=[MyCustomHandlerTwo()])
    chain = PromptTemplate.from_template("What is {x} raised to the {y} power?") | llm
    chain.invoke({"x": 2, "y": 0.235}, config={"callbacks": [MyCustomHandlerOne()]})


# --- Part 2: the chainsink way: CallbackHandler(sink, formatter) --------------------------


def token_formatter(event: chainsink.Event) -> str:
    """A formatter is any callable Event -> str; an empty string writes nothing."""
    if event.event == "llm_new_token":
        return f"chainsink handler, token: {event.data.get('token')}\n"
    return ""


def chainsink_way() -> None:
    banner("ConsoleFormatter(style='detailed', ansi=False) -> callable sink collecting lines")
    collected: list[str] = []
    collector = chainsink.CallbackHandler(
        make_sink(collected.append), ConsoleFormatter(style="detailed", ansi=False)
    )
    chat = joke_model()
    messages = [HumanMessage(content="Tell me a joke")]
    answer = chat.invoke(messages, config={"callbacks": [collector]})
    print(f"answer: {answer.content!r}")
    print(f"the collector received {len(collected)} strings:")
    for text in collected:
        print(textwrap.indent(text.rstrip("\n"), "  | "))

    banner("JsonlFormatter() -> stream sink on stdout")
    to_stdout = chainsink.CallbackHandler(make_sink(sys.stdout), JsonlFormatter())
    llm = FakeListLLM(responses=["4"])
    chain = PromptTemplate.from_template("2 + {number} = ") | llm
    chain.invoke({"number": 2}, config={"callbacks": [to_stdout]})
    sys.stdout.flush()

    banner("a plain function as formatter, sys.stdout given directly as sink")
    tokens = chainsink.CallbackHandler(sys.stdout, token_formatter)
    for _ in joke_model().stream("Tell me a joke", config={"callbacks": [tokens]}):
        pass
    sys.stdout.flush()


def main() -> None:
    hand_written()
    chainsink_way()


if __name__ == "__main__":
    main()
