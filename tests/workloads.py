"""Deterministic LangChain workloads built on langchain-core's fake models.

Every workload is a plain function taking the list of callback handlers to
attach and returning the workload's result. Each call builds FRESH fake models
(fake models consume iterators / keep a cursor), so a workload can be run any
number of times with identical output.

No network and no API keys: only ``FakeListLLM``, chainsink's ``ScriptedChatModel`` (a
``GenericFakeChatModel`` that keeps usage when streaming, shared with ``chainsink demo`` and
the benchmarks in ``chainsink/cli/_workloads.py``) and an in-memory keyword retriever.

Registries:

* ``SYNC_WORKLOADS``: name -> ``f(handlers) -> result``
* ``ASYNC_WORKLOADS``: name -> ``async f(handlers) -> result``
* ``VERBOSE_WORKLOADS``: name -> ``f(handlers) -> result`` for the
  ``verbose=True`` variants (LangChain injects its own StdOutCallbackHandler
  unless a StdOutCallbackHandler (sub)class is already among the handlers).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.documents import Document
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from chainsink.cli._workloads import KeywordRetriever, ScriptedChatModel, calculator, make_usage

__all__ = [
    "ASYNC_WORKLOADS",
    "CHAT_MODEL_NAME",
    "SYNC_WORKLOADS",
    "VERBOSE_WORKLOADS",
    "ToolCallingFakeChatModel",
    "UsageFakeChatModel",
    "agent_executor",
    "agent_executor_verbose",
    "ainvoke_lcel",
    "ainvoke_retriever",
    "astream_lcel_concurrent",
    "batch_lcel_threaded",
    "calculator",
    "create_agent_workload",
    "error_chain",
    "invoke_lcel",
    "llm_chain",
    "llm_chain_verbose",
    "make_usage",
    "reported_usage",
    "reported_model",
    "retriever_chain",
    "stream_lcel",
]

CHAT_MODEL_NAME = "fake-chat-1"


# --------------------------------------------------------------------------- #
# Fake models
# --------------------------------------------------------------------------- #


def _ai(content: str, usage: dict[str, int], **kwargs: Any) -> AIMessage:
    return AIMessage(
        content=content,
        usage_metadata=usage,  # type: ignore[arg-type]
        response_metadata={"model_name": CHAT_MODEL_NAME},
        **kwargs,
    )


#: A fake chat model that keeps ``usage_metadata``/``response_metadata`` (and tool calls) when
#: streaming: ``GenericFakeChatModel`` drops them, so a streamed run's ``on_llm_end`` message
#: would have no usage. They arrive on the last chunk (on exactly one, since merging chunks sums
#: usage), so the aggregated message seen by ``on_llm_end`` carries them.
UsageFakeChatModel = ScriptedChatModel
#: The same model as ``create_agent`` takes it: ``bind_tools`` returns the model itself (the
#: scripted messages already hold the tool calls).
ToolCallingFakeChatModel = ScriptedChatModel


def reported_usage(run: Any) -> dict[str, int] | None:
    """Usage the model reported for an LLM run recorded by a langchain-core tracer.

    ``run`` is a ``langchain_core.tracers.schemas.Run`` (e.g. from
    ``RunCollectorCallbackHandler.traced_runs``). Chat models: the
    ``usage_metadata`` of the first generation's message (as passed to
    ``on_llm_end``). Completion LLMs: ``llm_output["token_usage"]`` mapped to the
    same keys when present. ``None`` when the model reported nothing.
    """
    outputs = run.outputs or {}
    generations = outputs.get("generations") or []
    for gen_list in generations:
        for gen in gen_list or []:
            message = gen.get("message") if isinstance(gen, dict) else None
            if message is not None:
                usage = _message_field(message, "usage_metadata")
                if usage:
                    return {
                        "input_tokens": usage["input_tokens"],
                        "output_tokens": usage["output_tokens"],
                        "total_tokens": usage["total_tokens"],
                    }
            break
        break
    llm_output = outputs.get("llm_output") or {}
    token_usage = llm_output.get("token_usage") or llm_output.get("usage")
    if token_usage:
        inp = token_usage.get("prompt_tokens", token_usage.get("input_tokens"))
        out = token_usage.get("completion_tokens", token_usage.get("output_tokens"))
        tot = token_usage.get("total_tokens")
        return {"input_tokens": inp, "output_tokens": out, "total_tokens": tot}
    return None


def collected_runs(collector: Any) -> list[Any]:
    """Every run a ``RunCollectorCallbackHandler`` saw, children included (its ``traced_runs``
    holds only the roots)."""
    out, stack = [], list(collector.traced_runs)
    while stack:
        run = stack.pop()
        out.append(run)
        stack.extend(run.child_runs)
    return out


def reported_model(run: Any) -> str | None:
    """``response_metadata["model_name"]`` of an LLM run's first generation, if any."""
    outputs = run.outputs or {}
    for gen_list in outputs.get("generations") or []:
        for gen in gen_list or []:
            message = gen.get("message") if isinstance(gen, dict) else None
            if message is not None:
                meta = _message_field(message, "response_metadata") or {}
                return meta.get("model_name")
            return None
    return None


