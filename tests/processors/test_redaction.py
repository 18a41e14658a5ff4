"""Secrets and sizes are handled before any sink: masked and capped in every output."""

from __future__ import annotations

import io
import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
import structlog
import workloads
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from loguru import logger as loguru_logger

from chainsink import (
    CallbackHandler,
    FileCallbackHandler,
    LoggingCallbackHandler,
    LoguruCallbackHandler,
    StdOutCallbackHandler,
    StructlogCallbackHandler,
)
from chainsink.processors import Redactor, Truncator

OPENAI_KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
META_KEY = "meta-secret-value-4242"


def run_with_secret(handlers: list[Any]) -> str:
    model = GenericFakeChatModel(messages=iter([AIMessage(content="noted")]))
    chain = ChatPromptTemplate.from_messages([("human", "use key {key} for {q}")]) | model | \
        StrOutputParser()
    return chain.invoke({"key": OPENAI_KEY, "q": "weather"},
                        config={"callbacks": handlers, "metadata": {"api_key": META_KEY}})


def assert_clean(text: str) -> None:
    assert text, "nothing was written"
    assert OPENAI_KEY not in text and META_KEY not in text
    assert "***" in text


def test_jsonl_masks_secrets(tmp_path: Path) -> None:
    """JSONL: the key in a prompt variable and metadata api_key are masked."""
    path = tmp_path / "r.jsonl"
    with FileCallbackHandler(path, format="jsonl") as h:
        assert run_with_secret([h]) == "noted"
    text = path.read_text()
    assert_clean(text)
    assert any(json.loads(line)["metadata"].get("api_key") == "***"
               for line in text.splitlines())


def test_detailed_console_masks_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    """The detailed console shows the prompt with the key masked."""
    run_with_secret([StdOutCallbackHandler(style="detailed")])
    out = capsys.readouterr().out
    assert_clean(out)
    assert "use key *** for weather" in out


def test_loguru_masks_secrets(tmp_path: Path) -> None:
    """loguru records (message and extra) carry no secret."""
    path = tmp_path / "l.jsonl"
    sink = loguru_logger.add(path, serialize=True)
    try:
        run_with_secret([LoguruCallbackHandler()])
    finally:
        loguru_logger.remove(sink)
    assert_clean(path.read_text())


def test_structlog_and_logging_mask_secrets() -> None:
    """structlog key-values and stdlib LogRecord attributes carry no secret."""
    out = io.StringIO()
    slog = structlog.wrap_logger(structlog.PrintLogger(out),
                                 processors=[structlog.processors.JSONRenderer()])
    stream = io.StringIO()
    std = logging.getLogger("test.redaction")
    std.setLevel(logging.INFO)
    std.propagate = False
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s %(metadata)s %(inputs)s"))
    std.addHandler(handler)
    try:
        run_with_secret([StructlogCallbackHandler(slog), LoggingCallbackHandler(std)])
    finally:
        std.handlers.clear()
    assert_clean(out.getvalue())
    assert_clean(stream.getvalue())


def test_token_counts_and_streamed_tokens_are_not_masked() -> None:
    """Usage counts (total_tokens ...) and streamed tokens are kept; only secrets go."""
    lines: list[str] = []
    model = workloads.UsageFakeChatModel(messages=iter([AIMessage(
        content="plain words", usage_metadata={"input_tokens": 3, "output_tokens": 2,
                                               "total_tokens": 5})]))
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model
    for _ in chain.stream({"q": "x"}, config={"callbacks": [CallbackHandler(lines.append)]}):
        pass
    recs = [json.loads(line) for line in lines]
    # each record carries the text up to the last finished word (the rest comes next)
    assert [r["token"] for r in recs if r["event"] == "llm_new_token"] == [
        "", "plain ", "words"]
    end = next(r for r in recs if r["event"] == "llm_end")
    assert end["usage"]["total_tokens"] == 5


