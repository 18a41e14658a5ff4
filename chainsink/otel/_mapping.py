"""The one mapping from chainsink's JSONL records to spans: names, ids, times, attributes, status.

Pure Python (no OpenTelemetry, no LangChain), so it can be read and tested on its own. Both
drivers feed it JSONL records after the processors ran: the live handler the lines its
formatter renders, ``chainsink export`` the lines of a log (through the same processors and
formatter). So a run exported live and a run replayed from its log get the same span.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

import orjson

from chainsink._schema import parse_time
from chainsink.otel import attributes as A

#: An attribute value OpenTelemetry takes.
AttrValue = str | bool | int | float | list[str]
Attrs = dict[str, AttrValue]

#: Flattened OpenInference attributes per message list at most (the SDK keeps 128 attributes
#: per span by default and evicts the oldest beyond that, which would drop the run's own).
_MAX_FLAT_ATTRS = 60

_LOW64: Final = (1 << 64) - 1

#: LangChain's ``ls_provider`` values -> ``gen_ai.provider.name`` well-known values.
_PROVIDERS = {
    "openai": "openai", "azure": "azure.ai.openai", "azure_openai": "azure.ai.openai",
    "azure_ai": "azure.ai.inference", "anthropic": "anthropic", "google_genai": "gcp.gen_ai",
    "google_vertexai": "gcp.vertex_ai", "google_anthropic_vertex": "gcp.vertex_ai",
    "amazon_bedrock": "aws.bedrock", "bedrock": "aws.bedrock",
    "bedrock_converse": "aws.bedrock", "cohere": "cohere", "mistral": "mistral_ai",
    "mistralai": "mistral_ai", "groq": "groq", "deepseek": "deepseek", "xai": "x_ai",
    "perplexity": "perplexity", "ibm": "ibm.watsonx.ai", "watsonx": "ibm.watsonx.ai",
}
#: The request's numeric parameters: attribute, and the keys naming it (metadata's
#: ``ls_*`` first), looked up in the metadata, then in the invocation parameters.
_REQUEST_NUMBERS = ((A.GEN_AI_REQUEST_TEMPERATURE, ("ls_temperature", "temperature")),
                    (A.GEN_AI_REQUEST_MAX_TOKENS, ("ls_max_tokens", "max_tokens")),
                    (A.GEN_AI_REQUEST_TOP_P, ("top_p",)))
#: LangChain message types -> GenAI roles.
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool",
          "function": "tool", "developer": "system", "user": "user", "assistant": "assistant"}
#: chainsink run types that are chains in OpenTelemetry's eyes.
_AGENT_INTEGRATION = "langchain_create_agent"
#: The kinds whose own fields become attributes only with content (see SpanMapper.data_free).
_CONTENT_ONLY_KINDS = frozenset({"chain_start", "chain_end", "retriever_start",
                                 "retriever_end", "agent_finish"})


def span_id_of(run_id: int) -> int:
    """A run's span id: the low 64 bits of its id (the high bits if those are all zero)."""
    low = run_id & _LOW64
    return low or (run_id >> 64) & _LOW64 or 1


def uuid_int(value: Any) -> int | None:
    """A UUID string (as JSONL writes it) as a 128-bit int, or None."""
    if not isinstance(value, str):
        return None
    try:
        return int(value.replace("-", ""), 16) if len(value) == 36 else None
    except ValueError:
        return None


_second_cache: list[tuple[str, int]] = [("", 0)]


def ts_ns(value: Any) -> int | None:
    """An RFC 3339 timestamp (``2026-11-21T16:17:31.215010Z``) as nanoseconds since the epoch.

    Exact to the microsecond a JSONL record holds (no float rounding).
    """
    if not isinstance(value, str):
        return None
    if len(value) == 27 and value[19] == "." and value[26] == "Z":  # chainsink's own form
        head = value[:19]
        cached = _second_cache[0]
        if cached[0] != head:
            try:
                secs = calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S"))
            except ValueError:
                return None
            cached = (head, secs)
            _second_cache[0] = cached
        frac = value[20:26]
        if frac.isdigit():
            return cached[1] * 1_000_000_000 + int(frac) * 1000
        return None
    parsed = parse_time(value)
    if parsed is None or not _has_offset(value):  # no offset: no way to know when it was
        return None
    return (calendar.timegm(parsed.utctimetuple()) * 1_000_000 + parsed.microsecond) * 1000


