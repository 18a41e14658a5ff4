"""OtelCallbackHandler makes exactly the spans of the runs langchain-core's own tracer records.

Every workload runs once with ``RunCollectorCallbackHandler`` (langchain-core's reference
tracer) and the handler attached side by side; the spans come from a real OpenTelemetry SDK
``TracerProvider`` through ``SimpleSpanProcessor`` into ``InMemorySpanExporter``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC
from typing import Any

import pytest
import workloads
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from langchain_core.tracers.run_collector import RunCollectorCallbackHandler
from langchain_core.tracers.schemas import Run
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from chainsink.otel import OtelCallbackHandler
from chainsink.otel import attributes as A

from ._spans import span_facts

Memory = tuple[TracerProvider, InMemorySpanExporter]
LOW64 = (1 << 64) - 1


def _astream_concurrent(handlers: list[Any]) -> Any:
    return asyncio.run(workloads.astream_lcel_concurrent(handlers))


WORKLOADS: dict[str, Callable[[list[Any]], Any]] = {
    "retriever_chain": workloads.retriever_chain,
    "agent_executor": workloads.agent_executor,
    "create_agent": workloads.create_agent_workload,
    "error_chain": workloads.error_chain,
    "astream_concurrent": _astream_concurrent,
    "batch_threaded": workloads.batch_lcel_threaded,
}

#: The operation each run type maps to (chains: see test_chain_operations).
OPERATIONS = {"llm": {A.OP_CHAT, A.OP_TEXT_COMPLETION}, "tool": {A.OP_EXECUTE_TOOL},
              "retriever": {A.OP_RETRIEVAL}}


def trace_root(run: Run, by_id: dict[Any, Run]) -> Run:
    while run.parent_run_id is not None:
        run = by_id[run.parent_run_id]
    return run


def record(name: str, memory: Memory, **options: Any) -> tuple[list[Run], list[ReadableSpan]]:
    provider, exporter = memory
    handler = OtelCallbackHandler(provider, **options)
    collector = RunCollectorCallbackHandler()
    WORKLOADS[name]([handler, collector])
    handler.close()
    return workloads.collected_runs(collector), list(exporter.get_finished_spans())


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_one_span_per_run_with_the_runs_ids_and_tree(name: str, memory: Memory) -> None:
    """One span per run: span id = low 64 bits of the run id, trace id = the root run id,
    parent = the parent run's span, kinds and operations by run type."""
    runs, spans = record(name, memory)
    by_run = {s.attributes[A.RUN_ID]: s for s in spans}
    assert len(by_run) == len(spans), "a run got two spans"
    assert set(by_run) == {str(r.id) for r in runs}
    by_id = {r.id: r for r in runs}
    for run in runs:
        span = by_run[str(run.id)]
        assert span.context is not None
        assert span.context.span_id == run.id.int & LOW64
        assert span.context.trace_id == trace_root(run, by_id).id.int
        if run.parent_run_id is None:
            assert span.parent is None
            assert span.attributes[A.GEN_AI_OPERATION_NAME] in (A.OP_INVOKE_WORKFLOW,
                                                                A.OP_INVOKE_AGENT)
        else:
            assert span.parent is not None
            assert span.parent.span_id == run.parent_run_id.int & LOW64
        assert span.attributes[A.RUN_TYPE] == run.run_type
        expected = OPERATIONS.get(run.run_type)
        if expected:
            assert span.attributes[A.GEN_AI_OPERATION_NAME] in expected
        assert span.kind == (SpanKind.CLIENT if run.run_type == "llm" else SpanKind.INTERNAL)
        assert span.start_time is not None and span.end_time is not None
        assert span.start_time <= span.end_time
        started = run.start_time.replace(tzinfo=UTC).timestamp()
        assert abs(span.start_time / 1e9 - started) < 1.0


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_token_counts_are_the_models_reported_usage(name: str, memory: Memory) -> None:
    """Each model call's span carries the usage the model reported, and its model name."""
    runs, spans = record(name, memory)
    by_run = {s.attributes[A.RUN_ID]: s for s in spans}
    llm_runs = [r for r in runs if r.run_type == "llm"]
    for run in llm_runs:
        attrs = by_run[str(run.id)].attributes
        usage = workloads.reported_usage(run)
        if usage is None:
            assert A.GEN_AI_USAGE_INPUT_TOKENS not in attrs
            continue
        assert attrs[A.GEN_AI_USAGE_INPUT_TOKENS] == usage["input_tokens"]
        assert attrs[A.GEN_AI_USAGE_OUTPUT_TOKENS] == usage["output_tokens"]
        model = workloads.reported_model(run)
        if model:
            assert attrs[A.GEN_AI_RESPONSE_MODEL] == model
            assert by_run[str(run.id)].name.endswith(model)
    if name in ("astream_concurrent", "batch_threaded"):  # distinct usage: no cross-wiring
        got = sorted(by_run[str(r.id)].attributes[A.GEN_AI_USAGE_INPUT_TOKENS]
                     for r in llm_runs)
        n = len(llm_runs)
        assert got == [workloads.concurrent_usage(i)["input_tokens"] for i in range(n)]


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_error_status_exactly_on_failed_runs(name: str, memory: Memory) -> None:
    """Status ERROR (with error.type) on exactly the runs the tracer saw fail; unset elsewhere."""
    runs, spans = record(name, memory)
    by_run = {s.attributes[A.RUN_ID]: s for s in spans}
    for run in runs:
        span = by_run[str(run.id)]
        if run.error:
            assert span.status.status_code is StatusCode.ERROR, run.name
            assert span.attributes[A.ERROR_TYPE] == "ValueError"
            assert span.status.description == f"ValueError: {workloads.ERROR_MESSAGE}"
            assert [e.name for e in span.events] == [A.EXCEPTION_EVENT]
        else:
            assert span.status.status_code is StatusCode.UNSET, run.name
            assert A.ERROR_TYPE not in span.attributes
    assert any(r.error for r in runs) == (name == "error_chain")