def test_redaction_is_configurable() -> None:
    """Extra patterns, a mask callable, hiding inputs, and opting out all work."""
    lines: list[str] = []
    custom = Redactor(patterns=[r"cust-\d+"], mask=lambda s: s.replace("bob", "[user]"),
                      hide_outputs=True)
    model = GenericFakeChatModel(messages=iter([AIMessage(content="hello bob")]))
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()
    chain.invoke({"q": "cust-123 is bob"},
                 config={"callbacks": [CallbackHandler(lines.append, processors=[custom])]})
    text = "".join(lines)
    assert "cust-123" not in text and "bob" not in text and "[hidden]" in text
    raw: list[str] = []
    run_with_secret([CallbackHandler(raw.append, processors=())])  # opted out
    assert OPENAI_KEY in "".join(raw)


def test_five_megabyte_input_is_truncated(tmp_path: Path) -> None:
    """A 5 MB input leaves every log line under 1 MB with a marker; the result is unchanged."""
    big = "x" * (5 * 1024 * 1024)
    model = GenericFakeChatModel(messages=iter([AIMessage(content="short answer")]))
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()
    path = tmp_path / "big.jsonl"
    with FileCallbackHandler(path, format="jsonl") as h:
        assert chain.invoke({"q": big}, config={"callbacks": [h]}) == "short answer"
    lines = path.read_bytes().splitlines()
    assert lines and max(map(len, lines)) < 1024 * 1024
    assert b"[truncated" in path.read_bytes()


def test_truncator_caps_collections_and_options() -> None:
    """Long lists get a marker item; bad caps fail at construction."""
    lines: list[str] = []
    handler = CallbackHandler(lines.append, processors=[Truncator(max_items=10)])
    handler.on_chain_start({}, {"items": list(range(100))}, run_id=__import__("uuid").uuid4())
    rec = json.loads(lines[0])
    assert rec["inputs"]["items"][:10] == list(range(10))
    assert rec["inputs"]["items"][10] == "...[truncated 90 items]"
    with pytest.raises(ValueError):
        Truncator(max_chars=0)


@pytest.mark.parametrize("after", [False, True])
def test_truncator_finds_one_item_too_many_in_the_tightest_json(after: bool) -> None:
    """max_items + 1 one-digit items (the shortest JSON a list that long has: 2n + 1 bytes)
    are cut, and max_items of them are not, whether the data was serialized before the
    Truncator (behind a Redactor: its fast check reads those bytes) or not."""
    def record(items: list[int]) -> Any:
        lines: list[str] = []
        processors = [Redactor(), Truncator(max_items=10)] if after else [Truncator(max_items=10)]
        handler = CallbackHandler(lines.append, processors=processors)
        handler.on_chain_start({}, {"a": items}, run_id=uuid.uuid4())
        return json.loads(lines[0])["inputs"]["a"]

    assert record([1] * 10) == [1] * 10
    assert record([1] * 11) == [1] * 10 + ["...[truncated 1 items]"]
    assert record([[1] * 6, [2] * 6]) == [[1] * 6, [2] * 6]  # 12 numbers, no list past 10


def test_public_handlers_take_processors(tmp_path: Path) -> None:
    """Every handler accepts processors=: a custom key is masked in a file handler's JSONL."""
    path = tmp_path / "p.jsonl"
    with FileCallbackHandler(path, format="jsonl",
                             processors=[Redactor(keys=["ssn"]), Truncator(max_chars=50)]) as h:
        model = GenericFakeChatModel(messages=iter([AIMessage(content="ok")]))
        chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model
        chain.invoke({"q": "y" * 500}, config={"callbacks": [h], "metadata": {"ssn": "123-45"}})
    text = path.read_text()
    assert "123-45" not in text and '"ssn":"***"' in text
    assert "y" * 51 not in text and "[truncated 450 chars]" in text