def _has_offset(value: str) -> bool:
    """Whether an RFC 3339 time that :func:`parse_time` read carries its UTC offset (it takes
    a time without one as UTC)."""
    if value[-1] in "Zz":
        return True
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:  # a record read from elsewhere with a non-JSON value: never fail
        return orjson.dumps(str(value)).decode("utf-8")


def _text(value: Any) -> str:
    """A content value as text: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else _json(value)


def _mime(value: Any) -> str:
    return "text/plain" if isinstance(value, str) else "application/json"


def _str_list(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _first_number(source: dict[str, Any], names: tuple[str, ...]) -> int | float | None:
    """The number under the first of ``names`` that holds one, or None."""
    for name in names:
        value = source.get(name)
        if value is not None:
            value = _number(value)
            if value is not None:
                return value
    return None


class RunSpan:
    """What the mapping keeps about one run between its start and its end."""

    __slots__ = (
        "agentic",
        "attributes",
        "context",
        "kind",
        "last_ns",
        "model_known",
        "name",
        "operation",
        "parent_span_id",
        "run_id",
        "run_type",
        "span_id",
        "start_ns",
        "trace_id",
    )

    def __init__(self, run_id: int, trace_id: int, parent_span_id: int | None, name: str,
                 kind: str, operation: str, run_type: str, start_ns: int,
                 attributes: Attrs, agentic: bool, model_known: bool) -> None:
        self.run_id = run_id
        self.trace_id = trace_id
        self.span_id = span_id_of(run_id)
        self.parent_span_id = parent_span_id
        self.name = name
        #: ``client`` (a model call) or ``internal``.
        self.kind = kind
        self.operation = operation
        self.run_type = run_type
        self.start_ns = start_ns
        self.last_ns = start_ns
        #: The attributes known at the start (given to the sampler).
        self.attributes = attributes
        #: Whether this run is an agent or inside one (create_agent's runs).
        self.agentic = agentic
        self.model_known = model_known
        #: The driver's context for this run's children (OpenTelemetry's, holding its span),
        #: made at its first child's start.
        self.context: Any = None


class SpanEnd:
    """How a run's span ends: when, what it adds, its status and (maybe) its final name."""

    __slots__ = ("attributes", "end_ns", "error", "events", "name")

    def __init__(self, end_ns: int, attributes: Attrs, error: str | None,
                 name: str | None = None, events: list[SpanEvent] | None = None) -> None:
        self.end_ns = end_ns
        self.attributes = attributes
        #: The status description when the run failed (status ERROR), else None.
        self.error = error
        #: A new span name, when the end tells more than the start did (the model).
        self.name = name
        #: Span events to add before ending (the exception).
        self.events = events or []


class SpanEvent:
    """Something that happened inside a run, as a span event."""

    __slots__ = ("attributes", "name", "ts_ns")

    def __init__(self, name: str, ts_ns: int, attributes: Attrs) -> None:
        self.name = name
        self.ts_ns = ts_ns
        self.attributes = attributes