def _message_field(message: Any, field: str) -> Any:
    if isinstance(message, BaseMessage):
        return getattr(message, field, None)
    if isinstance(message, dict):
        if field in message:
            return message[field]
        # dumpd() form: {"lc": 1, "type": "constructor", "kwargs": {...}}
        return (message.get("kwargs") or {}).get(field)
    return getattr(message, field, None)


# --------------------------------------------------------------------------- #
# 1. LLMChain (langchain_classic)
# --------------------------------------------------------------------------- #

LLM_CHAIN_RESPONSE = "Socks & Co."


def llm_chain(handlers: list, mode: str = "request") -> Any:
    """``LLMChain(PromptTemplate, FakeListLLM)`` with callbacks passed three ways.

    mode="request": ``chain.invoke(..., config={"callbacks": handlers})``
    mode="constructor": ``LLMChain(..., callbacks=handlers)``
    mode="verbose": ``LLMChain(..., verbose=True)``; handlers (if any) are passed
    at request time, so with ``[]`` LangChain injects its StdOutCallbackHandler.
    """
    from langchain_classic.chains import LLMChain

    prompt = PromptTemplate.from_template(
        "What is a good name for a company that makes {product}?"
    )
    llm = FakeListLLM(responses=[LLM_CHAIN_RESPONSE])
    inputs = {"product": "colorful socks"}
    if mode == "request":
        chain = LLMChain(llm=llm, prompt=prompt)
        return chain.invoke(inputs, config={"callbacks": handlers})
    if mode == "constructor":
        chain = LLMChain(llm=llm, prompt=prompt, callbacks=handlers)
        return chain.invoke(inputs)
    if mode == "verbose":
        chain = LLMChain(llm=llm, prompt=prompt, verbose=True)
        return chain.invoke(inputs, config={"callbacks": handlers})
    msg = f"unknown mode {mode!r}"
    raise ValueError(msg)


def llm_chain_verbose(handlers: list) -> Any:
    """``llm_chain(mode="verbose")``."""
    return llm_chain(handlers, mode="verbose")


# --------------------------------------------------------------------------- #
# 2. Classic ReAct AgentExecutor (langchain_classic)
# --------------------------------------------------------------------------- #

# langchain hub's hwchase17/react prompt, verbatim (its first line is longer than ruff's limit)
REACT_PROMPT = """Answer the following questions as best you can. You have access to the following tools:

{tools}

Use the following format:

Question: the input question you must answer
Thought: you should always think about what to do
Action: the action to take, should be one of [{tool_names}]
Action Input: the input to the action
Observation: the result of the action
... (this Thought/Action/Action Input/Observation can repeat N times)
Thought: I now know the final answer
Final Answer: the final answer to the original input question

Begin!

Question: {input}
Thought:{agent_scratchpad}"""  # noqa: E501

REACT_RESPONSES = [
    "Thought: I should use the calculator.\nAction: calculator\nAction Input: 2 + 2",
    "Thought: I now know the final answer.\nFinal Answer: 4",
]


def agent_executor(handlers: list, verbose: bool = False) -> Any:
    """Classic ReAct ``AgentExecutor`` with a calculator tool on a FakeListLLM.

    Handlers are passed at request time. With ``verbose=True`` and ``[]``
    handlers LangChain injects its own StdOutCallbackHandler.
    """
    from langchain_classic.agents import AgentExecutor, create_react_agent

    llm = FakeListLLM(responses=list(REACT_RESPONSES))
    prompt = PromptTemplate.from_template(REACT_PROMPT)
    agent = create_react_agent(llm, [calculator], prompt)
    executor = AgentExecutor(agent=agent, tools=[calculator], verbose=verbose)
    return executor.invoke({"input": "What is 2 + 2?"}, config={"callbacks": handlers})


