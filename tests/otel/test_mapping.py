"""The record-to-span mapping, called on records: ids, times, statuses, odd records."""

from __future__ import annotations

from typing import Any

import pytest

from chainsink.otel import attributes as A
from chainsink.otel._mapping import SpanMapper, span_id_of, ts_ns, uuid_int

RUN = "01a233a3-7d39-7302-bff0-0ecacf8579bd"


def record(event: str, **data: Any) -> dict[str, Any]:
    return {"v": 1, "ts": "2026-12-01T22:04:42.169749Z", "event": event, "run_id": RUN,
            "parent_run_id": None, "trace_id": RUN, "depth": 0, "name": "thing",
            "run_type": data.pop("run_type", "chain"), "tags": [], "metadata": {}, **data}


def test_timestamps_are_exact_to_the_microsecond() -> None:
    """RFC 3339 times become exact integer nanoseconds (no float rounding), any offset."""
    assert ts_ns("2026-12-01T22:04:42.169749Z") == 1796162682169749000
    assert ts_ns("2026-12-01T23:04:42.169749+01:00") == 1796162682169749000
    assert ts_ns("2026-12-01T22:04:42Z") == 1796162682000000000
    for bad in ("yesterday", "2026-12-01T22:04:42", None, 5):
        assert ts_ns(bad) is None


def test_ids_from_run_ids() -> None:
    """A span id is the run id's low 64 bits (its high bits when those are zero)."""
    run = uuid_int(RUN)
    assert run == 0x01a233a37d397302bff00ecacf8579bd
    assert span_id_of(run) == 0xbff00ecacf8579bd
    assert span_id_of(0x1234 << 64) == 0x1234
    assert uuid_int("not-a-uuid") is None and uuid_int(None) is None


def test_interrupted_aborted_and_failed_ends() -> None:
    """An interrupt is not an error; an abort and a failure are, with error.type."""
    mapper = SpanMapper(capture_content=False, openinference=False)
    span = mapper.start(record("chain_start"), uuid_int(RUN) or 0, 1, None)
    stopped = mapper.end(record("chain_error", error={"type": "CancelledError", "message": ""},
                                interrupted=True, interrupt="cancelled"), span, 2)
    assert stopped.error is None and stopped.attributes == {
        A.INTERRUPTED: True, A.INTERRUPT: "cancelled"}
    aborted = mapper.end(record("chain_error", error={"type": "Aborted", "message": "exit"},
                                aborted=True), span, 2)
    assert aborted.error == "Aborted: exit" and aborted.attributes[A.ABORTED] is True
    failed = mapper.end(record("chain_error", error={"type": "ValueError", "message": "boom",
                                                     "traceback": "Traceback ..."}), span, 2)
    assert failed.error == "ValueError: boom"
    assert failed.events[0].attributes[A.EXCEPTION_STACKTRACE] == "Traceback ..."


@pytest.mark.parametrize("content", [False, True])
def test_a_text_completion_with_provider_and_request_parameters(content: bool) -> None:
    """An LLM start names the operation and model, maps ls_provider to the conventions' name
    and takes the request's parameters; its prompts only with content."""
    mapper = SpanMapper(capture_content=content, openinference=False)
    rec = record("llm_start", run_type="llm", prompts=["Say hi"],
                 invocation_params={"model_name": "gpt-x", "temperature": 0.2, "top_p": 1,
                                    "stop": ["\n"]},
                 metadata={"ls_provider": "azure", "ls_max_tokens": 64})
    span = mapper.start(rec, uuid_int(RUN) or 0, 1, None)
    assert span.name == "text_completion gpt-x" and span.kind == "client"
    assert span.attributes[A.GEN_AI_PROVIDER_NAME] == "azure.ai.openai"
    assert span.attributes[A.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert span.attributes[A.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert span.attributes[A.GEN_AI_REQUEST_STOP_SEQUENCES] == ["\n"]
    assert (A.GEN_AI_INPUT_MESSAGES in span.attributes) is content
    end = mapper.end(record("llm_end", run_type="llm", outputs={"generations": [[{
        "text": "hi", "generation_info": {"finish_reason": "length"}}]], "llm_output": None},
        usage=None, model=None), span, 2)
    assert end.attributes[A.GEN_AI_RESPONSE_FINISH_REASONS] == ["length"]
    assert end.name is None


def test_a_tool_call_id_inside_a_command() -> None:
    """A tool returning a LangGraph Command: the call id comes from its ToolMessage."""
    mapper = SpanMapper(capture_content=False, openinference=False)
    span = mapper.start(record("tool_start", run_type="tool", input_str="x"),
                        uuid_int(RUN) or 0, 1, None)
    end = mapper.end(record("tool_end", run_type="tool", outputs={"update": {"messages": [
        {"type": "tool", "content": "ok", "tool_call_id": "call_9"}]}, "goto": []}), span, 2)
    assert end.attributes[A.GEN_AI_TOOL_CALL_ID] == "call_9"


@pytest.mark.parametrize("kind", sorted(SpanMapper(capture_content=False,
                                                   openinference=True).data_free))
def test_kinds_mapped_without_their_fields_read_none_of_them(kind: str) -> None:
    """Without content, the kinds the live handler maps from ``event`` and run keys alone
    (their own fields unread) map to the same span with or without those fields."""
    mapper = SpanMapper(capture_content=False, openinference=True)
    fields: dict[str, Any] = {
        "inputs": {"q": "x"}, "outputs": {"documents": [{"page_content": "d", "id": "1"}]},
        "query": "what", "return_values": {"output": "y"}, "log": "thought", "prompts": ["p"],
        "defers_inputs": True, "duration_ms": 5.0, "usage_by_model": {"m": {}}}
    full, bare = record(kind, **fields), record(kind)

    def mapped(rec: dict[str, Any]) -> Any:
        if kind.endswith("_start"):
            span = mapper.start(rec, uuid_int(RUN) or 0, 1, None)
            return span.name, span.kind, span.operation, span.attributes
        if kind.endswith("_end"):
            start = mapper.start(record(kind.replace("_end", "_start")), uuid_int(RUN) or 0, 1,
                                 None)
            end = mapper.end(rec, start, 2)
            return end.attributes, end.error, end.name, [e.name for e in end.events]
        found = mapper.event(rec, 2)
        return found and (found.name, found.attributes)

    assert mapped(full) == mapped(bare)
    assert not SpanMapper(capture_content=True, openinference=False).data_free