class SpanMapper:
    """Turns JSONL records into span starts, ends and events, following the conventions.

    Args:
        capture_content: Put prompts, messages, inputs, outputs, tool arguments and results
            and documents into attributes.
        openinference: Add OpenInference attributes next to the GenAI ones.
    """

    def __init__(self, *, capture_content: bool, openinference: bool) -> None:
        self.content = capture_content
        self.oi = openinference
        #: The kinds whose mapping reads none of the record's own fields (the event's
        #: ``data``), only ``event`` and the run keys: what is left of them is content.
        self.data_free = frozenset() if capture_content else _CONTENT_ONLY_KINDS

    # -- starts -------------------------------------------------------------------------------

    def start(self, rec: dict[str, Any], run_id: int, ts: int, parent: RunSpan | None,
              ids: tuple[int, int | None] | None = None) -> RunSpan:
        """The span of a run from its start record; ``parent`` is its parent's, if open.
        ``ids``: the record's trace id (or ``run_id``) and parent run id, when the caller
        has already read them."""
        kind = rec.get("event")
        name = str(rec.get("name") or "<unknown>")
        run_type = str(rec.get("run_type") or "chain")
        metadata = rec.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        if ids is None:
            parent_id = uuid_int(rec.get("parent_run_id"))
            trace_id = uuid_int(rec.get("trace_id")) or run_id
        else:
            trace_id, parent_id = ids
        attrs: Attrs = {A.RUN_ID: str(rec.get("run_id")), A.RUN_TYPE: run_type}
        parent_span_id = None
        if parent_id is not None:
            if trace_id != run_id:
                parent_span_id = span_id_of(parent_id)
            else:  # the trace's root was never seen: a root span that names its parent
                attrs[A.PARENT_RUN_ID] = str(rec.get("parent_run_id"))
        self._common(attrs, rec, metadata)
        agentic = metadata.get("ls_integration") == _AGENT_INTEGRATION
        if kind in ("chat_model_start", "llm_start"):
            operation, span_name = self._start_model(attrs, rec, metadata, kind)
        elif kind == "tool_start":
            operation, span_name = self._start_tool(attrs, rec, name)
        elif kind == "retriever_start":
            operation, span_name = self._start_retriever(attrs, rec, name)
        else:  # chain_start (chains, prompts, parsers, graph nodes, agents)
            agent = name == "AgentExecutor" or (
                agentic and (parent is None or not parent.agentic or parent.run_type == "tool"))
            operation, span_name = self._start_chain(attrs, rec, name, metadata, agent,
                                                     root=parent_span_id is None)
            agentic = agentic or agent
        attrs[A.GEN_AI_OPERATION_NAME] = operation
        client = operation in (A.OP_CHAT, A.OP_TEXT_COMPLETION)  # a call to a model service
        return RunSpan(run_id, trace_id, parent_span_id, span_name,
                       "client" if client else "internal", operation, run_type, ts, attrs,
                       agentic, A.GEN_AI_REQUEST_MODEL in attrs)

    def _start_model(self, attrs: Attrs, rec: dict[str, Any], metadata: dict[str, Any],
                     kind: str) -> tuple[str, str]:
        operation = A.OP_CHAT if kind == "chat_model_start" else A.OP_TEXT_COMPLETION
        model = self._request(attrs, rec, metadata)
        if self.oi:
            attrs[A.OPENINFERENCE_SPAN_KIND] = A.KIND_LLM
        if self.content:
            self._llm_input(attrs, rec, kind)
        return operation, f"{operation} {model}" if model else operation

    def _start_tool(self, attrs: Attrs, rec: dict[str, Any], name: str) -> tuple[str, str]:
        attrs[A.GEN_AI_TOOL_NAME] = name
        call_id = rec.get("tool_call_id")
        if isinstance(call_id, str) and call_id:  # known at the start, even if the tool fails
            attrs[A.GEN_AI_TOOL_CALL_ID] = call_id
        if self.oi:
            attrs[A.OPENINFERENCE_SPAN_KIND] = A.KIND_TOOL
            attrs[A.TOOL_NAME] = name
        if self.content:
            args = rec.get("inputs")
            value = args if isinstance(args, dict) else rec.get("input_str")
            if value is not None:
                attrs[A.GEN_AI_TOOL_CALL_ARGUMENTS] = _text(value)
                self._oi_input(attrs, value)
        return A.OP_EXECUTE_TOOL, f"{A.OP_EXECUTE_TOOL} {name}"

    def _start_retriever(self, attrs: Attrs, rec: dict[str, Any],
                         name: str) -> tuple[str, str]:
        if self.oi:
            attrs[A.OPENINFERENCE_SPAN_KIND] = A.KIND_RETRIEVER
        query = rec.get("query")
        if self.content and query is not None:
            attrs[A.GEN_AI_RETRIEVAL_QUERY_TEXT] = _text(query)
            self._oi_input(attrs, query)
        return A.OP_RETRIEVAL, f"{A.OP_RETRIEVAL} {name}"

    def _start_chain(self, attrs: Attrs, rec: dict[str, Any], name: str,
                     metadata: dict[str, Any], agent: bool, root: bool) -> tuple[str, str]:
        if agent:
            agent_name = metadata.get("lc_agent_name")
            agent_name = agent_name if isinstance(agent_name, str) else name
            attrs[A.GEN_AI_AGENT_NAME] = agent_name
            if self.oi:
                attrs[A.OPENINFERENCE_SPAN_KIND] = A.KIND_AGENT
                attrs[A.AGENT_NAME] = agent_name
            operation, span_name = A.OP_INVOKE_AGENT, f"{A.OP_INVOKE_AGENT} {agent_name}"
        elif root:
            attrs[A.GEN_AI_WORKFLOW_NAME] = name
            operation, span_name = A.OP_INVOKE_WORKFLOW, f"{A.OP_INVOKE_WORKFLOW} {name}"
        else:
            operation, span_name = A.OP_CHAIN, name
        if self.oi and not agent:
            attrs[A.OPENINFERENCE_SPAN_KIND] = A.KIND_CHAIN
        if self.content and "inputs" in rec and not rec.get("defers_inputs"):
            attrs[A.INPUTS] = _text(rec["inputs"])
            self._oi_input(attrs, rec["inputs"])
        return operation, span_name

    def _common(self, attrs: Attrs, rec: dict[str, Any], metadata: dict[str, Any]) -> None:
        tags = rec.get("tags")
        tags = [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []
        if tags:
            attrs[A.TAGS] = tags
        if metadata:
            attrs[A.RUN_METADATA] = _json(metadata)
        session = metadata.get("session_id") or metadata.get("thread_id") or metadata.get(
            "conversation_id")
        if isinstance(session, (str, int)) and not isinstance(session, bool):
            attrs[A.GEN_AI_CONVERSATION_ID] = str(session)
            if self.oi:
                attrs[A.SESSION_ID] = str(session)
        if self.oi:
            if tags:
                attrs[A.TAG_TAGS] = tags
            if metadata:
                attrs[A.METADATA] = attrs[A.RUN_METADATA]

    def _request(self, attrs: Attrs, rec: dict[str, Any],
                 metadata: dict[str, Any]) -> str | None:
        """Set a model call's request attributes; return the requested model, if known."""
        params = rec.get("invocation_params")
        params = params if isinstance(params, dict) else {}
        model = (params.get("model") or params.get("model_name") or params.get("model_id")
                 or metadata.get("ls_model_name"))
        model = model if isinstance(model, str) and model else None
        if model:
            attrs[A.GEN_AI_REQUEST_MODEL] = model
        provider = metadata.get("ls_provider")
        if isinstance(provider, str) and provider:
            attrs[A.GEN_AI_PROVIDER_NAME] = _PROVIDERS.get(provider, provider)
        for key, names in _REQUEST_NUMBERS:  # the metadata's first, then the parameters'
            found = _first_number(metadata, names)
            if found is None:
                found = _first_number(params, names)
            if found is not None:
                attrs[key] = found
        stop = _str_list(metadata.get("ls_stop")) or _str_list(params.get("stop"))
        if stop:
            attrs[A.GEN_AI_REQUEST_STOP_SEQUENCES] = stop
        if self.oi:
            if model:
                attrs[A.LLM_MODEL_NAME] = model
            if A.GEN_AI_PROVIDER_NAME in attrs:
                attrs[A.LLM_PROVIDER] = attrs[A.GEN_AI_PROVIDER_NAME]
            if params:
                attrs[A.LLM_INVOCATION_PARAMETERS] = _json(params)
        return model

    def _llm_input(self, attrs: Attrs, rec: dict[str, Any], kind: Any) -> None:
        if kind == "chat_model_start":
            batches = rec.get("messages")
            first = batches[0] if isinstance(batches, list) and batches else []
            messages = [m for m in first if isinstance(m, dict)] if isinstance(
                first, list) else []
            attrs[A.GEN_AI_INPUT_MESSAGES] = _json([_message(m) for m in messages])
            if self.oi:
                attrs[A.INPUT_VALUE] = _json(messages)
                attrs[A.INPUT_MIME_TYPE] = "application/json"
                _flatten_messages(attrs, A.LLM_INPUT_MESSAGES, messages)
        else:
            prompts = _str_list(rec.get("prompts")) or []
            attrs[A.GEN_AI_INPUT_MESSAGES] = _json([
                {"role": "user", "parts": [{"type": "text", "content": p}]} for p in prompts])
            if self.oi:
                if prompts:
                    attrs[A.LLM_PROMPTS] = prompts
                self._oi_input(attrs, prompts[0] if len(prompts) == 1 else prompts)

    def _oi_input(self, attrs: Attrs, value: Any) -> None:
        if self.oi:
            attrs[A.INPUT_VALUE] = _text(value)
            attrs[A.INPUT_MIME_TYPE] = _mime(value)

    def _oi_output(self, attrs: Attrs, value: Any) -> None:
        if self.oi:
            attrs[A.OUTPUT_VALUE] = _text(value)
            attrs[A.OUTPUT_MIME_TYPE] = _mime(value)

    # -- ends ---------------------------------------------------------------------------------

    def end(self, rec: dict[str, Any], span: RunSpan, ts: int) -> SpanEnd:
        """How ``span`` ends, from its run's end or error record."""
        kind = rec.get("event")
        attrs: Attrs = {}
        name = None
        if kind == "llm_end":
            name = self._llm_end(attrs, rec, span)
        elif kind == "tool_end":
            outputs = rec.get("outputs")
            call_id = _tool_call_id(outputs)
            if call_id:
                attrs[A.GEN_AI_TOOL_CALL_ID] = call_id
            if self.content and outputs is not None:
                content = outputs.get("content") if isinstance(outputs, dict) and (
                    outputs.get("type") == "tool") else outputs
                attrs[A.GEN_AI_TOOL_CALL_RESULT] = _text(content)
                self._oi_output(attrs, content)
        elif kind == "retriever_end":
            if self.content:
                outputs = rec.get("outputs")
                docs = outputs.get("documents") if isinstance(outputs, dict) else None
                docs = [d for d in docs if isinstance(d, dict)] if isinstance(docs, list) else []
                attrs[A.GEN_AI_RETRIEVAL_DOCUMENTS] = _json([_document(d) for d in docs])
                if self.oi:
                    _flatten_documents(attrs, docs)
        elif kind == "chain_end" and self.content:
            if "outputs" in rec:
                attrs[A.OUTPUTS] = _text(rec["outputs"])
                self._oi_output(attrs, rec["outputs"])
            if "inputs" in rec:  # a streamed chain learns its inputs at the end
                attrs[A.INPUTS] = _text(rec["inputs"])
                self._oi_input(attrs, rec["inputs"])
        if isinstance(kind, str) and kind.endswith("_error"):
            return self._error(attrs, rec, ts)
        return SpanEnd(ts, attrs, None, name)

    def _llm_end(self, attrs: Attrs, rec: dict[str, Any], span: RunSpan) -> str | None:
        usage = rec.get("usage")
        if isinstance(usage, dict):
            for key, attr, oi_attr in (
                    ("input_tokens", A.GEN_AI_USAGE_INPUT_TOKENS, A.LLM_TOKEN_COUNT_PROMPT),
                    ("output_tokens", A.GEN_AI_USAGE_OUTPUT_TOKENS,
                     A.LLM_TOKEN_COUNT_COMPLETION),
                    ("total_tokens", None, A.LLM_TOKEN_COUNT_TOTAL)):
                value = usage.get(key)
                if isinstance(value, int) and not isinstance(value, bool):
                    if attr is not None:
                        attrs[attr] = value
                    if self.oi:
                        attrs[oi_attr] = value
        outputs = rec.get("outputs")
        generations = _generations(outputs)
        details = _token_details(generations)
        for key, attr, oi_attr in (
                ("cache_read", A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
                 A.LLM_TOKEN_COUNT_PROMPT_CACHE_READ),
                ("cache_creation", A.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
                 A.LLM_TOKEN_COUNT_PROMPT_CACHE_WRITE),
                ("reasoning", A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
                 A.LLM_TOKEN_COUNT_COMPLETION_REASONING)):
            if key in details:
                attrs[attr] = details[key]
                if self.oi:
                    attrs[oi_attr] = details[key]
        model = rec.get("model")
        model = model if isinstance(model, str) and model else None
        if model:
            attrs[A.GEN_AI_RESPONSE_MODEL] = model
            if self.oi:
                attrs[A.LLM_MODEL_NAME] = model
        reasons = [r for r in (_finish_reason(g) for g in generations) if r]
        if reasons:
            attrs[A.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
        response_id = next((i for i in (_response_id(g) for g in generations) if i), None)
        if response_id:
            attrs[A.GEN_AI_RESPONSE_ID] = response_id
        if self.content:
            out = [_output_message(g) for g in generations]
            attrs[A.GEN_AI_OUTPUT_MESSAGES] = _json(out)
            if self.oi:
                messages = [g["message"] if isinstance(g.get("message"), dict)
                            else {"type": "ai", "content": g.get("text", "")}
                            for g in generations]
                _flatten_messages(attrs, A.LLM_OUTPUT_MESSAGES, messages)
                texts = [g.get("text") for g in generations]
                shown: Any = texts[0] if len(texts) == 1 and texts[0] else messages
                self._oi_output(attrs, shown)
        if model and not span.model_known:
            return f"{span.operation} {model}"
        return None

    def _error(self, attrs: Attrs, rec: dict[str, Any], ts: int) -> SpanEnd:
        """The end of a run that failed (status ERROR) or was interrupted (status unset)."""
        error = rec.get("error")
        error = error if isinstance(error, dict) else {}
        etype = str(error.get("type") or "Error")
        message = error.get("message")
        message = message if isinstance(message, str) else ""
        if rec.get("interrupted"):
            attrs[A.INTERRUPTED] = True
            if isinstance(rec.get("interrupt"), str):
                attrs[A.INTERRUPT] = rec["interrupt"]
            return SpanEnd(ts, attrs, None)
        if rec.get("aborted"):
            attrs[A.ABORTED] = True
        attrs[A.ERROR_TYPE] = etype
        exc: Attrs = {A.EXCEPTION_TYPE: etype, A.EXCEPTION_MESSAGE: message}
        if isinstance(error.get("traceback"), str):
            exc[A.EXCEPTION_STACKTRACE] = error["traceback"]
        return SpanEnd(ts, attrs, f"{etype}: {message}" if message else etype,
                       events=[SpanEvent(A.EXCEPTION_EVENT, ts, exc)])

    def unfinished(self, span: RunSpan) -> SpanEnd:
        """How a run with no end in its log ends: at its trace's last record, as an error."""
        return SpanEnd(span.last_ns, {A.UNFINISHED: True, A.ERROR_TYPE: "Unfinished"},
                       "Unfinished: the log has no end for this run")

    # -- events inside a run --------------------------------------------------------------------

    def event(self, rec: dict[str, Any], ts: int) -> SpanEvent | None:
        """A span event for a record inside a run (agent steps, retries, custom events)."""
        kind = rec.get("event")
        attrs: Attrs = {}
        if kind == "agent_action":
            tool = rec.get("tool")
            if isinstance(tool, str):
                attrs[A.GEN_AI_TOOL_NAME] = tool
            if self.content and rec.get("tool_input") is not None:
                attrs[A.GEN_AI_TOOL_CALL_ARGUMENTS] = _text(rec["tool_input"])
            return SpanEvent("agent_action", ts, attrs)
        if kind == "agent_finish":
            if self.content and rec.get("return_values") is not None:
                attrs[A.OUTPUTS] = _text(rec["return_values"])
            return SpanEvent("agent_finish", ts, attrs)
        if kind == "retry":
            attempt = rec.get("attempt")
            if isinstance(attempt, int) and not isinstance(attempt, bool):
                attrs[A.ATTEMPT] = attempt
            error = rec.get("error")
            if isinstance(error, dict) and error.get("type"):
                attrs[A.ERROR_TYPE] = str(error["type"])
            return SpanEvent("retry", ts, attrs)
        if kind == "custom_event":
            name = rec.get("event_name")
            if self.content and rec.get("data") is not None:
                attrs[A.EVENT_DATA] = _text(rec["data"])
            return SpanEvent(name if isinstance(name, str) and name else "custom_event", ts,
                             attrs)
        return None


# -- LangChain values (as JSON) -> the conventions' shapes ----------------------------------------


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}] if content else []
    parts: list[dict[str, Any]] = []
    if isinstance(content, list):
        for block in content:
            if isinstance(block, str):
                parts.append({"type": "text", "content": block})
            elif isinstance(block, dict) and block.get("type") == "text":
                parts.append({"type": "text", "content": block.get("text", "")})
            elif isinstance(block, dict):
                parts.append({**block, "type": str(block.get("type") or "unknown")})
    return parts


