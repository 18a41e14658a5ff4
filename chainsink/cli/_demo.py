"""``chainsink demo``: a realistic LangChain workload on fake models, shown, logged and reported.

Only langchain-core is used (no langchain, langchain-classic or langgraph), so the demo runs
after a bare ``pip install chainsink``. The workload: a ReAct-style agent calling real tools, a
RAG chain over a retriever, a streaming chat chain, a step that fails, custom progress events,
and concurrent async requests.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import itertools
import json
import operator
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from chainsink.cli._html import OutputError, make_report

DEFAULT_DIR = "chainsink-demo"
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


def add_parser(commands: Any) -> None:
    """Register ``demo`` on the CLI's subcommand parsers."""
    p = commands.add_parser(
        "demo", help="run a demo workload on fake models; write its JSONL log and HTML report",
        description="Run a realistic LangChain workload on langchain-core's fake models (a "
                    "ReAct agent with tools, a RAG chain, a streaming chat, a failing step, "
                    "custom progress events, concurrent async requests), print the detailed "
                    "console, and write the JSONL log and the HTML report.")
    p.add_argument("--out", metavar="DIR",
                   help=f"where to write demo.jsonl and report.html (default: ./{DEFAULT_DIR}, "
                        "created if needed)")
    p.set_defaults(run=run, check=check, parser=p)


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Nothing to check beyond the parser."""


def run(args: argparse.Namespace) -> int:
    """Run ``chainsink demo``; return the exit code."""
    out = Path(args.out) if args.out else Path(DEFAULT_DIR)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the directory ({exc.strerror or exc})") from None
    log, report = out / "demo.jsonl", out / "report.html"

    from chainsink import FileCallbackHandler, StdOutCallbackHandler

    started = time.perf_counter()
    console = StdOutCallbackHandler(style="detailed")
    stdout = _Stdout(sys.stdout)
    with FileCallbackHandler(log, mode="w", format="jsonl") as file_handler, \
            contextlib.redirect_stdout(stdout):
        workload([console, file_handler], stop=stdout.check)
    code = make_report([str(log)], str(report), title="demo", announce=False)
    took = time.perf_counter() - started
    where = (f"{out}/ was created in the current directory" if created and not args.out
             else f"in {out}/")
    print(f"\nchainsink demo: done in {took:.1f} s ({where})\n"
          f"  JSONL log    {log}\n"
          f"  HTML report  {report}   (open it in a browser)\n\n"
          f"Next, try:\n"
          f"  chainsink tail {log}\n"
          f"  chainsink stats {log}\n"
          f"  chainsink html {log} -o report.html")
    sys.stdout.flush()
    return code


class _Stdout:
    """stdout for the demo's console: a reader that went away (``| head``) stops the demo
    quietly at the next step, instead of the console handler reporting a broken pipe."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                self.stream.write(text)
            except BrokenPipeError:
                self.broken = True
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self.broken = True

    def isatty(self) -> bool:
        return self.stream.isatty()

    def check(self) -> None:
        self.flush()
        if self.broken:
            raise BrokenPipeError


def workload(handlers: list[Any], stop: Callable[[], None] = lambda: None) -> None:
    """Run every part of the demo once with ``handlers`` attached per request.

    ``stop`` is called before each part and may raise to end the demo early.
    """

    def _section(title: str) -> None:
        stop()
        print(f"\n===== {title} =====")
    from langchain_core.documents import Document

    base: dict[str, Any] = {"callbacks": handlers, "tags": ["demo"],
                            "metadata": {"user": "ada"}}

    def config(name: str, *tags: str, **metadata: Any) -> Any:
        return {**base, "run_name": name, "tags": [*base["tags"], *tags],
                "metadata": {**base["metadata"], **metadata}}

    docs = [Document(page_content=text, metadata={"source": f"docs/{i}.md"})
            for i, text in enumerate(_DOCS)]

    _section("1. indexing documents, with custom progress events")
    _ingest().invoke(docs, config("index_documents", "ingest"))

    _section("2. a ReAct agent calling tools")
    _agent().invoke({"question": "What's the weather in Paris, in Fahrenheit?"},
                    config("weather_agent", "agent", request_id="req-agent"))

    _section("3. a RAG chain over a retriever")
    rag = _rag(docs)
    rag.invoke(_QUESTIONS[0], config("rag_answer", "rag", request_id="req-rag"))

    _section("4. a streaming chat chain")
    for _ in _chat().stream({"topic": "log files"},
                            config("haiku_stream", "stream", request_id="req-stream")):
        pass

    _section("5. a step that fails")
    with contextlib.suppress(ValueError):  # the log has the error; the demo goes on
        _extract().invoke({"text": "two lattes and a croissant"},
                          config("extract_order", "extract", request_id="req-extract"))

    _section("6. concurrent async requests")

    async def concurrent() -> list[Any]:
        return await asyncio.gather(*(
            rag.ainvoke(q, config("rag_answer", "rag", "async", request_id=f"req-async-{i}"))
            for i, q in enumerate(_QUESTIONS[1:], 1)))

    asyncio.run(concurrent())
    stop()


# -- fake model ---------------------------------------------------------------------------------


