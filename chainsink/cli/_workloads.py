"""LangChain workloads on fake models: the demo's, and the pieces tests and benchmarks share.

Only langchain-core is used (no langchain, langchain-classic or langgraph), so the demo runs
after a bare ``pip install chainsink``. Importing this module imports langchain-core: the demo
imports it when it runs, never when the CLI starts.

The pieces: :class:`ScriptedChatModel` (a fake chat model that reports token usage and the
model's name, streams them on its last chunk as real providers do, and takes tools), the
:data:`calculator` and :data:`get_weather` tools, a :class:`KeywordRetriever`, and the demo's
workloads: custom progress events (:func:`index_documents`), a ReAct-style agent calling tools
(:func:`weather_agent`), a RAG chain (:func:`rag_chain`), a streaming chat
(:func:`haiku_chain`), a step that fails (:func:`extract_order_chain`) and concurrent async
requests, all run by :func:`run_demo`.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import itertools
import json
import operator
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun, CallbackManagerForRetrieverRun
from langchain_core.callbacks.manager import dispatch_custom_event
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda, RunnablePassthrough
from langchain_core.tools import tool

__all__ = [
    "FAST_MODEL",
    "SMART_MODEL",
    "KeywordRetriever",
    "ScriptedChatModel",
    "calculator",
    "demo_documents",
    "evaluate",
    "extract_order_chain",
    "get_weather",
    "haiku_chain",
    "index_documents",
    "make_usage",
    "rag_chain",
    "run_demo",
    "weather_agent",
]

SMART_MODEL = "fake-gpt-large"
FAST_MODEL = "fake-gpt-mini"

_DOCS = [
    "chainsink tail -f follows a JSONL log live, across rotation and truncation.",
    "chainsink html turns JSONL logs into one self-contained HTML report with run trees.",
    "chainsink stats prints latency percentiles by run name and tokens by model.",
    "FileCallbackHandler with format jsonl writes one JSON record per callback event.",
    "StdOutCallbackHandler with style detailed prints every event, nested by run depth.",
    "RotatingFileCallbackHandler rotates JSONL logs by size, like logging's handler.",
]
_QUESTIONS = [
    "How do I follow a log live?",
    "How do I get an HTML report?",
    "Where do I see latency percentiles?",
    "Which handler writes JSON records?",
]
_WEATHER = {"paris": "18 C, sunny", "oslo": "4 C, light rain"}


def make_usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    """A LangChain ``UsageMetadata`` dict (the total is the sum)."""
    return {"input_tokens": input_tokens, "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens}


# -- the fake model -----------------------------------------------------------------------------


class ScriptedChatModel(GenericFakeChatModel):
    """A scripted fake chat model that reports usage, streams like a real provider, takes tools.

    Each reply is the next item of ``messages``: an ``AIMessage`` (tool calls, usage and
    response metadata included), a string, or a function of the prompt's messages returning
    either. Unlike ``GenericFakeChatModel``, a streamed reply keeps its ``usage_metadata``,
    ``response_metadata`` and tool calls: they arrive on the last chunk, as real providers
    send them (usage on exactly one chunk, since merging chunks sums usage). ``bind_tools``
    returns the model itself (the script already holds the tool calls), so ``create_agent``
    and tool-calling loops accept it.

    Attributes:
        model_name: Written as ``response_metadata["model_name"]`` on replies without one.
        estimate_usage: Give replies without ``usage_metadata`` one counted from the words of
            the prompt and the reply.
        latency: Seconds to wait before each reply (a real model takes time).
        chunk_latency: Seconds to wait after each streamed chunk.
        chunk_chars: Stream pieces of this many characters (as a tokenizer cuts a word into
            several tokens) instead of words and the whitespace between them.
    """

    model_name: str | None = None
    estimate_usage: bool = False
    latency: float = 0.0
    chunk_latency: float = 0.0
    chunk_chars: int = 0

    @property
    def _llm_type(self) -> str:
        return "scripted-fake-chat"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        if self.latency:
            time.sleep(self.latency)
        item: Any = next(self.messages)
        if callable(item):
            item = item(messages)
        reply = AIMessage(content=item) if isinstance(item, str) else item
        update: dict[str, Any] = {}
        if self.estimate_usage and reply.usage_metadata is None:
            words_in = sum(len(str(m.content).split()) for m in messages)
            words_out = len(str(reply.content).split()) + 15 * len(reply.tool_calls)
            update["usage_metadata"] = make_usage(words_in * 4 // 3 + 8, words_out * 4 // 3 + 1)
        if self.model_name and not reply.response_metadata.get("model_name"):
            update["response_metadata"] = {**reply.response_metadata,
                                           "model_name": self.model_name}
        return reply.model_copy(update=update) if update else reply

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        reply = self._reply(messages)
        content = reply.content
        if not isinstance(content, str):
            raise TypeError("ScriptedChatModel only streams string content.")
        if self.chunk_chars > 0:
            size = self.chunk_chars
            tokens = [content[i:i + size] for i in range(0, len(content), size)] or [""]
        else:  # words and the whitespace between them, as GenericFakeChatModel splits text
            tokens = [t for t in re.split(r"(\s)", content) if t] or [""]
        for i, token in enumerate(tokens):
            extra: dict[str, Any] = {}
            if i == len(tokens) - 1:
                extra["chunk_position"] = "last"
                if reply.usage_metadata is not None:
                    extra["usage_metadata"] = reply.usage_metadata
                if reply.response_metadata:
                    extra["response_metadata"] = dict(reply.response_metadata)
                if reply.tool_calls:
                    extra["tool_call_chunks"] = [
                        {"name": call["name"], "args": json.dumps(call["args"]),
                         "id": call["id"], "index": n, "type": "tool_call_chunk"}
                        for n, call in enumerate(reply.tool_calls)]
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=token, id=reply.id,
                                                               **extra))
            if run_manager:
                run_manager.on_llm_new_token(token, chunk=chunk)
            if self.chunk_latency:
                time.sleep(self.chunk_latency)
            yield chunk


def _model(name: str, replies: list[Any], latency: float = 0.02) -> ScriptedChatModel:
    """A demo model: cycles through ``replies``, estimates usage, takes a little time."""
    return ScriptedChatModel(name="DemoChatModel", messages=itertools.cycle(replies),
                             model_name=name, estimate_usage=True, latency=latency,
                             chunk_latency=0.002)


# -- tools and retrieval ------------------------------------------------------------------------

_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def evaluate(expression: str) -> int | float:
    """The value of an arithmetic expression of numbers, ``+ - * /`` and parentheses.

    Raises:
        ValueError: The expression holds anything else.
        SyntaxError: It is not an expression.
    """
    return _arith(ast.parse(expression.strip(), mode="eval"))


def _arith(node: ast.AST) -> int | float:
    if isinstance(node, ast.Expression):
        return _arith(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        result: int | float = _OPS[type(node.op)](_arith(node.left), _arith(node.right))
        return result
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_arith(node.operand)
    raise ValueError(f"unsupported expression: {ast.dump(node)}")


@tool
def calculator(expression: str) -> str:
    """Evaluate a simple arithmetic expression such as '2 + 2'."""
    return str(evaluate(expression))


@tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    time.sleep(0.03)
    return _WEATHER.get(city.strip().lower(), "no weather data")


_STOP_WORDS = frozenset({"a", "an", "the", "i", "do", "how", "where", "which", "to", "get",
                         "see", "by"})


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if w not in _STOP_WORDS}


class KeywordRetriever(BaseRetriever):
    """The documents sharing the most words with the query (at least one; ties in document
    order), at most ``k`` of them, after ``latency`` seconds."""

    docs: list[Document]
    k: int = 3
    latency: float = 0.0

    def _get_relevant_documents(self, query: str, *,
                                run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        if self.latency:
            time.sleep(self.latency)
        words = _words(query)
        scored = sorted(((len(words & _words(d.page_content)), -i, d)
                         for i, d in enumerate(self.docs)), key=lambda s: s[:2], reverse=True)
        return [d for score, _, d in scored[: self.k] if score]


def demo_documents() -> list[Document]:
    """The demo's documents: six lines about chainsink, each with its ``source``."""
    return [Document(page_content=text, metadata={"source": f"docs/{i}.md"})
            for i, text in enumerate(_DOCS)]


