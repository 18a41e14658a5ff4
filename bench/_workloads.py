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
* ``invoke_heavy``: ``prompt | chat model | StrOutputParser`` called with ``.invoke``, no
  streaming, on a payload-heavy request: a 2 kB context pasted into the prompt and a
  600-character answer (8 events; each start and end carries kilobytes).
* ``secrets``: issue 8's redaction payloads in one streamed chain: a prompt carrying keys glued
  to CJK text, a password in a dict repr, an API key in JSON inside a string, credentials in a
  URL and a query string, an API key in the run's metadata; a model streaming an answer whose
  keys come split across 4-character tokens (one of them glued to CJK text); then a
  ``RunnableLambda`` calling a tool on ``str()`` of a password and an API key (a derived
  string, as a tool's ``input_str``) and repeating the password in prose.
  ``Workload.secrets`` lists every secret planted: the benchmark checks no chainsink file
  output holds one.
* ``create_agent``: ``langchain.agents.create_agent`` (LangGraph) with the same tool; optional.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from langchain_core.language_models.fake import FakeListLLM
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.tools import tool

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

#: The payload-heavy request: a 2 kB context (retrieved passages, as a RAG prompt pastes them)
#: and a 600-character answer.
CONTEXT = " ".join(itertools.islice(itertools.cycle(
    [f"Passage {i}: the {w} report says revenue grew in the {w} region." for i, w in
     enumerate(_WORDS)]), 40))[:2048]
HEAVY_ANSWER = " ".join(itertools.islice(itertools.cycle(_WORDS), 200))[:600]

# -- issue 8's redaction payloads (the ``secrets`` workload) -----------------------------------
# Copied from the redaction tests, which hold most of them as parametrized cases rather than
# importable constants (and import pytest); tests/test_bench_targets.py checks that each value
# still appears in the test file named next to it.

#: tests/processors/test_redaction.py, OPENAI_KEY: a key passed as a prompt variable.
PROMPT_KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
#: tests/processors/test_redaction.py, META_KEY: a value under ``api_key`` in the run's metadata.
META_KEY = "meta-secret-value-4242"
#: tests/processors/test_redaction.py, test_secrets_are_masked_wherever_they_stand_in_text:
#: a key right after CJK text ("我的API密钥是sk-..."), a password in a dict repr, an API key in
#: JSON inside a string, credentials in a URL and in a query string.
CJK_KEY = "sk-abcdefghijklmnopqrstu"
REPR_PASSWORD = "hunter2-abc"
JSON_API_KEY = "k-77aa-secret"
URL_PASSWORD = "url-pw-44"
QUERY_PASSWORD = "pw-Zz-12"
#: tests/reliability/test_trust_secrets.py, STREAMED_KEY: a key the model streams.
STREAMED_KEY = "sk-proj-Str3amedKey0123456789abcdef"
#: tests/reliability/test_trust_secrets.py, cjk_text: keys in an answer written in CJK text.
ANSWER_CJK_KEY = "sk-cjkKeyCCCC3333DDDD4444"
ANSWER_GH_TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123"
#: tests/reliability/test_trust_secrets.py, tool_calling_agent: a login tool's password and
#: API key (here in str() of the credentials, the tool's input; the password comes back in
#: prose).
TOOL_PASSWORD = "Tc-pass-7781qq"
TOOL_API_KEY = "tc-apikey-55ZZ"
#: Every secret the ``secrets`` workload plants.
SECRETS = (PROMPT_KEY, META_KEY, CJK_KEY, REPR_PASSWORD, JSON_API_KEY, URL_PASSWORD,
           QUERY_PASSWORD, STREAMED_KEY, ANSWER_CJK_KEY, ANSWER_GH_TOKEN, TOOL_PASSWORD,
           TOOL_API_KEY)
#: The model's streamed answer in the ``secrets`` workload.
SECRET_ANSWER = (f"Your key is {STREAMED_KEY} - keep it safe. APIキーは{ANSWER_CJK_KEY}です。"
                 f"トークンは{ANSWER_GH_TOKEN}。")
SECRET_PIECE = 4

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


@tool
def login(request: str) -> str:
    """Log a user in to the billing API; ``request`` holds the user and credentials."""
    return "logged in as bob"


def _secrets_chain() -> tuple[Any, dict[str, str]]:
    """The ``secrets`` workload's chain and its input."""
    prompt = ChatPromptTemplate.from_messages([
        ("system", "You log users in. Config: {config}"),
        ("human", "{question}\nCredentials: {creds}\n{repo}\n{endpoint}")])
    model = ScriptedChatModel(messages=itertools.repeat(_answer(SECRET_ANSWER)),
                              chunk_chars=SECRET_PIECE)  # a key cut into several tokens

    def sign_in(answer: str, config: RunnableConfig) -> str:
        # one string argument, as ReAct tools take (a tool given a dict of args breaks
        # ConsoleCallbackHandler, a candidate): str() of the credentials, a derived string
        request = str({"user": "bob", "password": TOOL_PASSWORD, "api_key": TOOL_API_KEY})
        done = login.invoke(request, config=config)
        return f"{answer}\n{done}; bob signed in with {TOOL_PASSWORD} at the billing API"

    chain = prompt | model | StrOutputParser() | RunnableLambda(sign_in)
    inputs = {"question": f"我的API密钥是{CJK_KEY}。请记住, and use {PROMPT_KEY} for the weather",
              "config": json.dumps({"user": "bob", "api_key": JSON_API_KEY}),
              "creds": repr({"user": "bob", "password": REPR_PASSWORD}),
              "repo": f"clone https://bob:{URL_PASSWORD}@git.example.com/r.git",
              "endpoint": f"connect?user=bob&password={QUERY_PASSWORD}&x=1"}
    return chain, inputs


class Workload:
    """One kind of request: ``run(callbacks)`` serves it once with those handlers attached.

    Attributes:
        name: The workload's key.
        title: A short description for the report.
        is_async: Whether it runs on the event loop (counts for the async targets).
        secrets: Secrets the request carries, which no redacting handler's output may hold.
    """

    def __init__(self, name: str, title: str, run: Callable[[list[Any]], Any],
                 is_async: bool = False, secrets: tuple[str, ...] = ()) -> None:
        self.name = name
        self.title = title
        self.run = run
        self.is_async = is_async
        self.secrets = secrets


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

    heavy_prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from the context only.\n\nContext:\n{context}"),
         ("human", "{question}")])
    heavy_chain = (heavy_prompt
                   | ScriptedChatModel(messages=itertools.repeat(_answer(HEAVY_ANSWER)))
                   | StrOutputParser())
    heavy_input = {"context": CONTEXT, "question": "How did revenue grow, region by region?"}

    def invoke_heavy(callbacks: list[Any]) -> str:
        answer: str = heavy_chain.invoke(heavy_input, config={"callbacks": callbacks})
        return answer

    secrets_chain, secrets_input = _secrets_chain()

    def secrets_run(callbacks: list[Any]) -> str:
        return "".join(secrets_chain.stream(secrets_input, config={
            "callbacks": callbacks, "metadata": {"api_key": META_KEY}}))

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
        "invoke_heavy": Workload("invoke_heavy", "invoke(): 2 kB context prompt, 600-char "
                                 "answer, no streaming", invoke_heavy),
        "secrets": Workload("secrets", "stream(): issue 8's secrets in prompt, metadata, "
                            "split tokens, CJK, a tool's args", secrets_run, secrets=SECRETS),
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
DEFAULT_WORKLOADS = ("sync_stream", "astream10", "batch_threaded", "agent", "invoke_heavy",
                     "secrets")
