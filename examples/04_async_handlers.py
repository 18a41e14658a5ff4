"""Async callback handlers, and chainsink handlers under concurrent ``ainvoke``/``astream``.

Part 1 re-creates the async examples from the LangChain callbacks docs on fake models:

* ``MyCustomAsyncHandler`` (an ``AsyncCallbackHandler`` subclass) sleeps a little in
  ``on_llm_start``/``on_llm_end`` (standing in for async I/O such as a database write) and prints
  ``(Async) LLM run started ...``; a sync ``MyCustomSyncHandler`` next to it prints the tokens;
* ``asyncio.gather`` over two ``ainvoke`` calls shows both runs starting before either ends.

Part 2 passes chainsink handlers to several concurrent runs (``ainvoke`` and ``astream`` of an
LCEL chain, gathered with ``asyncio.gather``):

* ``chainsink.StdOutCallbackHandler(style="detailed")`` prints the interleaved events;
* ``chainsink.FileCallbackHandler(path, format="jsonl")`` records them; reading the file back
  and grouping by ``trace_id`` shows that each concurrent run keeps its own trace.

Run from the repository root (with chainsink installed, e.g. ``pip install -e .``)::

    python examples/04_async_handlers.py [OUTPUT_DIR]

The JSONL log goes to ``OUTPUT_DIR/async.jsonl`` (a fresh temporary directory by default).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.language_models import FakeListLLM, GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import LLMResult
from langchain_core.prompts import ChatPromptTemplate

import chainsink

JOKE = "Why don't scientists trust atoms? Because they make up everything."


def output_dir() -> Path:
    if len(sys.argv) > 1:
        path = Path(sys.argv[1])
        path.mkdir(parents=True, exist_ok=True)
        return path
    return Path(tempfile.mkdtemp(prefix="chainsink-example-"))


def banner(title: str) -> None:
    print(f"\n{'=' * 10} {title} {'=' * 10}")


# --- Part 1: handlers written by hand, as in the docs -------------------------------------


class MyCustomSyncHandler(BaseCallbackHandler):
    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        print(f"Sync handler being called in a `thread_pool_executor`: token: {token}")


class MyCustomAsyncHandler(AsyncCallbackHandler):
    """Async callback handler that can be used to handle callbacks from langchain."""

    async def on_llm_start(
        self, serialized: dict[str, Any], prompts: list[str], **kwargs: Any
    ) -> None:
        await asyncio.sleep(0.01)
        print(f"(Async) LLM run started with {len(prompts)} prompts.")

    async def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[Any]], **kwargs: Any
    ) -> None:
        await asyncio.sleep(0.01)
        print(f"(Async) chat model run started with {len(messages)} message lists.")

    async def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        await asyncio.sleep(0.01)
        print("(Async) LLM run finished.")

    async def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
        await asyncio.sleep(0.01)
        print(f"(Async) Oh no, an LLM error occurred: {error}")


async def hand_written() -> None:
    banner("sync + async handlers on a streaming chat model")
    chat = GenericFakeChatModel(
        messages=iter([AIMessage(content=JOKE)]),
        callbacks=[MyCustomSyncHandler(), MyCustomAsyncHandler()],
    )
    answer = "".join([str(chunk.content) async for chunk in chat.astream("Tell me a joke")])
    print(f"answer: {answer!r}")

    print("\n--- Running a successful async call ---")
    llm = FakeListLLM(
        responses=["Rainbow Threads", "A joke.", "A poem."], callbacks=[MyCustomAsyncHandler()]
    )
    await llm.ainvoke("What is a good name for a company that makes colorful socks?")

    print("\n" + "=" * 40 + "\n")
    print("--- Running multiple async calls concurrently ---")
    await asyncio.gather(llm.ainvoke("Tell me a joke."), llm.ainvoke("Tell me a poem."))


# --- Part 2: chainsink handlers with concurrent runs --------------------------------------


async def with_chainsink(log_path: Path) -> None:
    banner("chainsink handlers, 2 x ainvoke + 2 x astream under asyncio.gather")
    prompt = ChatPromptTemplate.from_messages([("human", "Tell me about {topic} in one line.")])
    answers = {
        "atoms": "Atoms make up everything.",
        "socks": "Colorful socks brighten every day.",
        "poems": "Roses are red, tokens stream by.",
        "jokes": "I would tell a UDP joke, but you might not get it.",
    }

    def chain_for(topic: str) -> Any:
        model = GenericFakeChatModel(messages=iter([AIMessage(content=answers[topic])]))
        return prompt | model | StrOutputParser()

    console = chainsink.StdOutCallbackHandler(style="detailed")
    with chainsink.FileCallbackHandler(str(log_path), mode="w", format="jsonl") as jsonl:
        config: dict[str, Any] = {"callbacks": [console, jsonl]}

        async def streamed(topic: str) -> str:
            stream = chain_for(topic).astream({"topic": topic}, config=config)
            return "".join([part async for part in stream])

        results = await asyncio.gather(
            chain_for("atoms").ainvoke({"topic": "atoms"}, config=config),
            chain_for("socks").ainvoke({"topic": "socks"}, config=config),
            streamed("poems"),
            streamed("jokes"),
        )

    print("\nresults:")
    for result in results:
        print(f"  {result!r}")

    records = [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines()]
    traces: dict[str, list[str]] = defaultdict(list)
    for record in records:
        traces[str(record.get("trace_id"))].append(str(record.get("event")))
    print(f"\n{len(records)} JSONL records in {log_path}, {len(traces)} traces:")
    for trace_id, kinds in traces.items():
        tokens = kinds.count("llm_new_token")
        others = [kind for kind in kinds if kind != "llm_new_token"]
        first = " ".join(others[:4])
        print(f"  trace …{trace_id[-8:]}: {len(kinds)} events ({tokens} tokens): {first} ...")


async def main() -> None:
    await hand_written()
    await with_chainsink(output_dir() / "async.jsonl")


if __name__ == "__main__":
    asyncio.run(main())
