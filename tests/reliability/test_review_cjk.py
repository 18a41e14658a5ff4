"""Adversarial review of the CJK key words (commit fae2489), through real handlers on real
langchain-core runnables.

* A user's own key word of a cased script (``Redactor(keys=["ключ"])``) written in another
  case (``КЛЮЧ``, ``Ключ``): the quick check on serialized JSON lowercases ASCII bytes only,
  so it passed such a blob as clean although the text rules mask it (the whole value leaked
  from inputs, metadata and tags).
* An unclosed CJK quote after a key (``密码\\uff1a「`` repeated): every pair on the line looked for
  its close quote to the line's end, quadratic in the text (20 s for 100k characters).
* A CJK key written as ``json.dumps`` writes it by default (``{"\\u5bc6\\u7801": ...}``): not
  a key word, the value stayed (fixed: the escaped forms are key words too).
"""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from loguru import logger as loguru_logger
from test_trust_secrets import _Keep

from chainsink import (
    Event,
    FileCallbackHandler,
    LoggingCallbackHandler,
    LoguruCallbackHandler,
    StdOutCallbackHandler,
    StructlogCallbackHandler,
)
from chainsink.processors import Redactor

# -- sinks: (handler, a reader of everything the sink received) ------------------------------


def _jsonl(tmp: Path, capsys: pytest.CaptureFixture[str], keys: list[str]) -> Any:
    path = tmp / "run.jsonl"
    handler = FileCallbackHandler(path, format="jsonl", processors=[Redactor(keys=keys)])

    def read() -> str:
        handler.close()
        lines = path.read_text(encoding="utf-8").splitlines()
        tokens = [json.loads(line).get("token") for line in lines]
        return "\n".join(lines) + "\n" + "".join(t for t in tokens if isinstance(t, str))

    return handler, read


def _text(tmp: Path, capsys: pytest.CaptureFixture[str], keys: list[str]) -> Any:
    path = tmp / "run.log"
    handler = FileCallbackHandler(path, format="text", processors=[Redactor(keys=keys)])

    def read() -> str:
        handler.close()
        return path.read_text(encoding="utf-8")

    return handler, read


def _stdout(tmp: Path, capsys: pytest.CaptureFixture[str], keys: list[str]) -> Any:
    capsys.readouterr()
    return (StdOutCallbackHandler(style="detailed", processors=[Redactor(keys=keys)]),
            lambda: capsys.readouterr().out)


def _loguru(tmp: Path, capsys: pytest.CaptureFixture[str], keys: list[str]) -> Any:
    messages: list[str] = []
    sink_id = loguru_logger.add(messages.append, serialize=True, level=0)

    def read() -> str:
        loguru_logger.remove(sink_id)
        return "\n".join(map(str, messages))

    return LoguruCallbackHandler(processors=[Redactor(keys=keys)]), read


def _structlog(tmp: Path, capsys: pytest.CaptureFixture[str], keys: list[str]) -> Any:
    out = io.StringIO()
    slog = structlog.wrap_logger(structlog.PrintLogger(out),
                                 processors=[structlog.processors.JSONRenderer()])
    return StructlogCallbackHandler(slog, processors=[Redactor(keys=keys)]), out.getvalue


def _logging(tmp: Path, capsys: pytest.CaptureFixture[str], keys: list[str]) -> Any:
    std = logging.getLogger(f"test.review.cjk.{uuid.uuid4().hex}")
    std.setLevel(1)
    std.propagate = False
    keep = _Keep()
    std.addHandler(keep)

    def read() -> str:
        std.removeHandler(keep)
        return "\n".join(r.getMessage() + "\n" + repr(vars(r)) for r in keep.records)

    return LoggingCallbackHandler(std, processors=[Redactor(keys=keys)]), read


SINKS: dict[str, Callable[..., Any]] = {
    "JSONL file": _jsonl, "text file": _text, "detailed stdout": _stdout, "loguru": _loguru,
    "structlog": _structlog, "stdlib logging": _logging,
}


@tool
def lookup(query: str) -> str:
    """Look a record up (takes one string)."""
    return "found"


# -- a user's key word of a cased script, in another case --------------------------------------

CASED = {  # where the value stands -> the password planted there
    "input key": "Cyr-input-pass-1111",
    "metadata key": "Cyr-meta-pass-2222",
    "pair in a tag": "Cyr-tag-pass-3333",
    "JSON tool input": "Cyr-tool-pass-4444",
    "pair in the prompt": "Cyr-prompt-pass-5555",
}