def test_agents_tools_and_workflows_follow_the_genai_conventions(memory: Memory) -> None:
    """create_agent's graph is invoke_agent, its tool call execute_tool with the call id, its
    model calls chat; an LCEL root is invoke_workflow and its steps chain."""
    _, spans = record("create_agent", memory)
    agent = next(s for s in spans if s.parent is None)
    assert agent.attributes[A.GEN_AI_OPERATION_NAME] == A.OP_INVOKE_AGENT
    assert agent.attributes[A.GEN_AI_AGENT_NAME] == "LangGraph"
    assert agent.name == "invoke_agent LangGraph"
    tool = next(s for s in spans if s.attributes[A.RUN_TYPE] == "tool")
    assert tool.name == "execute_tool calculator"
    assert tool.attributes[A.GEN_AI_TOOL_NAME] == "calculator"
    assert tool.attributes[A.GEN_AI_TOOL_CALL_ID] == "call_calc_1"
    chats = [s for s in spans if s.attributes[A.GEN_AI_OPERATION_NAME] == A.OP_CHAT]
    assert len(chats) == 2 and all(s.name == "chat fake-chat-1" for s in chats)
    nodes = {s.name for s in spans if s.attributes[A.GEN_AI_OPERATION_NAME] == A.OP_CHAIN}
    assert {"model", "tools"} <= nodes

    memory[1].clear()
    _, spans = record("retriever_chain", memory)
    root = next(s for s in spans if s.parent is None)
    assert root.attributes[A.GEN_AI_OPERATION_NAME] == A.OP_INVOKE_WORKFLOW
    assert root.attributes[A.GEN_AI_WORKFLOW_NAME] == "RunnableSequence"
    retrieval = next(s for s in spans if s.attributes[A.RUN_TYPE] == "retriever")
    assert retrieval.name == "retrieval KeywordRetriever"

    memory[1].clear()
    _, spans = record("agent_executor", memory)
    root = next(s for s in spans if s.parent is None)
    assert root.attributes[A.GEN_AI_OPERATION_NAME] == A.OP_INVOKE_AGENT
    assert {s.attributes[A.GEN_AI_OPERATION_NAME] for s in spans
            if s.attributes[A.RUN_TYPE] == "llm"} == {A.OP_TEXT_COMPLETION}
    assert "agent_action" in {e.name for s in spans for e in s.events}


