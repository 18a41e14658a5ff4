"""The span attribute names chainsink sets, as constants (importable without OpenTelemetry).

Three families:

- ``gen_ai.*`` and ``error.type``: the OpenTelemetry GenAI semantic conventions as published in
  semantic-conventions :data:`GEN_AI_SEMCONV_VERSION` (status Development; the last release
  before the GenAI conventions moved to ``open-telemetry/semantic-conventions-genai``).
- OpenInference (:data:`OPENINFERENCE_VERSION`), with ``conventions=("gen_ai", "openinference")``:
  what Arize Phoenix and other OpenInference backends render natively.
- ``chainsink.*``: what neither convention names (the full run id, run type, tags, metadata,
  and why a span ended without its run ending).
"""

from __future__ import annotations

from typing import Final

#: The semantic-conventions release the ``gen_ai.*`` names and values follow.
GEN_AI_SEMCONV_VERSION: Final = "1.41.0"
#: Its schema URL, set on chainsink's tracer.
GEN_AI_SCHEMA_URL: Final = "https://opentelemetry.io/schemas/1.41.0"
#: The openinference-semantic-conventions release the OpenInference names follow.
OPENINFERENCE_VERSION: Final = "0.1.42"

# -- OpenTelemetry GenAI ------------------------------------------------------------------------

GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_WORKFLOW_NAME: Final = "gen_ai.workflow.name"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
ERROR_TYPE: Final = "error.type"
# content (only with capture_content): JSON strings in the conventions' message format
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
GEN_AI_RETRIEVAL_QUERY_TEXT: Final = "gen_ai.retrieval.query.text"
GEN_AI_RETRIEVAL_DOCUMENTS: Final = "gen_ai.retrieval.documents"

#: ``gen_ai.operation.name`` values. ``chain`` is chainsink's own value (the conventions allow
#: one) for a step inside a workflow: a prompt, a parser, a lambda, a graph node.
OP_CHAT: Final = "chat"
OP_TEXT_COMPLETION: Final = "text_completion"
OP_EXECUTE_TOOL: Final = "execute_tool"
OP_INVOKE_AGENT: Final = "invoke_agent"
OP_RETRIEVAL: Final = "retrieval"
OP_INVOKE_WORKFLOW: Final = "invoke_workflow"
OP_CHAIN: Final = "chain"

# -- OpenInference ------------------------------------------------------------------------------

OPENINFERENCE_SPAN_KIND: Final = "openinference.span.kind"
INPUT_VALUE: Final = "input.value"
INPUT_MIME_TYPE: Final = "input.mime_type"
OUTPUT_VALUE: Final = "output.value"
OUTPUT_MIME_TYPE: Final = "output.mime_type"
LLM_MODEL_NAME: Final = "llm.model_name"
LLM_PROVIDER: Final = "llm.provider"
LLM_INVOCATION_PARAMETERS: Final = "llm.invocation_parameters"
LLM_TOKEN_COUNT_PROMPT: Final = "llm.token_count.prompt"
LLM_TOKEN_COUNT_COMPLETION: Final = "llm.token_count.completion"
LLM_TOKEN_COUNT_TOTAL: Final = "llm.token_count.total"
LLM_TOKEN_COUNT_PROMPT_CACHE_READ: Final = "llm.token_count.prompt_details.cache_read"
LLM_TOKEN_COUNT_PROMPT_CACHE_WRITE: Final = "llm.token_count.prompt_details.cache_write"
LLM_TOKEN_COUNT_COMPLETION_REASONING: Final = "llm.token_count.completion_details.reasoning"
LLM_INPUT_MESSAGES: Final = "llm.input_messages"
LLM_OUTPUT_MESSAGES: Final = "llm.output_messages"
LLM_PROMPTS: Final = "llm.prompts"
MESSAGE_ROLE: Final = "message.role"
MESSAGE_CONTENT: Final = "message.content"
MESSAGE_TOOL_CALLS: Final = "message.tool_calls"
MESSAGE_TOOL_CALL_ID: Final = "message.tool_call_id"
TOOL_CALL_ID: Final = "tool_call.id"
TOOL_CALL_FUNCTION_NAME: Final = "tool_call.function.name"
TOOL_CALL_FUNCTION_ARGUMENTS: Final = "tool_call.function.arguments"
TOOL_NAME: Final = "tool.name"
RETRIEVAL_DOCUMENTS: Final = "retrieval.documents"
DOCUMENT_ID: Final = "document.id"
DOCUMENT_CONTENT: Final = "document.content"
DOCUMENT_METADATA: Final = "document.metadata"
AGENT_NAME: Final = "agent.name"
SESSION_ID: Final = "session.id"
METADATA: Final = "metadata"
TAG_TAGS: Final = "tag.tags"

#: ``openinference.span.kind`` values.
KIND_LLM: Final = "LLM"
KIND_CHAIN: Final = "CHAIN"
KIND_TOOL: Final = "TOOL"
KIND_RETRIEVER: Final = "RETRIEVER"
KIND_AGENT: Final = "AGENT"

# -- chainsink ----------------------------------------------------------------------------------