# -- the demo's workloads -----------------------------------------------------------------------


def index_documents() -> Runnable[Any, Any]:
    """A step that "embeds" documents and reports its progress as custom events."""

    def index_documents(docs: list[Any], config: RunnableConfig) -> dict[str, int]:
        for i, _ in enumerate(docs, 1):
            time.sleep(0.004)
            dispatch_custom_event("progress", {"stage": "embed", "done": i, "total": len(docs)},
                                  config=config)
        return {"indexed": len(docs)}

    return RunnableLambda(index_documents)


def weather_agent() -> Runnable[Any, Any]:
    """A ReAct-style agent (``{"question": ...}`` in, the answer out): the model calls
    :data:`get_weather`, then :data:`calculator`, then answers."""
    tools = [get_weather, calculator]
    by_name = {t.name: t for t in tools}
    model = _model(SMART_MODEL, [
        AIMessage(content="I need the current weather in Paris first.", tool_calls=[
            {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1",
             "type": "tool_call"}]),
        AIMessage(content="It is 18 C; converting to Fahrenheit.", tool_calls=[
            {"name": "calculator", "args": {"expression": "18 * 9 / 5 + 32"}, "id": "call_2",
             "type": "tool_call"}]),
        "It is sunny in Paris, 18 C (64.4 F).",
    ], latency=0.04).bind_tools(tools)

    def react(inputs: dict[str, Any], config: RunnableConfig) -> str:
        messages: list[Any] = [SystemMessage("You are a helpful assistant. Use the tools."),
                               HumanMessage(inputs["question"])]
        for _ in range(5):  # reason, act, observe; until the model answers without a tool call
            reply = model.invoke(messages, config)
            messages.append(reply)
            if not reply.tool_calls:
                return str(reply.content)
            for call in reply.tool_calls:
                messages.append(by_name[call["name"]].invoke(call, config))
        raise RuntimeError("the agent did not finish in 5 steps")

    return RunnableLambda(react)


