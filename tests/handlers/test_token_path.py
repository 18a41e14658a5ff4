"""Streamed tokens take a shortcut (no event per token) only when it records the same line.

A JSONL file handler renders a plain string token of a known run straight to bytes when every
processor states that such a token passes it unchanged (``token_rule``). These tests stream real
chains through that shortcut and through the full path (a sink without ``write_bytes``) and
check the records agree, and that every case the shortcut must not take still goes the full way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from chainsink import CallbackHandler, Event, FileCallbackHandler, read_events
from chainsink.formatters import JsonlFormatter
from chainsink.processors import Redactor, Truncator

OPENAI_KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"


class CountingJsonl(JsonlFormatter):
    """A JSONL formatter that counts the token events it renders one by one."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens_rendered = 0

    def render_bytes(self, event: Event) -> bytes:  # what __call__ renders through
        if event.event == "llm_new_token":
            self.tokens_rendered += 1
        return super().render_bytes(event)


def stream(answer: str, handlers: list[Any], metadata: dict[str, Any] | None = None) -> str:
    model = GenericFakeChatModel(messages=iter([AIMessage(content=answer)]))
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()
    config: dict[str, Any] = {"callbacks": handlers, "tags": ["100% done", "ünï"],
                              "metadata": metadata or {"team": "50%s", "emoji": "🚀"}}
    return "".join(chain.stream({"q": "go"}, config=config))


def records(path: Path) -> list[dict[str, Any]]:
    return list(read_events(path))