CONTENT_KEYS = (A.GEN_AI_INPUT_MESSAGES, A.GEN_AI_OUTPUT_MESSAGES, A.GEN_AI_TOOL_CALL_ARGUMENTS,
                A.GEN_AI_TOOL_CALL_RESULT, A.GEN_AI_RETRIEVAL_QUERY_TEXT,
                A.GEN_AI_RETRIEVAL_DOCUMENTS, A.INPUTS, A.OUTPUTS, A.INPUT_VALUE, A.OUTPUT_VALUE)


def test_content_is_off_by_default(memory: Memory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without capture_content (or its environment variable) no prompt, message, input,
    output, argument or document becomes an attribute."""
    monkeypatch.delenv(A.CAPTURE_CONTENT_ENV, raising=False)
    for name in ("retriever_chain", "create_agent"):
        _, spans = record(name, memory, conventions=("gen_ai", "openinference"))
        for span in spans:
            assert not [k for k in span.attributes if k in CONTENT_KEYS
                        or k.startswith((A.LLM_INPUT_MESSAGES, A.LLM_OUTPUT_MESSAGES,
                                         A.RETRIEVAL_DOCUMENTS))], span.name
        memory[1].clear()


def test_content_with_the_environment_variable(memory: Memory,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true turns content on: messages in
    the GenAI format, tool arguments and results, the query and documents."""
    monkeypatch.setenv(A.CAPTURE_CONTENT_ENV, "true")
    _, spans = record("create_agent", memory)
    chat = next(s for s in spans if s.attributes[A.GEN_AI_OPERATION_NAME] == A.OP_CHAT)
    messages = json.loads(str(chat.attributes[A.GEN_AI_INPUT_MESSAGES]))
    assert messages == [
        {"role": "system", "parts": [{"type": "text", "content": "You do arithmetic."}]},
        {"role": "user", "parts": [{"type": "text", "content": "What is 2 + 2?"}]}]
    out = json.loads(str(chat.attributes[A.GEN_AI_OUTPUT_MESSAGES]))
    assert out[0]["parts"] == [{"type": "tool_call", "id": "call_calc_1", "name": "calculator",
                                "arguments": {"expression": "2 + 2"}}]
    tool = next(s for s in spans if s.attributes[A.RUN_TYPE] == "tool")
    assert json.loads(str(tool.attributes[A.GEN_AI_TOOL_CALL_ARGUMENTS])) == {
        "expression": "2 + 2"}
    assert tool.attributes[A.GEN_AI_TOOL_CALL_RESULT] == "4"
    memory[1].clear()
    _, spans = record("retriever_chain", memory)
    retrieval = next(s for s in spans if s.attributes[A.RUN_TYPE] == "retriever")
    assert retrieval.attributes[A.GEN_AI_RETRIEVAL_QUERY_TEXT] == workloads.RETRIEVER_QUESTION
    docs = json.loads(str(retrieval.attributes[A.GEN_AI_RETRIEVAL_DOCUMENTS]))
    assert [d["content"] for d in docs] == ["Parrots can mimic human speech.",
                                           "Parrots live in tropical forests."]


def test_openinference_attributes_for_phoenix(memory: Memory) -> None:
    """conventions=("gen_ai", "openinference") adds span kinds, token counts and, with
    content, input/output values and flattened messages."""
    _, spans = record("create_agent", memory, capture_content=True,
                      conventions=("gen_ai", "openinference"))
    kinds = {s.attributes[A.RUN_TYPE]: s.attributes[A.OPENINFERENCE_SPAN_KIND] for s in spans
             if s.parent is not None}
    assert kinds == {"chain": A.KIND_CHAIN, "llm": A.KIND_LLM, "tool": A.KIND_TOOL}
    root = next(s for s in spans if s.parent is None)
    assert root.attributes[A.OPENINFERENCE_SPAN_KIND] == A.KIND_AGENT
    chat = [s for s in spans if s.attributes[A.RUN_TYPE] == "llm"][-1]
    assert chat.attributes[A.LLM_TOKEN_COUNT_PROMPT] == 55
    assert chat.attributes[A.LLM_TOKEN_COUNT_COMPLETION] == 6
    assert chat.attributes[A.LLM_TOKEN_COUNT_TOTAL] == 61
    assert chat.attributes[A.OUTPUT_VALUE] == "2 + 2 = 4"
    assert chat.attributes["llm.input_messages.0.message.role"] == "system"
    assert chat.attributes["llm.input_messages.2.message.tool_calls.0.tool_call.function.name"] \
        == "calculator"
    assert json.loads(str(root.attributes[A.INPUT_VALUE]))["messages"][0]["content"] == (
        "What is 2 + 2?")
    with pytest.raises(ValueError, match="unknown conventions"):
        OtelCallbackHandler(memory[0], conventions=("gen_ai", "langsmith"))


SECRET_KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
PASSWORD = "correct-horse-battery-staple"


def _values(spans: Any) -> list[str]:
    out = []
    for span in spans:
        for value in [*span.attributes.values(),
                      *(v for e in span.events for v in e.attributes.values())]:
            out.append(value if isinstance(value, str) else json.dumps(value))
    return out


def test_secrets_appear_in_no_attribute(memory: Memory) -> None:
    """API keys and passwords planted in inputs, messages, tool arguments, metadata and tags
    are masked before any attribute is set, even with capture_content and OpenInference on."""
    provider, exporter = memory
    handler = OtelCallbackHandler(provider, capture_content=True,
                                  conventions=("gen_ai", "openinference"))
    model = GenericFakeChatModel(messages=iter([AIMessage(content=f"your key is {SECRET_KEY}")]))
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model
    chain.invoke({"q": f"use {SECRET_KEY}", "creds": {"password": PASSWORD}}, config={
        "callbacks": [handler], "tags": [f"key:{SECRET_KEY}"],
        "metadata": {"password": PASSWORD, "api_key": SECRET_KEY, "user": "ada",
                     "note": f"Bearer {SECRET_KEY}"}})

    @tool
    def lookup(query: str, password: str) -> str:
        """Look a query up with a password."""
        return f"found {query}"

    from langchain.agents import create_agent

    agent_model = workloads.ToolCallingFakeChatModel(messages=iter([
        AIMessage(content="", tool_calls=[{
            "name": "lookup", "args": {"query": f"key {SECRET_KEY}", "password": PASSWORD},
            "id": "call_1", "type": "tool_call"}]),
        AIMessage(content="done")]))
    create_agent(agent_model, tools=[lookup]).invoke(
        {"messages": [{"role": "user", "content": f"my key is {SECRET_KEY}"}]},
        config={"callbacks": [handler], "metadata": {"db_password": PASSWORD}})
    spans = exporter.get_finished_spans()
    values = _values(spans)
    assert len(values) > 100
    for text in values:
        assert SECRET_KEY not in text and PASSWORD not in text, text
        assert "sk-proj-" not in text
    tool_span = next(s for s in spans if s.attributes[A.RUN_TYPE] == "tool")
    assert json.loads(str(tool_span.attributes[A.GEN_AI_TOOL_CALL_ARGUMENTS]))["password"] == (
        "***")
    root = next(s for s in spans if "ada" in str(s.attributes.get(A.RUN_METADATA, "")))
    assert json.loads(str(root.attributes[A.RUN_METADATA]))["password"] == "***"


def test_secrets_derived_from_masked_values_appear_in_no_attribute(memory: Memory) -> None:
    """A password under a ``password`` key that a prompt renders into its text is masked
    there too."""
    provider, exporter = memory
    handler = OtelCallbackHandler(provider, capture_content=True)
    model = GenericFakeChatModel(messages=iter([AIMessage(content="ok")]))
    chain = ChatPromptTemplate.from_messages([("human", "{q} {creds}")]) | model
    chain.invoke({"q": "x", "creds": {"password": PASSWORD}}, config={"callbacks": [handler]})
    assert not [v for v in _values(exporter.get_finished_spans()) if PASSWORD in v]


def test_processors_run_before_any_attribute(memory: Memory) -> None:
    """The handler's processors shape what spans say: a processor dropping tool events leaves
    no tool span; one renaming runs renames spans."""
    provider, exporter = memory

    def no_tools(event: Any) -> Any:
        return None if event.run_type == "tool" else event.replace(name=event.name.upper())

    workloads.create_agent_workload([OtelCallbackHandler(provider, processors=[no_tools])])
    spans = exporter.get_finished_spans()
    assert spans and not [s for s in spans if s.attributes[A.RUN_TYPE] == "tool"]
    assert "invoke_agent LANGGRAPH" in {s.name for s in spans}


def test_interrupted_runs_are_not_errors(memory: Memory) -> None:
    """A cancelled async run ends its spans with chainsink.interrupted and no ERROR status."""
    provider, exporter = memory
    handler = OtelCallbackHandler(provider)

    async def slow(x: Any) -> Any:
        await asyncio.sleep(30)
        return x

    async def main() -> None:
        chain = RunnableLambda(lambda x: x) | RunnableLambda(slow, name="slow")
        task = asyncio.ensure_future(chain.ainvoke(1, config={"callbacks": [handler]}))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    spans = exporter.get_finished_spans()
    stopped = [s for s in spans if s.attributes.get(A.INTERRUPTED)]
    assert {s.name for s in stopped} >= {"slow", "invoke_workflow RunnableSequence"}
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)