#: The run's full id (the span id holds only its low 64 bits): joins a span to its JSONL lines.
RUN_ID: Final = "chainsink.run_id"
#: The parent run, when the trace's root was never seen (the span is then a root itself).
PARENT_RUN_ID: Final = "chainsink.parent_run_id"
RUN_TYPE: Final = "chainsink.run_type"
TAGS: Final = "chainsink.tags"
#: The run's metadata as a JSON string (after redaction).
RUN_METADATA: Final = "chainsink.metadata"
#: A chain's inputs and outputs as JSON (only with capture_content; the GenAI conventions
#: have no name for them).
INPUTS: Final = "chainsink.inputs"
OUTPUTS: Final = "chainsink.outputs"
#: True when the run was stopped without failing (Ctrl-C, cancellation, a LangGraph
#: interrupt): the span's status stays unset.
INTERRUPTED: Final = "chainsink.interrupted"
#: How it was stopped, when the record says (``keyboard_interrupt``, ``cancelled``, ...).
INTERRUPT: Final = "chainsink.interrupt"
#: True when chainsink closed the run itself (its trace or the process ended first).
ABORTED: Final = "chainsink.aborted"
#: True when a replayed log has no end for the run: the span ends at the trace's last record.
UNFINISHED: Final = "chainsink.unfinished"
#: On a ``retry`` span event: the attempt number.
ATTEMPT: Final = "chainsink.attempt"
#: On a custom event's span event: its data as JSON (only with capture_content).
EVENT_DATA: Final = "chainsink.data"

# -- the exception span event (OpenTelemetry's own names) ---------------------------------------

EXCEPTION_EVENT: Final = "exception"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"

#: Environment variable switching content capture on (the OpenTelemetry GenAI instrumentations'
#: own).
CAPTURE_CONTENT_ENV: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


__all__ = [
    "ABORTED",
    "AGENT_NAME",
    "ATTEMPT",
    "CAPTURE_CONTENT_ENV",
    "DOCUMENT_CONTENT",
    "DOCUMENT_ID",
    "DOCUMENT_METADATA",
    "ERROR_TYPE",
    "EVENT_DATA",
    "EXCEPTION_EVENT",
    "EXCEPTION_MESSAGE",
    "EXCEPTION_STACKTRACE",
    "EXCEPTION_TYPE",
    "GEN_AI_AGENT_NAME",
    "GEN_AI_CONVERSATION_ID",
    "GEN_AI_INPUT_MESSAGES",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_OUTPUT_MESSAGES",
    "GEN_AI_PROVIDER_NAME",
    "GEN_AI_REQUEST_MAX_TOKENS",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_REQUEST_STOP_SEQUENCES",
    "GEN_AI_REQUEST_TEMPERATURE",
    "GEN_AI_REQUEST_TOP_P",
    "GEN_AI_RESPONSE_FINISH_REASONS",
    "GEN_AI_RESPONSE_ID",
    "GEN_AI_RESPONSE_MODEL",
    "GEN_AI_RETRIEVAL_DOCUMENTS",
    "GEN_AI_RETRIEVAL_QUERY_TEXT",
    "GEN_AI_SCHEMA_URL",
    "GEN_AI_SEMCONV_VERSION",
    "GEN_AI_TOOL_CALL_ARGUMENTS",
    "GEN_AI_TOOL_CALL_ID",
    "GEN_AI_TOOL_CALL_RESULT",
    "GEN_AI_TOOL_NAME",
    "GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS",
    "GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS",
    "GEN_AI_USAGE_INPUT_TOKENS",
    "GEN_AI_USAGE_OUTPUT_TOKENS",
    "GEN_AI_USAGE_REASONING_OUTPUT_TOKENS",
    "GEN_AI_WORKFLOW_NAME",
    "INPUTS",
    "INPUT_MIME_TYPE",
    "INPUT_VALUE",
    "INTERRUPT",
    "INTERRUPTED",
    "KIND_AGENT",
    "KIND_CHAIN",
    "KIND_LLM",
    "KIND_RETRIEVER",
    "KIND_TOOL",
    "LLM_INPUT_MESSAGES",
    "LLM_INVOCATION_PARAMETERS",
    "LLM_MODEL_NAME",
    "LLM_OUTPUT_MESSAGES",
    "LLM_PROMPTS",
    "LLM_PROVIDER",
    "LLM_TOKEN_COUNT_COMPLETION",
    "LLM_TOKEN_COUNT_COMPLETION_REASONING",
    "LLM_TOKEN_COUNT_PROMPT",
    "LLM_TOKEN_COUNT_PROMPT_CACHE_READ",
    "LLM_TOKEN_COUNT_PROMPT_CACHE_WRITE",
    "LLM_TOKEN_COUNT_TOTAL",
    "MESSAGE_CONTENT",
    "MESSAGE_ROLE",
    "MESSAGE_TOOL_CALLS",
    "MESSAGE_TOOL_CALL_ID",
    "METADATA",
    "OPENINFERENCE_SPAN_KIND",
    "OPENINFERENCE_VERSION",
    "OP_CHAIN",
    "OP_CHAT",
    "OP_EXECUTE_TOOL",
    "OP_INVOKE_AGENT",
    "OP_INVOKE_WORKFLOW",
    "OP_RETRIEVAL",
    "OP_TEXT_COMPLETION",
    "OUTPUTS",
    "OUTPUT_MIME_TYPE",
    "OUTPUT_VALUE",
    "PARENT_RUN_ID",
    "RETRIEVAL_DOCUMENTS",
    "RUN_ID",
    "RUN_METADATA",
    "RUN_TYPE",
    "SESSION_ID",
    "TAGS",
    "TAG_TAGS",
    "TOOL_CALL_FUNCTION_ARGUMENTS",
    "TOOL_CALL_FUNCTION_NAME",
    "TOOL_CALL_ID",
    "TOOL_NAME",
    "UNFINISHED",
]