def test_html_report_has_no_secret(tmp_path: Path) -> None:
    """The HTML report made from a run with secrets (JSONL and text logs) shows none of them."""
    import subprocess
    import sys

    jsonl, text = tmp_path / "r.jsonl", tmp_path / "r.log"
    with FileCallbackHandler(jsonl, format="jsonl") as h1, \
            FileCallbackHandler(text, format="ansi", style="detailed") as h2:
        run_with_secret([h1, h2])
    for log in (jsonl, text):
        out = tmp_path / f"{log.name}.html"
        subprocess.run([sys.executable, "-m", "chainsink", "html", str(log), "-o", str(out)],
                       check=True, timeout=120, capture_output=True)
        assert_clean(out.read_text(encoding="utf-8"))


def test_byte_scans_find_what_the_default_patterns_find() -> None:
    """The Redactor's quick byte scans (one literal-led regex per default pattern) agree with
    DEFAULT_PATTERNS on which texts hold a secret, boundaries and near misses included."""
    import re

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from chainsink.processors import DEFAULT_PATTERNS

    combined = re.compile("|".join(f"(?:{p})" for p in DEFAULT_PATTERNS).encode())
    redactor = Redactor()
    scans = redactor._value_scans
    pieces = st.sampled_from(["sk-", "sk-ant-", "sk-proj-", "Bearer ", "bearer\t", "BEARER ",
                              "AKIA", "ghp_", "gho_", "ghx_", "eyJ", ".", "_", "-", "x", "é",
                              " ", "\"", "\\", "A1b2C3d4E5f6G7h8", "ZZZZZZZZZZZZZZZZ", "abcde",
                              "0123456789", "=", "/"])

    @settings(max_examples=3000, deadline=None)
    @given(st.lists(pieces, max_size=12))
    def agree(parts: list[str]) -> None:
        blob = "".join(parts).encode()
        expected = combined.search(blob) is not None
        assert any(scan.search(blob) is not None for scan in scans) == expected, blob
        short = any(scan.search(blob) is not None for scan in redactor._short_value_scans)
        assert short == expected, blob
        # and the whole check, short or long, agrees with the patterns on values
        assert redactor._has_secret(blob) == expected or b"api" in blob.lower(), blob

    agree()
    for text in ("key sk-abcdefghijklmnopqrstu", "xsk-abcdefghijklmnopqrstuv",
                 "AKIAABCDEFGHIJKLMNOP", "_ghp_abcdefghijklmnopqrstuvwxyz",
                 "eyJabcde.abcdef.abcdef", "Bearer abcdefghijk"):
        blob = text.encode()
        assert any(s.search(blob) for s in scans) == (combined.search(blob) is not None)


def test_key_scan_is_linear_in_quotes_inside_strings() -> None:
    """A long value full of escaped quotes, with a key word in it, is checked in one pass.

    The key scan once restarted at every quote escaped inside a string: 512 kB of random
    bytes took 38 s. This guard only detects a hang (60 s for what takes milliseconds); it
    does not time anything.
    """
    import os
    import threading
    import uuid

    from chainsink import Event

    value = os.urandom(512 * 1024) + b"api" + b'"' * 60_000 + b"token ghp_x"
    event = Event("chain_start", 0.0, uuid.uuid4(), None, uuid.uuid4(), 0, "Big", "chain",
                  [], {}, {"inputs": {"big": value, "api_key": "hunter2"}})
    result: list[Event] = []
    worker = threading.Thread(target=lambda: result.append(Redactor()(event)), daemon=True)
    worker.start()
    worker.join(60)
    assert result, "the Redactor did not finish within 60 s"
    assert result[0].data["inputs"]["api_key"] == "***"


def _masked_input(redactor: Redactor, text: str) -> str:
    import uuid

    from chainsink import Event

    event = Event("chain_start", 0.0, uuid.uuid4(), None, uuid.uuid4(), 0, "Chain", "chain",
                  [], {}, {"inputs": {"q": text}})
    out = redactor(event)
    assert isinstance(out, Event)
    masked: str = out.data["inputs"]["q"]
    return masked