def cased_key_workload(handler: Any) -> list[str]:
    """An LCEL chain and a tool whose inputs, metadata and tags name passwords with the user's
    key word ``ключ`` written ``КЛЮЧ`` / ``Ключ``."""
    model = GenericFakeChatModel(messages=iter([AIMessage(content="ok")]))
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()
    chain.invoke({"q": f"Ключ={CASED['pair in the prompt']}", "КЛЮЧ": CASED["input key"]},
                 config={"callbacks": [handler], "metadata": {"Ключ": CASED["metadata key"]},
                         "tags": [f"КЛЮЧ: {CASED['pair in a tag']}"]})
    lookup.invoke(json.dumps({"КЛЮЧ": CASED["JSON tool input"]}, ensure_ascii=False),
                  config={"callbacks": [handler]})
    return list(CASED.values())


@pytest.mark.parametrize("sink", list(SINKS))
def test_a_users_cased_key_word_is_masked_in_any_case(
        sink: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    handler, read = SINKS[sink](tmp_path, capsys, ["ключ"])
    secrets = cased_key_workload(handler)
    out = read()
    assert out, "nothing was written"
    leaked = [s for s in secrets if s in out]
    assert not leaked, f"{sink}: {leaked}"


@pytest.mark.parametrize("key", ["ключ", "Schlüssel", "κλειδί"])
@pytest.mark.parametrize("written", [str.upper, str.title, str.lower])
def test_the_quick_check_finds_a_cased_key_word_in_any_case(
        key: str, written: Callable[[str], str]) -> None:
    """Whatever the text rules mask, the quick check on the serialized JSON sees too."""
    redactor = Redactor(keys=[key])
    name = written(key)
    for data in ({"inputs": {name: "hunter2pass"}}, {"inputs": {"q": f"{name}=hunter2pass"}},
                 {"inputs": {"q": f'{{"{name}": "hunter2pass"}}'}}):
        assert redactor._has_secret(orjson.dumps(data)), data
        event = Event("chain_start", 0.0, uuid.uuid4(), None, uuid.uuid4(), 0, "C", "chain",
                      [], {}, data)
        assert "hunter2pass" not in json.dumps(Redactor(keys=[key])(event).data)  # type: ignore


def test_the_default_keys_keep_the_ascii_fast_path() -> None:
    """No default key word has case beyond ASCII: the regex for cased words is not built."""
    rules = Redactor()._keys
    assert rules._wide_cased is None
    assert Redactor(keys=["ключ"])._keys._wide_cased is not None


# -- unclosed CJK quotes: linear time ----------------------------------------------------------

UNCLOSED = {
    "CJK colon, corner bracket": lambda n: ("密码\uff1a「" * n)[:n],
    "CJK colon, white corner bracket": lambda n: ("密码\uff1a『" * n)[:n],
    "CJK colon, curly quote": lambda n: ("密码\uff1a\u201c" * n)[:n],
    "ASCII key, corner bracket": lambda n: ("password: 「" * n)[:n],
}


def _mask_cost(text: str) -> float:
    event = Event("chain_start", 0.0, uuid.uuid4(), None, uuid.uuid4(), 0, "C", "chain", [], {},
                  {"inputs": {"q": text}})
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        Redactor()(event)
        best = min(best, time.process_time() - start)
    return max(best, 1e-6)


@pytest.mark.parametrize("kind", list(UNCLOSED))
def test_unclosed_cjk_quotes_are_masked_in_linear_time(kind: str) -> None:
    make = UNCLOSED[kind]
    small, large = _mask_cost(make(10_000)), _mask_cost(make(80_000))
    growth = (large / small) ** (1 / 3)  # per doubling, over three doublings
    assert growth < 2.8, f"{kind}: {small:.4f}s -> {large:.4f}s"
    assert large < 1.0, f"{kind}: {large:.2f}s for 80k characters"


def test_an_unclosed_cjk_quote_masks_the_rest_of_the_line(tmp_path: Path) -> None:
    """As an unclosed ASCII quote does: ``密码\\uff1a「hunter 2 pass`` keeps no word of the value,
    streamed one character per token or not."""
    text = "密码\uff1a「hunter 2 pass\n下一行"
    path = tmp_path / "run.jsonl"
    with FileCallbackHandler(path, format="jsonl") as handler:
        model = GenericFakeChatModel(messages=iter([AIMessage(content=text)]))
        list(model.stream("hi", config={"callbacks": [handler]}))
    out = path.read_text(encoding="utf-8")
    recs = [json.loads(line) for line in out.splitlines()]
    joined = "".join(r["token"] for r in recs if r["event"] == "llm_new_token")
    assert "pass" not in out and "hunter" not in out
    assert joined == "密码\uff1a「***\n下一行"


# -- a CJK key as json.dumps writes it (escaped) ---------------------------------------------


def test_a_cjk_key_in_json_dumps_default_output_is_masked(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with FileCallbackHandler(path, format="jsonl") as handler:
        lookup.invoke(json.dumps({"密码": "Esc-json-pass-7777"}), config={"callbacks": [handler]})
    assert "Esc-json-pass-7777" not in path.read_text(encoding="utf-8")
