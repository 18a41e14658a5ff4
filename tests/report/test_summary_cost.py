"""LogSummary prices each model call as it reads it: per model, per trace and in total, with
an unpriced call making every sum it is part of unknown (None), never 0."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage

import chainsink
from chainsink.cli._workloads import ScriptedChatModel
from chainsink.cost import Prices, decimal_cost
from chainsink.read import read_events
from chainsink.report import summarize

MODEL = "gpt-4o-mini-2024-07-18"
USAGE: dict[str, Any] = {"input_tokens": 1000, "output_tokens": 500, "total_tokens": 1500}


def record(path: Path, *replies: AIMessage) -> list[dict[str, Any]]:
    """One trace per reply of a fake chat model, recorded as JSONL; the records."""
    llm = ScriptedChatModel(messages=iter(replies))
    with chainsink.capture(path):
        for _ in replies:
            llm.invoke("hi")
    return list(read_events(path))


def test_a_call_that_reported_no_usage_makes_its_model_and_trace_unpriced(
        tmp_path: Path) -> None:
    """A known model's call without usage (a stream not asked for it) has no known cost: its
    model and trace are unpriced and the total unknown; the other trace keeps its cost."""
    recs = record(tmp_path / "run.jsonl",
                  AIMessage(content="a", usage_metadata=USAGE,  # type: ignore[arg-type]
                            response_metadata={"model_name": MODEL}),
                  AIMessage(content="b", response_metadata={"model_name": MODEL}))
    summary = summarize(recs, slowest=2)
    assert summary.cost_shown
    assert summary.cost_by_model == {MODEL: None}
    assert summary.cost_total is None
    assert summary.unpriced_models == [MODEL]
    one = decimal_cost(MODEL, USAGE)
    assert one is not None and one > 0
    assert summary.cost_priced == 0  # per model: the model is unpriced as a whole
    costs = sorted((t.cost is None, t.priced_cost) for t in summary.slowest())
    assert costs == [(False, one), (True, Decimal(0))]
    data = summary.to_dict()["cost"]
    assert data["total"] is None and data["unpriced_models"] == [MODEL]


def test_user_prices_come_first_and_cost_false_prices_nothing(tmp_path: Path) -> None:
    """Prices given to the summary override the table for their model; ``cost=False`` leaves
    every cost out."""
    recs = record(tmp_path / "run.jsonl",
                  AIMessage(content="a", usage_metadata=USAGE,  # type: ignore[arg-type]
                            response_metadata={"model_name": MODEL}))
    own = Prices({MODEL: {"input_mtok": 1, "output_mtok": 2}})
    summary = summarize(recs, prices=own)
    assert summary.cost_by_model == {MODEL: Decimal(2000) / Decimal(1_000_000)}
    assert summary.cost_dict()["user_prices"] is True
    off = summarize(recs, cost=False)
    assert off.pricer is None and off.cost_by_model == {} and not off.cost_shown


def test_to_dict_carries_each_models_cost_and_a_zero_total_without_calls(
        tmp_path: Path) -> None:
    """to_dict (what ``stats --json`` prints) puts each model's cost beside its tokens and
    each trace's in its own; a log without model calls costs 0, not an unknown."""
    recs = record(tmp_path / "run.jsonl",
                  AIMessage(content="a", usage_metadata=USAGE,  # type: ignore[arg-type]
                            response_metadata={"model_name": MODEL}))
    data = summarize(recs, slowest=1).to_dict()
    one = decimal_cost(MODEL, USAGE)
    assert one is not None
    assert data["tokens_by_model"][MODEL]["cost"] == float(one)
    assert data["slowest_traces"][0]["cost"] == float(one)
    assert data["cost"]["total"] == data["cost"]["priced"] == float(one)
    assert list(data["cost"]) == ["currency", "total", "priced", "unpriced_models",
                                  "price_table", "user_prices", "note"]
    empty = summarize([]).to_dict()["cost"]
    assert empty["total"] == 0.0 and empty["unpriced_models"] == [] and empty["note"] is None