def _message(msg: dict[str, Any]) -> dict[str, Any]:
    """A LangChain message (JSONL form, or a ``{"role", "content"}`` dict) in GenAI form."""
    kind = msg.get("type") or msg.get("role")
    role = _ROLES.get(kind, kind) if isinstance(kind, str) else "user"
    if kind == "chat" and isinstance(msg.get("role"), str):
        role = msg["role"]
    if role == "tool":
        return {"role": "tool", "parts": [{"type": "tool_call_response",
                                           "id": msg.get("tool_call_id"),
                                           "response": msg.get("content")}]}
    parts = _parts(msg.get("content"))
    for call in msg.get("tool_calls") or ():
        if isinstance(call, dict):
            parts.append({"type": "tool_call", "id": call.get("id"), "name": call.get("name"),
                          "arguments": call.get("args")})
    out: dict[str, Any] = {"role": role, "parts": parts}
    if isinstance(msg.get("name"), str):
        out["name"] = msg["name"]
    return out


def _generations(outputs: Any) -> list[dict[str, Any]]:
    if not isinstance(outputs, dict):
        return []
    found: list[dict[str, Any]] = []
    for batch in outputs.get("generations") or ():
        if isinstance(batch, list):
            found.extend(g for g in batch if isinstance(g, dict))
    return found


