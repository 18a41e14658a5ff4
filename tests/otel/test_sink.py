"""SpanSink reads the live handler's events as their JSONL lines parse: odd events included."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from chainsink import Event
from chainsink.otel import SpanRecords, SpanSink
from chainsink.otel._records import FROM_EVENT

from ._spans import span_facts

ROOT = uuid.UUID("01a233a3-7d39-7302-bff0-0ecacf8579bd")
CHILD = uuid.UUID("01a233a3-7d39-7302-bff0-0ecacf8579be")
NOW = 1796162682.169749


def event(kind: str, run: uuid.UUID = ROOT, ts: float = NOW, **data: Any) -> Event:
    parent = None if run == ROOT else ROOT
    return Event(kind, ts, run, parent, ROOT, 0 if parent is None else 1,
                 data.pop("name", "thing"), data.pop("run_type", "chain"),
                 data.pop("tags", ["t"]), data.pop("metadata", {"ls_provider": "openai"}),
                 data)


class Custom:
    def __repr__(self) -> str:
        return "<custom>"


#: Event sequences: a root, and what happens under it.
CASES: dict[str, list[Event]] = {
    "late_model_end": [
        event("chain_start", inputs={"q": "x"}),
        event("llm_end", CHILD, run_type="llm", duration_ms=12.5, model="gpt-x",
              usage={"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
              outputs={"generations": [[{"text": "hi", "message": {
                  "type": "ai", "content": "hi", "response_metadata": {
                      "id": "r1", "finish_reason": "stop"}}}]]}),
        event("chain_end", ts=NOW + 1, outputs={"a": 1}, duration_ms=1000.0)],
    "late_tool_error_and_events": [
        event("chain_start", inputs={"q": "x"}, metadata={"session_id": 7, "x": Custom()}),
        event("retry", attempt=2, error={"type": "Timeout", "message": "slow"}),
        event("custom_event", event_name="progress", data={"pct": 50}),
        event("agent_action", tool="calc", tool_input="1+1", log="..."),
        event("tool_error", CHILD, run_type="tool", duration_ms=2.0,
              error={"type": "ValueError", "message": "bad", "traceback": "Traceback ..."}),
        event("chain_error", ts=NOW + 0.0000005,
              error={"type": "CancelledError", "message": ""}, interrupted=True,
              interrupt="cancelled")],
    "odd_times_and_values": [
        event("chain_start", ts=NOW + 0.9999996, inputs={"q": Custom()}, tags=["a", 3]),
        event("retriever_start", CHILD, ts=float(int(NOW)), run_type="retriever",
              query="where"),
        event("retriever_end", CHILD, ts=NOW + 2, run_type="retriever",
              outputs={"documents": [{"page_content": "d", "metadata": {"id": 1}}]}),
        event("chain_end", ts=NOW + 3, outputs={"a": [1, 2]}, duration_ms=3.0)],
    # times the adapter never stamps: they take the line's own path
    "before_1970_and_past_9999": [
        event("chain_start", ts=-5.0),
        event("tool_start", CHILD, ts=1e12, run_type="tool", input_str="x"),
        event("tool_end", CHILD, ts=-4.5, run_type="tool", outputs="y", duration_ms=1.0),
        event("chain_end", ts=-4.0, duration_ms=1000.0)],
}


@pytest.mark.parametrize("content", [False, True])
@pytest.mark.parametrize("case", list(CASES))
def test_events_and_their_lines_make_the_same_spans(case: str, content: bool) -> None:
    """A sink given events makes the spans a sink given their JSONL lines makes."""
    got = []
    for render in (False, True):
        exporter = InMemorySpanExporter()
        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        sink = SpanSink(provider, capture_content=content,
                        conventions=("gen_ai", "openinference"))
        records = SpanRecords(render=render)
        for item in CASES[case]:
            text = records(item)
            assert (text is FROM_EVENT) is not render
            sink.write(text, item)
        assert sink.open_runs == 0
        got.append(sorted((span_facts(s) for s in exporter.get_finished_spans()), key=repr))
    assert got[0] and got[0] == got[1]
