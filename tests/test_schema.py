"""chainsink._schema is the one home of the record's shape: what the adapter writes follows it."""

from __future__ import annotations

from typing import Any

import pytest
import workloads
from langchain_core.callbacks.manager import dispatch_custom_event
from langchain_core.runnables import RunnableLambda

from chainsink import EVENT_KINDS, Event
from chainsink._schema import HEAD_KEYS, KIND_FIELDS, RUN_KEYS, parse_time, run_fields
from chainsink.testing import capture_events


def test_kind_fields_name_every_kind() -> None:
    """Every event kind has its fields listed, and nothing else is listed."""
    assert set(KIND_FIELDS) == set(EVENT_KINDS)


def test_run_keys_are_the_event_fields_between_ts_and_data() -> None:
    """The run keys come from Event itself, so a new field is a new key on every record."""
    assert Event._fields[2:-1] == RUN_KEYS
    assert HEAD_KEYS[:3] == ("v", "ts", "event") and HEAD_KEYS[3:] == RUN_KEYS


def _flaky() -> Any:
    attempts = {"n": 0}

    def step(x: Any) -> Any:
        dispatch_custom_event("progress", {"percent": 50})
        attempts["n"] += 1
        if attempts["n"] < 2:
            raise ValueError("first try fails")
        return x

    return RunnableLambda(step).with_retry(stop_after_attempt=2, wait_exponential_jitter=False)


WORKLOADS = {
    "agent": lambda: workloads.agent_executor([]),
    "llm_chain": lambda: workloads.llm_chain([]),
    "retriever": lambda: workloads.retriever_chain([]),
    "stream": lambda: workloads.stream_lcel([]),
    "error": lambda: workloads.error_chain([]),
    "retry_custom": lambda: _flaky().invoke(1),
}
#: Kinds each workload must produce, so the check covers them.
KINDS = {
    "agent": {"agent_action", "agent_finish", "tool_start", "tool_end", "llm_start", "llm_end"},
    "llm_chain": {"text", "chain_end"},
    "retriever": {"retriever_start", "retriever_end", "chat_model_start"},
    "stream": {"llm_new_token"},
    "error": {"chain_error"},
    "retry_custom": {"custom_event", "chain_error"},  # RunnableRetry sends no on_retry
}


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_records_carry_the_head_keys_then_only_their_kinds_fields(name: str) -> None:
    """Every record starts with HEAD_KEYS in order and carries no field its kind does not list."""
    with capture_events() as records:
        WORKLOADS[name]()
    assert KINDS[name] <= {record["event"] for record in records}
    for record in records:
        keys = list(record)
        assert tuple(keys[:len(HEAD_KEYS)]) == HEAD_KEYS, keys
        extra = set(keys[len(HEAD_KEYS):]) - set(KIND_FIELDS[record["event"]])
        assert not extra, (record["event"], extra)
        assert parse_time(record["ts"]) is not None


def test_run_fields_follow_run_keys() -> None:
    """run_fields(event) is the event's run keys in schema order."""
    with capture_events(processors=()) as records:
        RunnableLambda(lambda x: x).invoke(1, {"run_name": "r", "tags": ["t"]})
    record = records[0]
    assert [record[key] for key in RUN_KEYS][4:] == ["r", "chain", ["t"], {}]
    event = Event("chain_start", 0.0, *([None] * len(RUN_KEYS)), {})
    assert list(run_fields(event)) == list(RUN_KEYS)


def test_add_usage_sums_counts_and_keeps_the_token_details() -> None:
    """add_usage sums the token counts and, where reported, each input/output detail; a usage
    without details adds none."""
    from chainsink._schema import add_usage

    totals: dict[str, Any] = {}
    add_usage(totals, {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15})
    assert totals == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    add_usage(totals, {"input_tokens": 100, "output_tokens": 50, "total_tokens": 150,
                       "input_token_details": {"cache_read": 64, "audio": 0},
                       "output_token_details": {"reasoning": 20, "flag": True}})
    add_usage(totals, {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2,
                       "input_token_details": {"cache_read": 1, "cache_creation": 3}})
    assert totals == {"input_tokens": 111, "output_tokens": 56, "total_tokens": 167,
                      "input_token_details": {"cache_read": 65, "audio": 0,
                                              "cache_creation": 3},
                      "output_token_details": {"reasoning": 20}}


def test_llm_end_usage_keeps_the_details_the_model_reported() -> None:
    """An llm_end record's usage carries usage_metadata's input/output token details (summed
    over generations) when the model reports them, and only the counts when it does not."""
    from langchain_core.messages import AIMessage

    from chainsink.cli._workloads import ScriptedChatModel

    detailed = AIMessage(content="ok", usage_metadata={  # type: ignore[typeddict-item]
        "input_tokens": 100, "output_tokens": 40, "total_tokens": 140,
        "input_token_details": {"cache_read": 64, "cache_creation": 8},
        "output_token_details": {"reasoning": 30}})
    plain = AIMessage(content="ok", usage_metadata={
        "input_tokens": 1, "output_tokens": 2, "total_tokens": 3})
    with capture_events() as records:
        ScriptedChatModel(messages=iter([detailed, plain])).batch(["a", "b"])
    usages = sorted((r["usage"] for r in records if r["event"] == "llm_end"),
                    key=lambda u: u["total_tokens"])
    assert usages == [
        {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
        {"input_tokens": 100, "output_tokens": 40, "total_tokens": 140,
         "input_token_details": {"cache_read": 64, "cache_creation": 8},
         "output_token_details": {"reasoning": 30}}]


@pytest.mark.parametrize("odd", [float("nan"), float("inf"), "many", None, True, [3], "12"])
def test_add_usage_takes_odd_counts_as_zero_or_their_number(odd: Any) -> None:
    """A provider's odd count (NaN, infinity, text, a flag, a list) never raises (it would cost
    the llm_end record it is in): it counts 0, and a number written as text counts as that."""
    from chainsink._schema import add_usage

    totals: dict[str, Any] = {}
    add_usage(totals, {"input_tokens": odd, "output_tokens": 2, "total_tokens": odd,
                       "input_token_details": {"cache_read": odd if odd != "12" else 1.0}})
    expected = 12 if odd == "12" else 0
    assert totals["input_tokens"] == expected and totals["output_tokens"] == 2
    assert totals["total_tokens"] == expected