def test_open_runs_are_closed_as_aborted(memory: Memory) -> None:
    """Runs still open when the handler aborts them (interpreter exit, SIGTERM) end as errors
    marked chainsink.aborted, children first."""
    provider, exporter = memory
    handler = OtelCallbackHandler(provider)
    chain = RunnableLambda(lambda x: x, name="outer")
    from uuid import uuid4

    root, child = uuid4(), uuid4()
    handler.on_chain_start({"name": "outer"}, {"x": 1}, run_id=root)
    handler.on_chain_start({"name": "inner"}, {"x": 1}, run_id=child, parent_run_id=root)
    handler.abort_open_runs()
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["inner", "invoke_workflow outer"]
    for span in spans:
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes[A.ABORTED] is True and span.attributes[A.ERROR_TYPE] == "Aborted"
    assert chain.name == "outer"


class _Broken(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        raise RuntimeError("the exporter is broken")


class _BrokenProcessor(SimpleSpanProcessor):
    def on_start(self, span: Any, parent_context: Any = None) -> None:
        raise RuntimeError("the processor is broken")


def test_a_broken_provider_never_reaches_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    """A span processor that raises does not break the chain; it is reported once on stderr."""
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(_BrokenProcessor(_Broken()))
    handler = OtelCallbackHandler(provider)
    for _ in range(3):
        assert workloads.invoke_lcel([handler]) == "Parrots are colorful birds."
    err = capsys.readouterr().err
    assert err.count("RuntimeError") == 1, err


def test_other_spans_of_the_provider_keep_their_own_ids(memory: Memory) -> None:
    """Only chainsink's run spans get run ids: the app's own tracer on the same provider keeps
    random ids, and a run started inside an app span links to it (its trace id stays the
    run's)."""
    provider, exporter = memory
    handler = OtelCallbackHandler(provider)
    app = provider.get_tracer("app")
    collector = RunCollectorCallbackHandler()
    with app.start_as_current_span("request") as request:
        workloads.invoke_lcel([handler, collector])
    spans = exporter.get_finished_spans()
    request_span = next(s for s in spans if s.name == "request")
    root = next(s for s in spans if s.attributes.get(A.RUN_ID) == str(
        collector.traced_runs[0].id))
    assert root.context is not None and request_span.context is not None
    assert root.context.trace_id == collector.traced_runs[0].id.int
    assert request_span.context.trace_id != root.context.trace_id
    assert [link.context.span_id for link in root.links] == [
        request.get_span_context().span_id]


GLOBAL = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from chainsink.otel import OtelCallbackHandler
    import workloads

    handler = OtelCallbackHandler()  # built before the global provider is set
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    workloads.invoke_lcel([handler])
    spans = exporter.get_finished_spans()
    root = next(s for s in spans if s.parent is None)
    print(len(spans), root.context.trace_id == int(root.attributes["chainsink.run_id"]
                                                   .replace("-", ""), 16))
""")


def test_the_global_provider_is_used_when_none_is_given() -> None:
    """With no provider the handler uses the global one, even one set after it was built."""
    tests = str(__import__("pathlib").Path(__file__).parents[1])
    out = subprocess.run([sys.executable, "-c", GLOBAL, tests], capture_output=True,
                         text=True, timeout=120, check=True)
    assert out.stdout.split() == ["4", "True"], out.stderr


def test_import_chainsink_imports_no_opentelemetry() -> None:
    """``import chainsink`` (and ``chainsink.otel`` itself) import no OpenTelemetry beyond what
    LangChain itself loads (langsmith's client imports the SDK when it is installed, with some
    langchain-core versions); a missing extra is an ImportError naming chainsink[otel]."""
    code = textwrap.dedent("""
        import sys
        def otel():
            return {m for m in sys.modules if m.startswith("opentelemetry")}
        import chainsink, chainsink.otel, chainsink.otel.attributes
        assert not otel(), "imported by chainsink"

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.startswith("opentelemetry"):
                    raise ImportError(f"No module named {name!r}")
        sys.meta_path.insert(0, Block())
        try:
            from chainsink.otel import OtelCallbackHandler
        except ImportError as exc:
            print(exc)
        sys.meta_path.remove(sys.meta_path[0])

        import langchain_core.callbacks.manager  # what a LangChain program has loaded
        langchain_own = otel()
        chainsink.FileCallbackHandler
        assert otel() == langchain_own, sorted(otel() - langchain_own)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert "pip install 'chainsink[otel]'" in out.stdout, out.stderr


def test_otel_exports_are_sorted_and_importable() -> None:
    """chainsink.otel's public names are exported explicitly, sorted, and importable."""
    import chainsink.otel

    assert chainsink.otel.__all__ == sorted(chainsink.otel.__all__)
    for name in chainsink.otel.__all__:
        assert getattr(chainsink.otel, name) is not None, name
    public = {n for n in dir(chainsink.otel) if not n.startswith("_")
              and type(getattr(chainsink.otel, n)).__name__ != "module"
              and n not in ("annotations", "TYPE_CHECKING", "Any")}
    assert public == set(chainsink.otel.__all__)


def test_capture_sends_a_block_as_spans(memory: Memory) -> None:
    """``chainsink.capture(OtelCallbackHandler(...))`` sends every run started in the block,
    with no callbacks passed anywhere."""
    import chainsink

    provider, exporter = memory
    with chainsink.capture(OtelCallbackHandler(provider)):
        workloads.invoke_lcel([])
    spans = exporter.get_finished_spans()
    assert sorted(s.attributes[A.RUN_TYPE] for s in spans) == [
        "chain", "llm", "parser", "prompt"]


def test_a_failing_tool_call_keeps_its_call_id(memory: Memory) -> None:
    """The model's tool call id is on the tool's span even when the tool raises (it comes with
    the tool's start record, ``tool_call_id``, not only with its output)."""
    provider, exporter = memory

    @tool
    def refuse(reason: str) -> str:
        """Always fails."""
        raise RuntimeError(f"refused: {reason}")

    handler = OtelCallbackHandler(provider)
    call = {"name": "refuse", "args": {"reason": "no"}, "id": "call_refuse_7",
            "type": "tool_call"}
    with pytest.raises(RuntimeError):
        refuse.invoke(call, config={"callbacks": [handler]})
    (span,) = exporter.get_finished_spans()
    assert span.attributes[A.GEN_AI_TOOL_CALL_ID] == "call_refuse_7"
    assert span.status.status_code is StatusCode.ERROR


@pytest.mark.parametrize("options", [{}, {"capture_content": True,
                                          "conventions": ("gen_ai", "openinference")}],
                         ids=["defaults", "content"])
@pytest.mark.parametrize("name", list(WORKLOADS))
def test_spans_read_from_events_are_the_spans_of_their_jsonl_lines(
        name: str, options: dict[str, Any]) -> None:
    """The handler's sink reads each event as its JSONL line would parse, without making the
    line: a sink given the lines of the same events makes the same spans, to the nanosecond."""
    from chainsink.otel import SpanRecords, SpanSink

    exporters = [InMemorySpanExporter(), InMemorySpanExporter()]
    providers = []
    for exporter in exporters:
        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        providers.append(provider)
    handler = OtelCallbackHandler(providers[0], **options)
    sink = handler.sink
    from_lines = SpanSink(providers[1], capture_content=sink.capture_content,
                          conventions=sink.conventions)
    render, write = SpanRecords(), sink.write

    def both(text: str, event: Any = None) -> None:
        write(text, event)
        from_lines.write(render(event), event)

    sink.write = both  # type: ignore[method-assign]
    WORKLOADS[name]([handler])
    got = [sorted((span_facts(s) for s in e.get_finished_spans()), key=repr)
           for e in exporters]
    assert got[0] and got[0] == got[1]