def untimed(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records without what differs between two handlers on one run: the clock."""
    return [{k: v for k, v in r.items() if k not in ("ts", "duration_ms")} for r in recs]


def test_shortcut_lines_equal_the_full_path(tmp_path: Path) -> None:
    """Same records, same order, whichever way tokens went; the shortcut was really taken."""
    answer = 'alpha "quoted" \\ back\tslash ünïcode 🚀 %s %d end'
    path = tmp_path / "fast.jsonl"
    fast_formatter = CountingJsonl()
    slow_formatter = CountingJsonl()
    slow_lines: list[str] = []
    with CallbackHandler(path, fast_formatter) as fast:
        result = stream(answer, [fast, CallbackHandler(slow_lines.append, slow_formatter)])
    assert result == answer
    fast_recs = records(path)
    slow_recs = [json.loads(line) for line in slow_lines]
    tokens = [r["token"] for r in fast_recs if r["event"] == "llm_new_token"]
    assert "".join(tokens) == answer and len(tokens) > 10
    assert untimed(fast_recs) == untimed(slow_recs)
    # the file handler took the shortcut, but for the last word, held until the run's end
    assert fast_formatter.tokens_rendered <= 1
    assert slow_formatter.tokens_rendered == len(tokens)  # a plain callable sink did not
    for line in path.read_text(encoding="utf-8").splitlines():
        assert line.startswith('{"v":1,"ts":"') and line.endswith("}")


def test_secret_in_a_token_is_masked(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with FileCallbackHandler(path, format="jsonl") as handler:
        stream(f"my key is {OPENAI_KEY} ok", [handler])
    text = path.read_text(encoding="utf-8")
    assert OPENAI_KEY not in text
    tokens = [r["token"] for r in records(path) if r["event"] == "llm_new_token"]
    assert "*** " in tokens and "ok" in tokens


def test_long_token_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    word = "x" * 1500
    with FileCallbackHandler(path, format="jsonl",
                             processors=[Redactor(), Truncator(max_chars=1000)]) as handler:
        stream(f"short {word} tail", [handler])
    tokens = [r["token"] for r in records(path) if r["event"] == "llm_new_token"]
    assert "short " in tokens and "tail" in tokens  # each record ends with a finished word
    assert "x" * 1000 + "...[truncated 501 chars]" in tokens
    assert word not in tokens


def test_secret_metadata_sends_the_run_the_full_way(tmp_path: Path) -> None:
    """A run whose metadata holds a secret is masked on every token line too."""
    path = tmp_path / "t.jsonl"
    with FileCallbackHandler(path, format="jsonl") as handler:
        stream("one two three", [handler], metadata={"api_key": "meta-secret-4242"})
    text = path.read_text(encoding="utf-8")
    assert "meta-secret-4242" not in text
    token_recs = [r for r in records(path) if r["event"] == "llm_new_token"]
    assert [r["token"] for r in token_recs] == ["", "one ", "", "two ", "three"]
    assert all(r["metadata"]["api_key"] == "***" for r in token_recs)


def test_processors_without_a_token_rule_see_every_token(tmp_path: Path) -> None:
    seen: list[str] = []

    def spy(event: Event) -> Event:
        if event.event == "llm_new_token":
            seen.append(event.data["token"])
        return event

    def drop_tokens(event: Event) -> Event | None:
        return None if event.event == "llm_new_token" else event

    path = tmp_path / "spy.jsonl"
    with FileCallbackHandler(path, format="jsonl",
                             processors=[Redactor(), Truncator(), spy]) as handler:
        stream("a b c", [handler])
    assert "".join(seen) == "a b c"
    dropped = tmp_path / "dropped.jsonl"
    with FileCallbackHandler(dropped, format="jsonl", processors=[drop_tokens]) as handler:
        stream("a b c", [handler])
    kinds = [r["event"] for r in records(dropped)]
    assert "llm_new_token" not in kinds and "llm_end" in kinds


def test_mask_and_hidden_outputs_apply_to_tokens(tmp_path: Path) -> None:
    masked = tmp_path / "mask.jsonl"
    with FileCallbackHandler(masked, format="jsonl", processors=[
            Redactor(mask=lambda s: s.replace("bob", "[user]"))]) as handler:
        stream("hi bob bye", [handler])
    tokens = [r["token"] for r in records(masked) if r["event"] == "llm_new_token"]
    assert "[user] " in tokens and "bob" not in "".join(tokens)
    hidden = tmp_path / "hidden.jsonl"
    with FileCallbackHandler(hidden, format="jsonl",
                             processors=[Redactor(hide_outputs=True)]) as handler:
        stream("hi bob bye", [handler])
    tokens = [r["token"] for r in records(hidden) if r["event"] == "llm_new_token"]
    assert tokens and set(tokens) == {"[hidden]"}


def test_tokens_orjson_refuses_and_non_string_tokens_are_recorded(tmp_path: Path) -> None:
    """A lone surrogate and a list of content blocks take the full path and still get a line."""
    import uuid

    path = tmp_path / "odd.jsonl"
    with FileCallbackHandler(path, format="jsonl") as handler:
        run_id = uuid.uuid4()
        handler.on_llm_start({"name": "m"}, ["p"], run_id=run_id)
        handler.on_llm_new_token("ok", run_id=run_id)
        handler.on_llm_new_token("bad \ud800 half", run_id=run_id)
        handler.on_llm_new_token([{"type": "text", "text": "block"}], run_id=run_id)
        handler.on_llm_new_token("unknown run", run_id=uuid.uuid4())
    tokens = [r["token"] for r in records(path) if r["event"] == "llm_new_token"]
    # one record per token, each a token late and up to its finished word: "ok" waits for
    # "bad \ud800 ", the held "half" goes on into the block's text; the records still held
    # when the handler closes (the block, the unknown run's) are written by close()
    assert tokens[0] == ""
    assert tokens[1].startswith("okbad ") and tokens[1].endswith(" ")
    assert tokens[2] == [{"type": "text", "text": "halfblock"}]
    assert tokens[3] == "unknown run"


def test_rotating_file_takes_token_lines_whole(tmp_path: Path) -> None:
    """Token lines written as bytes count toward rotation and are never split."""
    from chainsink import RotatingFileCallbackHandler

    path = tmp_path / "rot.jsonl"
    with RotatingFileCallbackHandler(path, max_bytes=4000, backup_count=50) as handler:
        stream(" ".join(f"w{i}" for i in range(60)), [handler])
    files = [path, *sorted(tmp_path.glob("rot.jsonl.*"))]
    assert len(files) > 3
    tokens = []
    for file in files:
        assert file.stat().st_size <= 4000
        for line in file.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if rec["event"] == "llm_new_token":
                tokens.append(rec)
    assert len(tokens) == 119  # one record per token


def test_a_reused_run_id_gets_its_new_run_fields(tmp_path: Path) -> None:
    """One UUID object reused for a second run (a user-supplied run_id): its tokens carry the
    second run's metadata and secrets in it are masked, not the first run's shortcut."""
    import uuid

    path = tmp_path / "reused.jsonl"
    run_id = uuid.uuid4()
    with FileCallbackHandler(path, format="jsonl") as handler:
        for metadata in ({"team": "first"}, {"team": "second"}, {"api_key": "meta-secret-9"}):
            handler.on_llm_start({"name": "m"}, ["p"], run_id=run_id, metadata=metadata)
            handler.on_llm_new_token("tok", run_id=run_id)
            handler.on_llm_end(None, run_id=run_id)
    tokens = [r for r in records(path) if r["event"] == "llm_new_token"]
    assert [r["metadata"] for r in tokens] == [
        {"team": "first"}, {"team": "second"}, {"api_key": "***"}]
    assert "meta-secret-9" not in path.read_text(encoding="utf-8")


def test_a_sink_refusing_tokens_is_asked_once_per_streamed_run() -> None:
    """A sink that takes no tokens now (a logger at INFO) is asked at a run's first token (and
    after another run starts in between), not at each of its tokens; every other event is
    still asked about, and a new run asks again."""
    from chainsink.sinks import Sink

    class NoTokens(Sink):
        def __init__(self) -> None:
            self.asked: list[str] = []
            self.lines: list[str] = []

        def accepts(self, kind: str) -> bool:
            self.asked.append(kind)
            return kind != "llm_new_token"

        def write(self, text: str, event: Any = None) -> None:
            self.lines.append(text)

        def flush(self) -> None:
            pass

        def close(self) -> None:
            pass

    sink = NoTokens()
    handler = CallbackHandler(sink, JsonlFormatter())
    words = " ".join(f"word{i}" for i in range(40))
    model = GenericFakeChatModel(messages=iter([AIMessage(content=words)] * 2))
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()
    for _ in range(2):
        assert "".join(chain.stream({"q": "go"}, config={"callbacks": [handler]})) == words
    handler.close()
    # at the run's first token, and again after the parser's run started in between: not at
    # each of the 80 tokens
    assert 2 <= sink.asked.count("llm_new_token") <= 4
    kinds = [json.loads(line)["event"] for line in sink.lines]
    assert "llm_new_token" not in kinds
    assert kinds.count("llm_end") == 2 and kinds.count("chat_model_start") == 2


def test_a_subclass_overriding_call_or_write_is_called_for_every_record(tmp_path: Path) -> None:
    """Shortcuts (token lines, records as bytes) are taken only where the class offering them
    also defines what they stand for: a formatter subclass overriding ``__call__`` and a file
    sink subclass overriding ``write`` see every record, streamed tokens included."""
    from chainsink.sinks import FileSink

    class Upper(JsonlFormatter):
        def __call__(self, event: Event) -> str:
            return super().__call__(event).replace("alpha", "ALPHA")

    class Lower(FileSink):
        def write(self, text: str, event: Any = None) -> None:
            super().write(text.replace("bravo", "BRAVO"), event)

    answer = "alpha bravo alpha bravo"
    first, second = tmp_path / "f.jsonl", tmp_path / "s.jsonl"
    with CallbackHandler(first, Upper()) as one, CallbackHandler(Lower(second),
                                                                  JsonlFormatter()) as two:
        stream(answer, [one, two])
    assert "alpha" not in first.read_text(encoding="utf-8")
    assert "bravo" not in second.read_text(encoding="utf-8")
    tokens = [r["token"] for r in records(first) if r["event"] == "llm_new_token"]
    assert "".join(tokens) == answer.replace("alpha", "ALPHA")