def agent_executor_verbose(handlers: list) -> Any:
    """``agent_executor(verbose=True)``."""
    return agent_executor(handlers, verbose=True)


# --------------------------------------------------------------------------- #
# 3. LCEL: ChatPromptTemplate | chat model | StrOutputParser
# --------------------------------------------------------------------------- #

LCEL_USAGE = make_usage(11, 7)


def _lcel_chain(usage: dict[str, int] | None = None, answer: str | None = None) -> Any:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are a terse assistant."), ("human", "Tell me about {topic}.")]
    )
    model = UsageFakeChatModel(
        messages=iter([_ai(answer or "Parrots are colorful birds.", usage or LCEL_USAGE)])
    )
    return prompt | model | StrOutputParser()


def invoke_lcel(handlers: list) -> str:
    """``(prompt | chat model | StrOutputParser).invoke`` with request callbacks."""
    return _lcel_chain().invoke({"topic": "parrots"}, config={"callbacks": handlers})


def stream_lcel(handlers: list) -> str:
    """Same chain, consumed via ``.stream`` (usage arrives on the final chunk)."""
    chunks = list(
        _lcel_chain().stream({"topic": "parrots"}, config={"callbacks": handlers})
    )
    return "".join(chunks)


async def ainvoke_lcel(handlers: list) -> str:
    """``await chain.ainvoke(...)`` of the LCEL chain."""
    return await _lcel_chain().ainvoke(
        {"topic": "parrots"}, config={"callbacks": handlers}
    )


# --------------------------------------------------------------------------- #
# 4. A chain whose step raises
# --------------------------------------------------------------------------- #

ERROR_MESSAGE = "boom"


def _explode(_: Any) -> Any:
    raise ValueError(ERROR_MESSAGE)


def error_chain(handlers: list) -> BaseException:
    """``prompt | RunnableLambda(raises ValueError("boom"))``; returns the exception."""
    prompt = PromptTemplate.from_template("Explode on {thing}")
    chain = prompt | RunnableLambda(_explode, name="explode")
    try:
        chain.invoke({"thing": "demand"}, config={"callbacks": handlers})
    except ValueError as exc:
        return exc
    msg = "error_chain did not raise"
    raise AssertionError(msg)


# --------------------------------------------------------------------------- #
# 5. Retriever chain
# --------------------------------------------------------------------------- #

DOCUMENTS = [
    Document(page_content="Parrots can mimic human speech.", metadata={"id": 1}),
    Document(page_content="Owls hunt at night.", metadata={"id": 2}),
    Document(page_content="Parrots live in tropical forests.", metadata={"id": 3}),
    Document(page_content="Penguins cannot fly.", metadata={"id": 4}),
]

RETRIEVER_USAGE = make_usage(42, 9)


def format_docs(docs: list[Document]) -> str:
    """Join page contents with blank lines."""
    return "\n\n".join(d.page_content for d in docs)


def _retriever_chain() -> Any:
    retriever = KeywordRetriever(docs=list(DOCUMENTS))
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "Answer using only this context:\n\n{context}"),
            ("human", "{question}"),
        ]
    )
    model = UsageFakeChatModel(
        messages=iter([_ai("Parrots mimic speech and live in forests.", RETRIEVER_USAGE)])
    )
    return (
        {"context": retriever | format_docs, "question": RunnablePassthrough()}
        | prompt
        | model
        | StrOutputParser()
    )


RETRIEVER_QUESTION = "What do parrots do?"


def retriever_chain(handlers: list) -> str:
    """RAG-style chain over an in-memory keyword retriever, invoked synchronously."""
    return _retriever_chain().invoke(RETRIEVER_QUESTION, config={"callbacks": handlers})


async def ainvoke_retriever(handlers: list) -> str:
    """The retriever chain via ``ainvoke``."""
    return await _retriever_chain().ainvoke(
        RETRIEVER_QUESTION, config={"callbacks": handlers}
    )


# --------------------------------------------------------------------------- #
# 6. langchain.agents.create_agent (LangGraph)
# --------------------------------------------------------------------------- #

CREATE_AGENT_USAGE = (make_usage(30, 12), make_usage(55, 6))


