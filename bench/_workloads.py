"""Benchmark workloads on langchain-core's fake models: built once, run any number of times.

A service builds its chain once and serves many requests with it, so every workload here builds
its runnable once (fake models cycle through their scripted answers forever) and each call of
``run(callbacks)`` is one request. Nothing touches the network; no API keys.

Workloads (events per run are printed by the benchmark):

* ``sync_stream``: ``prompt | chat model | StrOutputParser`` consumed with ``.stream``; the model
  streams a 51-word answer as 101 chunks (words and the spaces between them, as
  ``GenericFakeChatModel`` splits text): 109 events per run.
* ``astream10``: 10 of those ``.astream`` runs at once under ``asyncio.gather`` (1,090 events).
* ``batch_threaded``: ``.batch`` of 16 inputs on 8 worker threads (1,744 events).
* ``agent``: langchain-classic's ReAct ``AgentExecutor`` with a calculator tool: one tool call,
  then the final answer (LLM, tool, agent action/finish and text events).
* ``create_agent``: ``langchain.agents.create_agent`` (LangGraph) with the same tool; optional.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from collections.abc import Callable
from typing import Any

from langchain_core.language_models.fake import FakeListLLM
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate

# the fake chat model (its last streamed chunk keeps usage and model name, as real models do)
# and the calculator tool are chainsink demo's own
from chainsink.cli._workloads import ScriptedChatModel, calculator

# the ReAct agent's prompt and scripted answers are the test suite's own
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))
from workloads import REACT_PROMPT, REACT_RESPONSES

_WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
          "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
          "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu"]
#: 51 words: streamed as 101 chunks, so one run of the chain is 109 events.
ANSWER = " ".join(itertools.islice(itertools.cycle(_WORDS), 51))
USAGE = {"input_tokens": 24, "output_tokens": 51, "total_tokens": 75}
MODEL_NAME = "fake-chat-1"

N_ASTREAM = 10
N_BATCH = 16
BATCH_WORKERS = 8


def _answer(content: str = ANSWER, **kwargs: Any) -> AIMessage:
    return AIMessage(content=content, usage_metadata=USAGE,
                     response_metadata={"model_name": MODEL_NAME}, **kwargs)


def _stream_chain() -> Any:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are a terse assistant."), ("human", "Tell me about {topic}.")])
    model = ScriptedChatModel(messages=itertools.repeat(_answer()))
    return prompt | model | StrOutputParser()


class Workload:
    """One kind of request: ``run(callbacks)`` serves it once with those handlers attached.

    Attributes:
        name: The workload's key.
        title: A short description for the report.
        is_async: Whether it runs on the event loop (counts for the async targets).
    """

    def __init__(self, name: str, title: str, run: Callable[[list[Any]], Any],
                 is_async: bool = False) -> None:
        self.name = name
        self.title = title
        self.run = run
        self.is_async = is_async


def make_workloads(loop: asyncio.AbstractEventLoop) -> dict[str, Workload]:
    """Build every workload once; async ones run on ``loop`` (kept for the whole benchmark)."""
    stream_chain = _stream_chain()

    def sync_stream(callbacks: list[Any]) -> str:
        return "".join(stream_chain.stream({"topic": "parrots"},
                                           config={"callbacks": callbacks}))

    async def _one(i: int, callbacks: list[Any]) -> str:
        parts = [chunk async for chunk in stream_chain.astream(
            {"topic": f"topic {i}"}, config={"callbacks": callbacks})]
        return "".join(parts)

    async def _astream(callbacks: list[Any]) -> list[str]:
        return list(await asyncio.gather(*(_one(i, callbacks) for i in range(N_ASTREAM))))

    def astream10(callbacks: list[Any]) -> list[str]:
        return loop.run_until_complete(_astream(callbacks))

    batch_inputs = [{"topic": f"topic {i}"} for i in range(N_BATCH)]

    def batch_threaded(callbacks: list[Any]) -> list[Any]:
        answers: list[Any] = stream_chain.batch(
            batch_inputs, config={"max_concurrency": BATCH_WORKERS, "callbacks": callbacks})
        return answers

    from langchain_classic.agents import AgentExecutor, create_react_agent

    react_llm = FakeListLLM(responses=list(REACT_RESPONSES))  # cycles through its answers
    react = create_react_agent(react_llm, [calculator], PromptTemplate.from_template(REACT_PROMPT))
    executor = AgentExecutor(agent=react, tools=[calculator])

    def agent(callbacks: list[Any]) -> Any:
        react_llm.i = 0  # a failed run elsewhere must not shift the script
        return executor.invoke({"input": "What is 2 + 2?"}, config={"callbacks": callbacks})

    workloads = {
        "sync_stream": Workload("sync_stream", "stream(): prompt | chat model (101 chunks) "
                                "| parser", sync_stream),
        "astream10": Workload("astream10", "10 concurrent astream() under asyncio.gather",
                              astream10, is_async=True),
        "batch_threaded": Workload("batch_threaded", f"batch() of {N_BATCH} inputs on "
                                   f"{BATCH_WORKERS} threads", batch_threaded),
        "agent": Workload("agent", "langchain-classic ReAct AgentExecutor + calculator tool",
                          agent),
    }

    try:
        from langchain.agents import create_agent
    except ImportError:  # pragma: no cover - langchain not installed
        return workloads
    call = _answer("", tool_calls=[{"name": "calculator", "args": {"expression": "2 + 2"},
                                    "id": "call_1", "type": "tool_call"}])
    tool_model = ScriptedChatModel(messages=itertools.cycle([call, _answer("2 + 2 = 4")]))
    graph = create_agent(tool_model, tools=[calculator], system_prompt="You do arithmetic.")

    def create_agent_run(callbacks: list[Any]) -> Any:
        return graph.invoke({"messages": [{"role": "user", "content": "What is 2 + 2?"}]},
                            config={"callbacks": callbacks})

    workloads["create_agent"] = Workload("create_agent", "langchain create_agent (LangGraph) + "
                                         "calculator tool", create_agent_run)
    return workloads


#: Workloads run unless ``--workloads`` says otherwise.
DEFAULT_WORKLOADS = ("sync_stream", "astream10", "batch_threaded", "agent")