def _chat_model_class() -> Any:
    """The demo's chat model class (built lazily, so importing the CLI stays light)."""
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

    class DemoChatModel(GenericFakeChatModel):
        """A scripted fake chat model that reports token usage, streams, and takes tools.

        Each reply is the next item of ``messages``: an ``AIMessage`` (tool calls included), a
        string, or a function of the prompt's messages returning a string.
        """

        model_name: str = "fake-chat"
        latency: float = 0.02

        @property
        def _llm_type(self) -> str:
            return "demo-fake-chat"

        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self  # the script already holds the tool calls

        def _reply(self, messages: list[BaseMessage]) -> AIMessage:
            time.sleep(self.latency)
            item = next(self.messages)
            if callable(item):
                item = item(messages)
            reply = AIMessage(content=item) if isinstance(item, str) else item
            words_in = sum(len(str(m.content).split()) for m in messages)
            words_out = len(str(reply.content).split()) + 15 * len(reply.tool_calls)
            usage = {"input_tokens": words_in * 4 // 3 + 8,
                     "output_tokens": words_out * 4 // 3 + 1}
            usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
            return reply.model_copy(update={"usage_metadata": usage,
                                            "response_metadata": {"model_name": self.model_name}})

        def _generate(self, messages: list[BaseMessage], stop: Any = None,
                      run_manager: Any = None, **kwargs: Any) -> ChatResult:
            return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])

        def _stream(self, messages: list[BaseMessage], stop: Any = None,
                    run_manager: Any = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
            reply = self._reply(messages)
            parts = [p for p in re.split(r"(\s+)", str(reply.content)) if p] or [""]
            for i, part in enumerate(parts):
                last = i == len(parts) - 1
                chunk = ChatGenerationChunk(message=AIMessageChunk(
                    content=part,
                    usage_metadata=reply.usage_metadata if last else None,
                    response_metadata=reply.response_metadata if last else {},
                    chunk_position="last" if last else None))
                if run_manager is not None:
                    run_manager.on_llm_new_token(part, chunk=chunk)
                time.sleep(0.002)
                yield chunk

    return DemoChatModel


def _model(name: str, replies: list[Any], latency: float = 0.02) -> Any:
    return _chat_model_class()(messages=itertools.cycle(replies), model_name=name,
                               latency=latency)


# -- the parts ----------------------------------------------------------------------------------


def _ingest() -> Any:
    from langchain_core.callbacks.manager import dispatch_custom_event
    from langchain_core.runnables import RunnableConfig, RunnableLambda

    def index_documents(docs: list[Any], config: RunnableConfig) -> dict[str, int]:
        for i, _ in enumerate(docs, 1):
            time.sleep(0.004)
            dispatch_custom_event("progress", {"stage": "embed", "done": i, "total": len(docs)},
                                  config=config)
        return {"indexed": len(docs)}

    return RunnableLambda(index_documents)


_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
}


def _arith(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _arith(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return float(_OPS[type(node.op)](_arith(node.left), _arith(node.right)))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_arith(node.operand)
    raise ValueError("only + - * / on numbers")


def _tools() -> list[Any]:
    from langchain_core.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        time.sleep(0.03)
        return _WEATHER.get(city.strip().lower(), "no weather data")

    @tool
    def calculator(expression: str) -> str:
        """Evaluate an arithmetic expression such as '18 * 9 / 5 + 32'."""
        return f"{_arith(ast.parse(expression, mode='eval')):g}"

    return [get_weather, calculator]


def _agent() -> Any:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
    from langchain_core.runnables import RunnableConfig, RunnableLambda

    tools = _tools()
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


def _retriever(docs: list[Any]) -> Any:
    from langchain_core.retrievers import BaseRetriever

    class KeywordRetriever(BaseRetriever):
        """The documents sharing the most words with the query."""

        docs: list[Any]
        k: int = 2

        def _get_relevant_documents(self, query: str, *, run_manager: Any) -> list[Any]:
            time.sleep(0.015)
            words = set(_words(query))
            scored = sorted(((len(words & set(_words(d.page_content))), -i, d)
                             for i, d in enumerate(self.docs)), key=lambda s: s[:2], reverse=True)
            return [d for score, _, d in scored[: self.k] if score]

    return KeywordRetriever(docs=docs)


def _words(text: str) -> list[str]:
    stop = {"a", "an", "the", "i", "do", "how", "where", "which", "to", "get", "see", "by"}
    return [w for w in re.findall(r"[a-z]+", text.lower()) if w not in stop]


def _answer_from_context(messages: list[Any]) -> str:
    context = str(messages[0].content).split("Context:\n", 1)[-1].strip()
    first = context.split("\n\n")[0] if context else ""
    return f"From the docs: {first}" if first else "The docs do not say."


def _rag(docs: list[Any]) -> Any:
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    def format_docs(found: list[Any]) -> str:
        return "\n\n".join(d.page_content for d in found)

    prompt = ChatPromptTemplate.from_messages([
        ("system", "Answer from the context only.\n\nContext:\n{context}"),
        ("human", "{question}"),
    ])
    model = _model(FAST_MODEL, [_answer_from_context], latency=0.03)
    return ({"context": _retriever(docs) | RunnableLambda(format_docs),
             "question": RunnablePassthrough()}
            | prompt | model | StrOutputParser())


def _chat() -> Any:
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    prompt = ChatPromptTemplate.from_messages([
        ("system", "You write haiku."), ("human", "A haiku about {topic}, please."),
    ])
    haiku = "Lines append at dawn\nrotation keeps the night short\ntail follows the light"
    model = _model(SMART_MODEL, [haiku])
    return prompt | model | StrOutputParser()


def _extract() -> Any:
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnableLambda

    def parse_order(text: str) -> Any:
        return json.loads(text)  # the model did not answer in JSON: this raises

    prompt = ChatPromptTemplate.from_messages([("human", "Extract the order as JSON: {text}")])
    model = _model(FAST_MODEL, ["Sure! The order is: two lattes and one croissant."])
    return prompt | model | StrOutputParser() | RunnableLambda(parse_order)