@pytest.mark.parametrize(("text", "secret", "expected"), [
    ("{'user': 'bob', 'password': 'hunter2-abc'}", "hunter2-abc",
     "{'user': 'bob', 'password': '***'}"),  # a tool's input_str: str() of its args
    ('{"user": "bob", "api_key": "k-77aa-secret"}', "k-77aa-secret",
     '{"user": "bob", "api_key": "***"}'),  # JSON in a string
    ('{\\"client_secret\\": \\"cs-99-zz\\"}', "cs-99-zz",
     '{\\"client_secret\\": \\"***\\"}'),  # JSON in a string in a string
    ("connect?user=bob&password=pw-Zz-12&x=1", "pw-Zz-12", "connect?user=bob&password=***&x=1"),
    ("db_password: pw-yaml-33\nhost: x", "pw-yaml-33", "db_password: ***\nhost: x"),
    ("dbPassword=camel-pw-55 DB_TOKEN=UPPER-tok-55", "camel-pw-55",
     "dbPassword=*** DB_TOKEN=***"),
    ("headers['Authorization'] = 'opaque-value-1'", "opaque-value-1",
     "headers['Authorization'] = '***'"),
    ("GET / HTTP/1.1\nAuthorization: Basic dXNlcjpwYXNzd29yZA==\n", "dXNlcjpwYXNzd29yZA==",
     "GET / HTTP/1.1\nAuthorization: Basic ***\n"),
    ("clone https://bob:url-pw-44@git.example.com/r.git", "url-pw-44",
     "clone https://***@git.example.com/r.git"),
    ("我的API密钥是sk-abcdefghijklmnopqrstu", "sk-abcdefghijklmnopqrstu", "我的API密钥是***"),
    ("APIキーはsk-abcdefghijklmnopqrstuvw", "sk-abcdefghijklmnopqrstuvw", "APIキーは***"),
    ("ghp_abcdefghijklmnopqrstuvwxyz是", "ghp_abcdefghijklmnopqrstuvwxyz", "***是"),
    ("pat github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
     "github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "pat ***"),
    ("line\nsk-abcdefghijklmnopqrstu", "sk-abcdefghijklmnopqrstu", "line\n***"),  # JSON: \n
    ("refresh_tokens=rt-12345678, api_tokens: at-9", "rt-12345678",
     "refresh_tokens=***, api_tokens: ***"),
    ("credentials={'user': 'u', 'key': 'nested-66'} ok", "nested-66", "credentials=*** ok"),
])
def test_secrets_are_masked_wherever_they_stand_in_text(text: str, secret: str,
                                                       expected: str) -> None:
    """Pairs with secret key names inside strings (reprs, JSON, queries, headers, YAML) and
    credentials right after CJK text, a newline, or in a URL are masked; the rest is kept."""
    assert _masked_input(Redactor(), text) == expected


def test_token_counts_keep_numbers_and_token_credentials_are_masked() -> None:
    """Only the usage-count names LangChain and the providers use are exempt, and only for
    numbers (or mappings of numbers); refresh_tokens, api_tokens, access_tokens are secrets."""
    import uuid

    from chainsink import Event

    usage = {"total_tokens": 5, "prompt_tokens": 2, "max_tokens": 100, "ls_max_tokens": 100,
             "output_token_details": {"audio": 0, "reasoning": 3},
             "completion_tokens_details": {"reasoning_tokens": 1},
             # langchain-anthropic's cache-write split
             "input_token_details": {"cache_read": 1, "ephemeral_5m_input_tokens": 2,
                                     "ephemeral_1h_input_tokens": 0}}
    leaky = {"refresh_tokens": "rt-aaaa", "api_tokens": ["at-bbbb"],
             "access_tokens": {"a": "at-cccc"}, "input_tokens": "it-dddd",
             "total_tokens_note": "tt-eeee"}
    event = Event("llm_end", 0.0, uuid.uuid4(), None, uuid.uuid4(), 0, "m", "llm", [], {},
                  {"outputs": {"llm_output": {"token_usage": usage, **leaky}},
                   "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}})
    out = Redactor()(event)
    assert isinstance(out, Event)
    llm_output = out.data["outputs"]["llm_output"]
    assert llm_output["token_usage"] == usage
    assert {key: llm_output[key] for key in leaky} == dict.fromkeys(leaky, "***")
    assert out.data["usage"] == {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}
    assert _masked_input(Redactor(), "total_tokens: 42, max_tokens=9") == \
        "total_tokens: 42, max_tokens=9"


def test_a_masked_value_is_masked_in_the_rest_of_its_trace() -> None:
    """A value masked by its key is masked where it shows up again in the trace (an error
    message, a tag, the run name), from four characters on; other traces are not touched."""
    import uuid

    from chainsink import Event

    redactor = Redactor()
    trace = uuid.uuid4()

    def event(kind: str, data: dict[str, Any], trace_id: uuid.UUID = trace,
              name: str = "step", tags: list[str] | None = None) -> Event:
        out = redactor(Event(kind, 0.0, uuid.uuid4(), None, trace_id, 0, name, "chain",
                             tags or [], {}, data))
        assert isinstance(out, Event)
        return out

    event("chain_start", {"inputs": {"password": "Pw-remembered-1", "pin": 1, "passwd": "abc"}})
    failed = event("chain_error", {"error": {"type": "ValueError",
                                             "message": "bad login Pw-remembered-1 (abc)"}},
                   name="retry Pw-remembered-1", tags=["user:Pw-remembered-1"])
    assert failed.data["error"]["message"] == "bad login *** (abc)"  # "abc": under 4 chars
    assert failed.name == "retry ***" and failed.tags == ["user:***"]
    other = event("chain_start", {"inputs": {"q": "Pw-remembered-1"}}, trace_id=uuid.uuid4())
    assert other.data["inputs"]["q"] == "Pw-remembered-1"


def test_fast_scans_find_what_the_default_patterns_find() -> None:
    """The literal-led regexes the Redactor scans strings with find what DEFAULT_PATTERNS
    match, boundaries and near misses included: each of their matches is a match of one of
    the patterns, and together they cover every match of the patterns."""
    import re

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from chainsink.processors import DEFAULT_PATTERNS
    from chainsink.processors._secrets import FAST_VALUES, URL_CREDENTIALS

    combined = re.compile("|".join(f"(?:{p})" for p in DEFAULT_PATTERNS))
    each = [re.compile(p) for p in DEFAULT_PATTERNS]
    pieces = st.sampled_from(["sk-", "sk-ant-", "Bearer ", "bearer\t", "AKIA", "ghp_", "gho_",
                              "github_pat_", "eyJ", ".", "_", "-", "x", "é", "是", " ", ":",
                              "://", "@", "/", "A1b2C3d4E5f6G7h8", "ZZZZZZZZZZZZZZZZ", "abcde",
                              "0123456789", "="])

    @settings(max_examples=3000, deadline=None)
    @given(st.lists(pieces, max_size=12))
    def agree(parts: list[str]) -> None:
        text = "".join(parts)
        fast = [m.span() for m in FAST_VALUES.finditer(text)]
        fast += [m.span(1) for m in URL_CREDENTIALS.finditer(text)]
        for start, end in fast:
            assert any((m := p.match(text, start)) and m.end() == end for p in each), text
        covered = {i for start, end in fast for i in range(start, end)}
        for match in combined.finditer(text):
            assert covered.issuperset(range(*match.span())), text

    agree()


def test_anchors_stand_for_every_scan_and_key_word() -> None:
    """The one-pass check (KeyRules.anchored) finds something wherever the key scan or a value
    scan would: a blob it passes holds nothing either could match."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    redactor = Redactor(keys=["ssn"])
    rules = redactor._keys
    pieces = st.sampled_from([
        "sk-", "sk-proj-", "Bearer ", "BEARER\t", "AKIA", "ghp_", "ghr_", "github_pat_", "eyJ",
        "://", "u:p@", "api", "API_KEY", "Secret", "passw", "PASSWD", "token", "Tokens",
        "_tokens", "input_tokens", "\"input_tokens\":", "\":5", "Authorization", "cookie",
        "Credential", "private_key", "SSN", "k", "ey", "ia", "coo", "privat", "autho",
        "riz", "ation", "se", "cret", "cre", "dential", "ass", "w", "p", "i", "_", "-", "/",
        ":", "\"", "\\", "A1b2C3d4E5f6G7h8", "ZZZZZZZZZZZZZZZZZZZZ", "abcde", "0123", " ",
        "é", "密钥"])

    def full(blob: bytes) -> bool:
        low = blob.lower()
        return (any(w.search(low) is not None for w in rules.byte_word_scans)
                or any(s.search(blob) is not None for s in redactor._value_scans))

    @settings(max_examples=4000, deadline=None)
    @given(st.lists(pieces, max_size=14))
    def agree(parts: list[str]) -> None:
        blob = "".join(parts).encode()
        if full(blob):
            assert rules.anchored(blob.lower()), blob

    agree()
    words = ["sk-abcdefghijklmnopqrstu", "Bearer abcdefghijk", "AKIAABCDEFGHIJKLMNOP",
             "ghs_abcdefghijklmnopqrstuvwxyz", "github_pat_abcdefghijklmnopqrstuvwxyz",
             "eyJabcde.abcdef.abcdef", "https://u:p@host", "x_api_key", "client_secret",
             "password", "refresh_token", "Authorization", "cookie", "credentials",
             "private_key", "my_ssn"]
    for word in words:
        for shape in ("{}", "x{}y", "\"{}\"", "密钥{}。"):
            blob = json.dumps({"v": shape.format(word)}, ensure_ascii=False).encode()
            assert rules.anchored(blob.lower()), blob
    assert not rules.anchored(b'{"usage":{"input_tokens":5,"output_tokens":7},"x":"hello"}')


def test_a_secret_in_a_long_repeated_context_is_masked_in_every_record(tmp_path: Path) -> None:
    """A RAG-style context pasted into the prompt carries a key: every record of the trace that
    repeats it (inputs, the formatted prompt, the model's messages) is masked."""
    context = ("Passage: the quarterly report says revenue grew. " * 30) + \
        f"Deploy with key {OPENAI_KEY} tonight. " + "More text follows here. " * 10
    model = GenericFakeChatModel(messages=iter([AIMessage(content="It grew. " * 80)] * 2))
    chain = ChatPromptTemplate.from_messages(
        [("system", "Context:\n{context}"), ("human", "{q}")]) | model | StrOutputParser()
    path = tmp_path / "rag.jsonl"
    handler = FileCallbackHandler(path, format="jsonl")
    for _ in range(2):
        chain.invoke({"context": context, "q": "how?"}, config={"callbacks": [handler]})
    handler.close()
    text = path.read_text(encoding="utf-8")
    assert OPENAI_KEY not in text
    assert OPENAI_KEY[8:] not in text
    records = [json.loads(line) for line in text.splitlines()]
    masked = [r for r in records if "Deploy with key ***" in json.dumps(r)]
    assert len(masked) >= 8  # both requests: inputs x2, prompt output, model messages


def test_the_shortest_credential_is_as_long_as_the_quick_check_says() -> None:
    """Streamed words shorter than FAST_VALUES_MIN skip the credential patterns: none of them
    can match fewer characters."""
    import re._parser as sre_parse

    from chainsink.processors._secrets import FAST_VALUES, FAST_VALUES_MIN

    assert sre_parse.parse(FAST_VALUES.pattern).getwidth()[0] == FAST_VALUES_MIN
    assert FAST_VALUES.search("Bearer abcdefgh") is not None
    assert Redactor()._text_has_secret("Bearer abcdefgh")
    assert Redactor()._text_has_secret("x://u:p@h")