def create_agent_workload(handlers: list) -> Any:
    """``langchain.agents.create_agent`` with a calculator tool on a tool-calling fake model.

    The model first emits an AIMessage with a ``calculator`` tool call, then a
    final answer. Returns the final graph state (``{"messages": [...]}``).
    """
    from langchain.agents import create_agent

    model = ToolCallingFakeChatModel(
        messages=iter(
            [
                _ai(
                    "",
                    CREATE_AGENT_USAGE[0],
                    tool_calls=[
                        {
                            "name": "calculator",
                            "args": {"expression": "2 + 2"},
                            "id": "call_calc_1",
                            "type": "tool_call",
                        }
                    ],
                ),
                _ai("2 + 2 = 4", CREATE_AGENT_USAGE[1]),
            ]
        )
    )
    agent = create_agent(model, tools=[calculator], system_prompt="You do arithmetic.")
    return agent.invoke(
        {"messages": [{"role": "user", "content": "What is 2 + 2?"}]},
        config={"callbacks": handlers},
    )


# --------------------------------------------------------------------------- #
# 7. Concurrency
# --------------------------------------------------------------------------- #

N_CONCURRENT_ASTREAM = 20
N_BATCH = 16
BATCH_MAX_CONCURRENCY = 8


def concurrent_usage(i: int) -> dict[str, int]:
    """Distinct usage per concurrent run, so cross-wired runs are detectable."""
    return make_usage(100 + i, 10 + i)


async def astream_lcel_concurrent(handlers: list, n: int = N_CONCURRENT_ASTREAM) -> list[str]:
    """``n`` concurrent ``astream`` runs of (fresh) LCEL chains via ``asyncio.gather``.

    Run ``i`` answers ``"answer {i} ..."`` with usage ``concurrent_usage(i)``.
    """

    async def one(i: int) -> str:
        chain = _lcel_chain(usage=concurrent_usage(i), answer=f"answer {i} for you")
        parts = []
        async for chunk in chain.astream(
            {"topic": f"topic {i}"}, config={"callbacks": handlers}
        ):
            parts.append(chunk)
            await asyncio.sleep(0)
        return "".join(parts)

    return list(await asyncio.gather(*(one(i) for i in range(n))))


def batch_lcel_threaded(handlers: list, n: int = N_BATCH) -> list[str]:
    """Threaded ``batch`` of one LCEL chain over ``n`` inputs, ``max_concurrency=8``.

    The single fake model's message iterator is shared by the worker threads,
    so which input receives which answer is not deterministic; each answer
    carries its own distinct usage.
    """
    prompt = ChatPromptTemplate.from_messages([("human", "Tell me about {topic}.")])
    model = UsageFakeChatModel(
        messages=iter(
            [_ai(f"batch answer {i}", concurrent_usage(i)) for i in range(n)]
        )
    )
    chain = prompt | model | StrOutputParser()
    return chain.batch(
        [{"topic": f"topic {i}"} for i in range(n)],
        config={"max_concurrency": BATCH_MAX_CONCURRENCY, "callbacks": handlers},
    )


# --------------------------------------------------------------------------- #
# Registries
# --------------------------------------------------------------------------- #


def _llm_chain_request(handlers: list) -> Any:
    return llm_chain(handlers, mode="request")


def _llm_chain_constructor(handlers: list) -> Any:
    return llm_chain(handlers, mode="constructor")


SYNC_WORKLOADS: dict[str, Callable[[list], Any]] = {
    "llm_chain_request": _llm_chain_request,
    "llm_chain_constructor": _llm_chain_constructor,
    "agent_executor": agent_executor,
    "lcel_invoke": invoke_lcel,
    "lcel_stream": stream_lcel,
    "error_chain": error_chain,
    "retriever_chain": retriever_chain,
    "create_agent": create_agent_workload,
    "batch_threaded": batch_lcel_threaded,
}

VERBOSE_WORKLOADS: dict[str, Callable[[list], Any]] = {
    "llm_chain_verbose": llm_chain_verbose,
    "agent_executor_verbose": agent_executor_verbose,
}

ASYNC_WORKLOADS: dict[str, Callable[[list], Awaitable[Any]]] = {
    "astream_concurrent": astream_lcel_concurrent,
    "lcel_ainvoke": ainvoke_lcel,
    "retriever_ainvoke": ainvoke_retriever,
}


def run_workload(name: str, handlers: list) -> Any:
    """Run any registered workload by name (async ones via ``asyncio.run``)."""
    if name in SYNC_WORKLOADS:
        return SYNC_WORKLOADS[name](handlers)
    if name in VERBOSE_WORKLOADS:
        return VERBOSE_WORKLOADS[name](handlers)
    if name in ASYNC_WORKLOADS:
        return asyncio.run(ASYNC_WORKLOADS[name](handlers))  # type: ignore[arg-type]
    msg = f"unknown workload {name!r}"
    raise KeyError(msg)
