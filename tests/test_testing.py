"""chainsink.testing.capture_events: the records of a block's runs, for users' own tests."""

from __future__ import annotations

import asyncio

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda

import chainsink
from chainsink.testing import RecordList, capture_events


def _chain() -> object:
    model = GenericFakeChatModel(messages=iter([AIMessage(content="Paris is the capital")]))
    return ChatPromptTemplate.from_messages([("human", "{q}")]) | model


def test_records_are_the_jsonl_records_of_the_block(tmp_path) -> None:
    """The records equal, key for key, what a JSONL file of the same run holds (but ts)."""
    with capture_events() as records:
        _chain().invoke({"q": "capital of France?"})
    assert isinstance(records, RecordList)
    assert [r["event"] for r in records] == [
        "chain_start", "chain_start", "chain_end", "chat_model_start", "llm_end", "chain_end"]
    path = tmp_path / "same.jsonl"
    with chainsink.FileCallbackHandler(path, format="jsonl") as handler:
        _chain().invoke({"q": "capital of France?"}, config={"callbacks": [handler]})
    on_disk = list(chainsink.read_events(path))
    assert [list(r) for r in records] == [list(r) for r in on_disk]
    answer = records.of("llm_end")[0]["outputs"]["generations"][0][0]["text"]
    assert answer == "Paris is the capital"


def test_secrets_are_masked_as_in_a_log() -> None:
    """A test sees what a log would hold: the default processors run."""
    with capture_events() as records:
        RunnableLambda(lambda x: "ok").invoke({"api_key": "sk-live-0123456789abcdefghij"})
    assert "sk-live-0123456789abcdefghij" not in str(records)
    assert records.of("chain_start")[0]["inputs"]["api_key"] != "sk-live-0123456789abcdefghij"


def test_processors_none_records_values_as_given() -> None:
    """processors=() records events exactly as given."""
    with capture_events(processors=()) as records:
        RunnableLambda(lambda x: "ok").invoke({"api_key": "sk-live-0123456789abcdefghij"})
    assert records.of("chain_start")[0]["inputs"]["api_key"] == "sk-live-0123456789abcdefghij"


def test_only_runs_of_the_block_and_its_tasks() -> None:
    """Runs in tasks started inside the block are recorded; a run after it is not."""

    async def main() -> list[str]:
        with capture_events() as records:
            await asyncio.gather(*(RunnableLambda(lambda x: x).ainvoke(i, {"run_name": f"t{i}"})
                                   for i in range(3)))
        RunnableLambda(lambda x: x).invoke(0, {"run_name": "after"})
        return sorted(r["name"] for r in records.of("chain_end"))

    assert asyncio.run(main()) == ["t0", "t1", "t2"]