def _token_details(generations: list[dict[str, Any]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for gen in generations:
        message = gen.get("message")
        usage = message.get("usage_metadata") if isinstance(message, dict) else None
        if not isinstance(usage, dict):
            continue
        for group, keys in (("input_token_details", ("cache_read", "cache_creation")),
                            ("output_token_details", ("reasoning",))):
            details = usage.get(group)
            if isinstance(details, dict):
                for key in keys:
                    value = details.get(key)
                    if isinstance(value, int) and not isinstance(value, bool):
                        totals[key] = totals.get(key, 0) + value
    return totals


def _finish_reason(gen: dict[str, Any]) -> str | None:
    for source in (gen.get("generation_info"),
                   (gen.get("message") or {}).get("response_metadata")
                   if isinstance(gen.get("message"), dict) else None):
        if isinstance(source, dict):
            reason = source.get("finish_reason") or source.get("stop_reason")
            if isinstance(reason, str) and reason:
                return reason
    return None


def _response_id(gen: dict[str, Any]) -> str | None:
    message = gen.get("message")
    meta = message.get("response_metadata") if isinstance(message, dict) else None
    found = meta.get("id") if isinstance(meta, dict) else None
    return found if isinstance(found, str) and found else None


def _output_message(gen: dict[str, Any]) -> dict[str, Any]:
    message = gen.get("message")
    out = _message(message) if isinstance(message, dict) else {
        "role": "assistant", "parts": _parts(gen.get("text", ""))}
    out["finish_reason"] = _finish_reason(gen) or "stop"
    return out


def _tool_call_id(outputs: Any) -> str | None:
    """The tool call a tool's output answers (a ToolMessage, or a Command carrying one)."""
    if not isinstance(outputs, dict):
        return None
    found = outputs.get("tool_call_id")
    if isinstance(found, str) and found:
        return found
    update = outputs.get("update")
    messages = update.get("messages") if isinstance(update, dict) else None
    for msg in messages if isinstance(messages, list) else ():
        if isinstance(msg, dict) and isinstance(msg.get("tool_call_id"), str):
            return str(msg["tool_call_id"])
    return None


def _document(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    meta = doc.get("metadata")
    ident = doc.get("id") or (meta.get("id") if isinstance(meta, dict) else None)
    if ident is not None:
        out["id"] = str(ident)
    out["content"] = doc.get("page_content")
    if meta:
        out["metadata"] = meta
    return out


def _flatten_messages(attrs: Attrs, prefix: str, messages: Iterable[dict[str, Any]]) -> None:
    """OpenInference's ``llm.input_messages.N.message.*`` attributes, the last messages first
    kept when they do not all fit in the budget."""
    flat: list[list[tuple[str, AttrValue]]] = []
    for msg in messages:
        kind = msg.get("type") or msg.get("role")
        role = _ROLES.get(kind, kind) if isinstance(kind, str) else "user"
        items: list[tuple[str, AttrValue]] = [(A.MESSAGE_ROLE, str(role))]
        content = msg.get("content")
        if isinstance(content, list):
            content = "".join(p.get("content", "") for p in _parts(content)
                              if p.get("type") == "text")
        if content:
            items.append((A.MESSAGE_CONTENT, _text(content)))
        if isinstance(msg.get("tool_call_id"), str):
            items.append((A.MESSAGE_TOOL_CALL_ID, msg["tool_call_id"]))
        for j, call in enumerate(msg.get("tool_calls") or ()):
            if isinstance(call, dict):
                base = f"{A.MESSAGE_TOOL_CALLS}.{j}."
                if call.get("id"):
                    items.append((base + A.TOOL_CALL_ID, str(call["id"])))
                items.append((base + A.TOOL_CALL_FUNCTION_NAME, str(call.get("name"))))
                items.append((base + A.TOOL_CALL_FUNCTION_ARGUMENTS,
                              _json(call.get("args"))))
        flat.append(items)
    kept: list[list[tuple[str, AttrValue]]] = []
    budget = _MAX_FLAT_ATTRS
    for items in reversed(flat):
        if len(items) > budget:
            break
        budget -= len(items)
        kept.append(items)
    for i, items in enumerate(reversed(kept)):
        for key, value in items:
            attrs[f"{prefix}.{i}.{key}"] = value


def _flatten_documents(attrs: Attrs, docs: list[dict[str, Any]]) -> None:
    budget = _MAX_FLAT_ATTRS
    for i, doc in enumerate(docs):
        shaped = _document(doc)
        items: list[tuple[str, AttrValue]] = [(A.DOCUMENT_CONTENT, _text(shaped["content"]))]
        if "id" in shaped:
            items.append((A.DOCUMENT_ID, shaped["id"]))
        if "metadata" in shaped:
            items.append((A.DOCUMENT_METADATA, _json(shaped["metadata"])))
        if len(items) > budget:
            break
        budget -= len(items)
        for key, value in items:
            attrs[f"{A.RETRIEVAL_DOCUMENTS}.{i}.{key}"] = value