def _answer_from_context(messages: list[Any]) -> str:
    context = str(messages[0].content).split("Context:\n", 1)[-1].strip()
    first = context.split("\n\n")[0] if context else ""
    return f"From the docs: {first}" if first else "The docs do not say."


def rag_chain(docs: list[Document]) -> Runnable[Any, str]:
    """Retrieve from ``docs`` (a question in), answer from the context (the answer out)."""

    def format_docs(found: list[Any]) -> str:
        return "\n\n".join(d.page_content for d in found)

    prompt = ChatPromptTemplate.from_messages([
        ("system", "Answer from the context only.\n\nContext:\n{context}"),
        ("human", "{question}"),
    ])
    model = _model(FAST_MODEL, [_answer_from_context], latency=0.03)
    retriever = KeywordRetriever(docs=docs, k=2, latency=0.015)
    return ({"context": retriever | RunnableLambda(format_docs),
             "question": RunnablePassthrough()}
            | prompt | model | StrOutputParser())


def haiku_chain() -> Runnable[Any, str]:
    """A chat chain to stream (``{"topic": ...}`` in, a haiku out)."""
    prompt = ChatPromptTemplate.from_messages([
        ("system", "You write haiku."), ("human", "A haiku about {topic}, please."),
    ])
    haiku = "Lines append at dawn\nrotation keeps the night short\ntail follows the light"
    return prompt | _model(SMART_MODEL, [haiku]) | StrOutputParser()


def extract_order_chain() -> Runnable[Any, Any]:
    """A chain whose last step fails: the model does not answer in JSON (``ValueError``)."""

    def parse_order(text: str) -> Any:
        return json.loads(text)  # the model did not answer in JSON: this raises

    prompt = ChatPromptTemplate.from_messages([("human", "Extract the order as JSON: {text}")])
    model = _model(FAST_MODEL, ["Sure! The order is: two lattes and one croissant."])
    return prompt | model | StrOutputParser() | RunnableLambda(parse_order)


def run_demo(handlers: list[Any], stop: Callable[[], None] = lambda: None) -> None:
    """Run every part of the demo once with ``handlers`` attached per request, printing a
    title before each part.

    ``stop`` is called before each part and may raise to end the demo early.
    """

    def section(title: str) -> None:
        stop()
        print(f"\n===== {title} =====")

    base: dict[str, Any] = {"callbacks": handlers, "tags": ["demo"],
                            "metadata": {"user": "ada"}}

    def config(name: str, *tags: str, **metadata: Any) -> Any:
        return {**base, "run_name": name, "tags": [*base["tags"], *tags],
                "metadata": {**base["metadata"], **metadata}}

    docs = demo_documents()

    section("1. indexing documents, with custom progress events")
    index_documents().invoke(docs, config("index_documents", "ingest"))

    section("2. a ReAct agent calling tools")
    weather_agent().invoke({"question": "What's the weather in Paris, in Fahrenheit?"},
                           config("weather_agent", "agent", request_id="req-agent"))

    section("3. a RAG chain over a retriever")
    rag = rag_chain(docs)
    rag.invoke(_QUESTIONS[0], config("rag_answer", "rag", request_id="req-rag"))

    section("4. a streaming chat chain")
    for _ in haiku_chain().stream({"topic": "log files"},
                                  config("haiku_stream", "stream", request_id="req-stream")):
        pass

    section("5. a step that fails")
    with contextlib.suppress(ValueError):  # the log has the error; the demo goes on
        extract_order_chain().invoke({"text": "two lattes and a croissant"},
                                     config("extract_order", "extract",
                                            request_id="req-extract"))

    section("6. concurrent async requests")

    async def concurrent() -> list[Any]:
        return await asyncio.gather(*(
            rag.ainvoke(q, config("rag_answer", "rag", "async", request_id=f"req-async-{i}"))
            for i, q in enumerate(_QUESTIONS[1:], 1)))

    asyncio.run(concurrent())
    stop()
