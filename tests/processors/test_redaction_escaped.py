"""Key words that are not ASCII (密码, パスワード, 비밀번호) as ``json.dumps`` writes them by
default (ensure_ascii: ``{"\\u5bc6\\u7801": ...}``) are key words too.

The text rules mask the value after such a key (at any depth of JSON inside strings, hex
digits in either case), and the quick check on serialized JSON finds at least what they mask;
a blob with other escapes (``\\u00e9``, a Windows path's ``\\users``) but no key word stays
clean, and costs no more than a scan.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import orjson
import pytest

from chainsink import Event
from chainsink.processors import Redactor
from chainsink.processors._secrets import KeyRules, escaped_byte_scan, escaped_folding
from processors.test_redaction_cjk import masked_input

SECRET = "Esc-json-pass-7777"
ENGLISH = "the quick brown fox jumps over the lazy dog and runs away. " * 40
CHINESE = "今天天气很好我们一起去公园散步然后吃午饭" * 40


def blob_of(text: str) -> bytes:
    return orjson.dumps({"inputs": {"q": text}})


def dumped(value: Any, depth: int) -> str:
    text = json.dumps(value)
    for _ in range(depth - 1):
        text = json.dumps(text)
    return text


# -- the text rules ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["密码", "密碼", "令牌", "パスワード", "비밀번호", "apiキー",
                                 "db_密码"])
def test_an_escaped_cjk_key_in_json_dumps_output_is_masked(key: str) -> None:
    text = json.dumps({key: SECRET, "user": "alice"})
    assert "\\u" in text  # written escaped
    out = masked_input(text)
    assert SECRET not in out
    assert json.loads(out) == {key: "***", "user": "alice"}


@pytest.mark.parametrize("text", [
    "\\u5bc6\\u7801=" + SECRET,
    "\\u5bc6\\u7801: " + SECRET,
    "config \\u5bc6\\u7801 = " + SECRET + " done",
    "{'\\u5bc6\\u7801': '" + SECRET + "'}",
])
def test_an_escaped_cjk_key_before_a_separator_is_masked(text: str) -> None:
    out = masked_input(text)
    assert SECRET not in out and "***" in out


def test_uppercase_hex_digits_are_a_key_word_too() -> None:
    text = '{"\\u5BC6\\u7801": "' + SECRET + '"}'
    assert masked_input(text) == '{"\\u5BC6\\u7801": "***"}'
    assert Redactor()._has_secret(blob_of(text))
    assert Redactor()._has_secret(blob_of(ENGLISH + text))


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_an_escaped_cjk_key_is_masked_at_any_depth(depth: int) -> None:
    text = dumped({"密码": SECRET}, depth)
    out = masked_input(text)
    assert SECRET not in out
    for _ in range(depth):
        out = json.loads(out)
    assert out == {"密码": "***"}


def test_a_users_cased_key_word_escaped_in_either_case_is_masked() -> None:
    redactor = Redactor(keys=["ключ"])
    for key in ("ключ", "КЛЮЧ", "Ключ"):
        text = json.dumps({key: SECRET})
        assert SECRET not in masked_input(text, redactor), key
        assert redactor._has_secret(blob_of(ENGLISH + text)), key


def test_a_key_word_past_the_bmp_is_matched_as_a_surrogate_pair() -> None:
    redactor = Redactor(keys=["\U0001f511pw"])
    assert SECRET not in masked_input(json.dumps({"\U0001f511PW": SECRET}), redactor)
    assert redactor._has_secret(blob_of(ENGLISH + json.dumps({"\U0001f511pw": SECRET})))


def test_part_of_a_key_word_escaped_is_no_key_word() -> None:
    # 密 alone is not a key word; nor is 码 without 密
    for text in ('{"\\u5bc6": "' + SECRET + '"}', '{"\\u7801": "' + SECRET + '"}'):
        assert masked_input(text) == text
        assert not Redactor()._has_secret(blob_of(text))
        assert not Redactor()._has_secret(blob_of(ENGLISH + text))


# -- the quick check on serialized JSON --------------------------------------------------------


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("padding", ["", ENGLISH, CHINESE], ids=["short", "english", "chinese"])
def test_the_quick_check_finds_an_escaped_cjk_key_at_any_depth(depth: int, padding: str) -> None:
    text = padding + dumped({"密码": SECRET}, depth)
    assert Redactor()._has_secret(blob_of(text))
    # and deeper in the blob: an event's data inside a string of a string
    assert Redactor()._has_secret(orjson.dumps({"outputs": {"output": json.dumps(
        {"inputs": text})}}))


@pytest.mark.parametrize("key", ["密码", "パスワード", "비밀번호", "apiキー", "私钥"])
def test_the_quick_check_finds_every_escaped_cjk_key(key: str) -> None:
    text = json.dumps({key: SECRET})
    for padding in ("", ENGLISH, CHINESE):
        assert Redactor()._has_secret(blob_of(padding + text)), (key, padding[:5])


@pytest.mark.parametrize("text", [
    json.dumps({"name": "Ren\u00e9e", "city": "Montr\u00e9al"}),  # \u00e9 escaped, no key
    json.dumps({"note": "\u5bc6\u5207\u76f8\u5173"}),  # 密切相关 ("closely related"), escaped
    "C:\\users\\uwe\\documents\\unit\\report.txt",  # a Windows path
    "\\u5bc6\\u7801 is the word for password",  # the word, but no pair
])
@pytest.mark.parametrize("padding", ["", ENGLISH, CHINESE], ids=["short", "english", "chinese"])
def test_escapes_without_a_secret_key_are_clean(text: str, padding: str) -> None:
    redactor = Redactor()
    assert not redactor._has_secret(blob_of(padding + text))
    assert masked_input(padding + text, redactor) == padding + text


def test_the_quick_check_finds_what_the_text_rules_mask() -> None:
    texts = [dumped({key: SECRET}, depth) for key in ("密码", "口令", "暗証番号", "개인키")
             for depth in (1, 2)]
    texts += ["\\u5bc6\\u7801=" + SECRET, "x \\\\u5bc6\\\\u7801\t: " + SECRET,
              '\\u5bc6\\u7801"]: ' + SECRET]
    redactor = Redactor()
    for text in texts:
        for padding in ("", ENGLISH, CHINESE):
            assert masked_input(padding + text, redactor) != padding + text, text
            assert redactor._has_secret(blob_of(padding + text)), (text, padding[:5])


def test_the_masked_value_is_remembered_for_the_trace() -> None:
    redactor = Redactor()
    trace = uuid.uuid4()
    first = Event("tool_start", 0.0, uuid.uuid4(), None, trace, 0, "lookup", "tool", [], {},
                  {"input_str": json.dumps({"密码": SECRET})})
    later = Event("tool_end", 1.0, uuid.uuid4(), None, trace, 0, "lookup", "tool", [], {},
                  {"output": "logged in with " + SECRET})
    out = [redactor(first), redactor(later)]
    assert all(isinstance(e, Event) for e in out)
    assert SECRET not in repr([e.data for e in out if isinstance(e, Event)])


# -- the regexes ---------------------------------------------------------------------------------


def test_no_regex_without_a_key_word_that_is_not_ascii() -> None:
    assert escaped_folding(["password", "token"]) == "(?!)"
    assert escaped_byte_scan(["password", "token"]) == b"(?!)"
    rules = KeyRules(["password"])
    assert rules.escaped_byte_words is None
    assert rules.pairs('{"\\u5bc6\\u7801": "x"}') == []


def test_runs_of_backslashes_and_escapes_take_linear_time() -> None:
    redactor = Redactor()
    texts = ["\\" * 200_000 + "u5bc6", "\\u5bc6" * 50_000, "\\u5bc6\\" * 40_000,
             "C:\\users\\uwe\\" * 20_000, "\\\\u5bc6\\\\u7801 " * 20_000]
    for text in texts:
        start = time.perf_counter()
        masked_input(text, redactor)
        redactor._has_secret(blob_of(text))
        assert time.perf_counter() - start < 2.0, text[:20]
