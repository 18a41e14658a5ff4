"""Streaming an LCEL chain into a JSONL callback log, then reading the log back.

``prompt | GenericFakeChatModel | StrOutputParser`` is streamed with ``chain.stream(...)`` while a
``chainsink.FileCallbackHandler(path, format="jsonl")`` records every callback, one JSON object
per line: the chain and its three steps starting and ending, and one ``llm_new_token`` record per
streamed chunk. The script prints the chunks as they arrive, then reads the file back with
``json`` and prints a few records and a per-event count.

Run from the repository root (with chainsink installed, e.g. ``pip install -e .``)::

    python examples/06_lcel_stream_jsonl.py [OUTPUT_DIR]

The log goes to ``OUTPUT_DIR/stream.jsonl`` (a fresh temporary directory by default).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

import chainsink

ANSWER = (
    "Callbacks let you hook into every stage of an LLM application: "
    "logging, monitoring, streaming."
)

SHOWN_KEYS = (
    "event", "name", "run_type", "depth", "inputs", "messages", "outputs", "token", "duration_ms"
)


def summary(record: dict[str, object], width: int = 220) -> str:
    """A record's most telling keys as one JSON line (an end event's echoed inputs left out)."""
    keys = [k for k in SHOWN_KEYS if k in record]
    if str(record.get("event")).endswith("_end"):
        keys = [k for k in keys if k != "inputs"]
    text = json.dumps({k: record[k] for k in keys}, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 3] + "..."


def output_dir() -> Path:
    if len(sys.argv) > 1:
        path = Path(sys.argv[1])
        path.mkdir(parents=True, exist_ok=True)
        return path
    return Path(tempfile.mkdtemp(prefix="chainsink-example-"))


def main() -> None:
    log_path = output_dir() / "stream.jsonl"

    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are a concise assistant."), ("human", "What are {topic} good for?")]
    )
    model = GenericFakeChatModel(messages=iter([AIMessage(content=ANSWER)]))
    chain = prompt | model | StrOutputParser()

    print("streamed chunks:")
    with chainsink.FileCallbackHandler(str(log_path), mode="w", format="jsonl") as handler:
        chunks = []
        config = {"callbacks": [handler]}
        for chunk in chain.stream({"topic": "LangChain callbacks"}, config=config):
            chunks.append(chunk)
            print(f"[{chunk}]", end="", flush=True)
    print(f"\n\nanswer: {''.join(chunks)!r}")

    lines = log_path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    print(f"\n{len(records)} records in {log_path}; the first few, read back with json:")
    for record in records[:5]:
        print(f"  {summary(record)}")
    print("  ...")
    for record in records[-3:]:
        print(f"  {summary(record)}")

    print("\nrecords per event:")
    for kind, count in Counter(record.get("event") for record in records).most_common():
        print(f"  {kind:<16} {count}")
    tokens = "".join(r.get("token", "") for r in records if r.get("event") == "llm_new_token")
    print(f"\ntokens joined from the log == streamed answer: {tokens == ''.join(chunks)}")


if __name__ == "__main__":
    main()
