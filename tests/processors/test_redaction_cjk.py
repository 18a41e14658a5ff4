"""Secrets named in Chinese, Japanese and Korean are masked like English ones.

Key words (密码, 密碼, 密钥, 令牌, パスワード, 비밀번호, ...) as key names and in text, after a
separator (ASCII or full-width) or a copula (是, 为, 為, は, 는, 은); the value ends at CJK
punctuation. The quick check on serialized JSON finds at least what the masking masks.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

from chainsink import Event
from chainsink.processors import DEFAULT_KEYS, Redactor
from chainsink.processors._secrets import KeyRules

# full-width punctuation, written as escapes (ruff flags the characters as ambiguous)
COLON, EQUALS, COMMA, SEMI = "\uff1a", "\uff1d", "\uff0c", "\uff1b"
BANG, QUESTION, CLOSE_PAREN, SPACE = "\uff01", "\uff1f", "\uff09", "\u3000"

PASSWORD = "hunter2pass"


def masked_input(text: str, redactor: Redactor | None = None) -> str:
    event = Event("chain_start", 0.0, uuid.uuid4(), None, uuid.uuid4(), 0, "Chain", "chain",
                  [], {}, {"inputs": {"q": text}})
    out = (redactor or Redactor())(event)
    assert isinstance(out, Event)
    result: str = out.data["inputs"]["q"]
    return result


def masked_inputs(inputs: dict[str, Any], redactor: Redactor | None = None) -> Any:
    event = Event("chain_start", 0.0, uuid.uuid4(), None, uuid.uuid4(), 0, "Chain", "chain",
                  [], {}, {"inputs": inputs})
    out = (redactor or Redactor())(event)
    assert isinstance(out, Event)
    return out.data["inputs"]


def test_the_default_keys_name_credentials_in_cjk_and_not_llm_tokens() -> None:
    for word in ("密码", "密碼", "密钥", "密鑰", "秘钥", "秘鑰", "私钥", "私鑰", "口令", "令牌",
                 "凭证", "憑證", "パスワード", "秘密鍵", "暗証番号", "비밀번호"):
        assert word in DEFAULT_KEYS, word
    # an LLM's "token" (a count), and "cipher", are not credentials
    for word in ("トークン", "토큰", "词元", "暗号", "암호"):
        assert not any(key in word or word in key for key in DEFAULT_KEYS), word


@pytest.mark.parametrize(("text", "expected"), [
    # copulas: a run of printable ASCII after them
    (f"密码是{PASSWORD}", "密码是***"),
    (f"密码是{PASSWORD}{COMMA}请记住", f"密码是***{COMMA}请记住"),
    (f"数据库的密码为 {PASSWORD}。", "数据库的密码为 ***。"),
    (f"密碼為 {PASSWORD}", "密碼為 ***"),
    (f"API密钥是 k-{PASSWORD}{SEMI}用完即删", f"API密钥是 ***{SEMI}用完即删"),
    (f"令牌为{PASSWORD}{BANG}", f"令牌为***{BANG}"),
    (f"パスワードは{PASSWORD}です", "パスワードは***です"),
    (f"秘密鍵は{PASSWORD}。", "秘密鍵は***。"),
    (f"暗証番号は 4321-{PASSWORD}", "暗証番号は ***"),
    (f"비밀번호는 {PASSWORD}입니다", "비밀번호는 ***입니다"),
    (f"비밀번호은{PASSWORD}", "비밀번호은***"),
    # separators: ASCII and full-width, with spaces (the ideographic one too)
    (f"数据库密码{COLON}{PASSWORD}{COMMA}请记住", f"数据库密码{COLON}***{COMMA}请记住"),
    (f"密码: {PASSWORD}", "密码: ***"),
    (f"密码 = {PASSWORD}", "密码 = ***"),
    (f"口令{EQUALS}{PASSWORD}{QUESTION}", f"口令{EQUALS}***{QUESTION}"),
    (f"凭证{SPACE}{COLON}{SPACE}{PASSWORD}{SPACE}其他", f"凭证{SPACE}{COLON}{SPACE}***{SPACE}其他"),
    (f"密码是{COLON}{PASSWORD}", f"密码是{COLON}***"),
    (f"憑證{COLON}{PASSWORD}{CLOSE_PAREN}", f"憑證{COLON}***{CLOSE_PAREN}"),
    (f"用户名{COLON}admin{COMMA}密码{COLON}{PASSWORD}", f"用户名{COLON}admin{COMMA}密码{COLON}***"),
    # quoted values, CJK quotes too
    ("密码是「hunter 2 pass」。", "密码是「***」。"),
    (f"パスワードは『{PASSWORD}』です", "パスワードは『***』です"),
    ('密码是"hunter 2"', '密码是"***"'),
    # names in reprs and JSON written in text, around ASCII name characters
    (f"{{'密码': '{PASSWORD}', 'user': 'bob'}}", "{'密码': '***', 'user': 'bob'}"),
    (f'{{"db_密码": "{PASSWORD}"}}', '{"db_密码": "***"}'),
    (f"db_密码={PASSWORD}&x=1", "db_密码=***&x=1"),
    # an English key word takes a full-width colon too, and its value ends at CJK punctuation
    (f"password{COLON}{PASSWORD}{COMMA}好", f"password{COLON}***{COMMA}好"),
    (f"password={PASSWORD}。然后", "password=***。然后"),
])
def test_cjk_pairs_in_text_are_masked(text: str, expected: str) -> None:
    assert masked_input(text) == expected
    assert PASSWORD not in masked_input(text)


@pytest.mark.parametrize("text", [
    "密码是一个重要概念。",  # prose after a copula: not ASCII
    f"密码为空{COMMA}请重新输入。",
    f"密码是否正确{QUESTION}",
    "请输入密码。密码很重要。",
    "パスワードはとても大切です。",
    "비밀번호는 안전하게 보관하세요.",
    "令牌桶算法用于限流。",
    "这个命令会把秘密数据写入日志。",  # 令 and 密, but no key word
    "トークンは 1234 個です。",  # an LLM's tokens
    "模型用了 120 个词元。",
    "密码学 is the study of ciphers",  # no separator after the key word
])
def test_cjk_prose_is_kept(text: str) -> None:
    assert masked_input(text) == text


@pytest.mark.parametrize(("inputs", "expected"), [
    ({"密码": PASSWORD, "user": "bob"}, {"密码": "***", "user": "bob"}),
    ({"db_密码": PASSWORD}, {"db_密码": "***"}),
    ({"用户密码": PASSWORD}, {"用户密码": "***"}),
    ({"数据库密碼": 12345678}, {"数据库密碼": "***"}),
    ({"パスワード": PASSWORD}, {"パスワード": "***"}),
    ({"비밀번호": PASSWORD}, {"비밀번호": "***"}),
    ({"API密钥": {"primary": PASSWORD}}, {"API密钥": "***"}),
    ({"headers": [["令牌", PASSWORD]]}, {"headers": [["令牌", "***"]]}),
    ({"密码tokens": 5}, {"密码tokens": "***"}),  # a count's name is ASCII
    ({"用户名": "bob", "备注": "ok"}, {"用户名": "bob", "备注": "ok"}),
])
def test_cjk_key_names_are_masked(inputs: dict[str, Any], expected: dict[str, Any]) -> None:
    assert masked_inputs(inputs) == expected


def test_user_keys_add_to_the_cjk_ones_and_take_the_same_rules() -> None:
    """Redactor(keys=...) adds to the defaults: the CJK words stay, and a user's own CJK word
    gets the copulas, the full-width separators and the quick check."""
    redactor = Redactor(keys=["身份证号"])
    assert "密码" in redactor.keys and "身份证号" in redactor.keys
    assert masked_input(f"密码是{PASSWORD}", redactor) == "密码是***"
    assert masked_input(f"身份证号{COLON}110101199003070011{COMMA}姓名", redactor) == \
        f"身份证号{COLON}***{COMMA}姓名"
    assert masked_input("身份证号是 110101199003070011。", redactor) == "身份证号是 ***。"
    assert masked_inputs({"身份证号": "110101199003070011"}, redactor) == {"身份证号": "***"}
    blob = orjson.dumps({"q": "身份证号是110101199003070011"})
    assert redactor._has_secret(blob)
    assert not Redactor()._has_secret(blob)


def test_a_cjk_found_value_is_remembered_in_its_trace() -> None:
    """A value masked after 密码是 is masked where it shows up alone later in the trace (a
    tool's input, an error), and not in another trace."""
    redactor, trace = Redactor(), uuid.uuid4()

    def event(kind: str, data: dict[str, Any], trace_id: uuid.UUID = trace) -> Event:
        out = redactor(Event(kind, 0.0, uuid.uuid4(), None, trace_id, 0, "step", "chain", [], {},
                             data))
        assert isinstance(out, Event)
        return out

    first = event("chain_start", {"inputs": {"q": f"数据库密码是{PASSWORD}{COMMA}请连接"}})
    assert first.data["inputs"]["q"] == f"数据库密码是***{COMMA}请连接"
    tool = event("tool_start", {"input_str": f"connect --pw {PASSWORD}"})
    assert tool.data["input_str"] == "connect --pw ***"
    failed = event("chain_error", {"error": {"type": "ValueError",
                                             "message": f"login {PASSWORD} rejected"}})
    assert failed.data["error"]["message"] == "login *** rejected"
    other = event("tool_start", {"input_str": f"connect --pw {PASSWORD}"}, uuid.uuid4())
    assert other.data["input_str"] == f"connect --pw {PASSWORD}"


def test_values_stop_at_cjk_punctuation() -> None:
    for stop in (COMMA, "。", SEMI, COLON, BANG, QUESTION, "、", CLOSE_PAREN, "」", SPACE, " ",
                 "\n"):
        text = f"密码{COLON}{PASSWORD}{stop}后文"
        assert masked_input(text) == f"密码{COLON}***{stop}后文", repr(stop)
        text = f"密码是{PASSWORD}{stop}后文"
        assert masked_input(text) == f"密码是***{stop}后文", repr(stop)


# -- the quick check on serialized JSON agrees with the masking -----------------------------------

PIECES = [
    "密码", "密碼", "密钥", "令牌", "口令", "凭证", "パスワード", "비밀번호", "秘密鍵",
    "暗証番号", "apiキー", "API", "密", "令", "秘密", "命令",
    "是", "为", "為", "は", "는", "은", "一个", "です",
    COLON, EQUALS, ":", "=", "==", COMMA, "。", SPACE, " ", "\t", "\n",
    "「", "」", "“", '"', "'", "\\", "[", "]", "{", "}", ",",
    "hunter2", "x", "_", "db", "token", "password", "5",
]


def test_the_quick_check_finds_every_cjk_pair_the_masking_masks() -> None:
    """Whatever KeyRules.pairs masks in a string, the checks on the serialized JSON holding it
    (KeyRules.anchored, KeyRules.pairs_in_json, the whole Redactor._has_secret, short and
    long) find; and a key name holding a CJK key word is found as a JSON key too."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    redactor = Redactor()
    rules = redactor._keys

    @settings(max_examples=4000, deadline=None)
    @given(st.lists(st.sampled_from(PIECES), max_size=10), st.booleans())
    def agree(parts: list[str], long: bool) -> None:
        text = "".join(parts)
        padding = "填充文字" * 30 if long else ""
        if rules.pairs(text):
            for value in ({"q": text}, {"q": padding + text}, [padding, text], {"token": text}):
                blob = orjson.dumps(value)
                low = blob.lower()
                assert rules.anchored(low), blob
                assert rules.pairs_in_json(blob, low), blob
                assert redactor._has_secret(blob), blob
        if text and rules.masks(text, "v"):
            blob = orjson.dumps({"inputs": {text: "v"}, "pad": padding})
            assert rules.anchored(blob.lower()), blob
            assert redactor._has_secret(blob), blob

    agree()


def test_the_quick_check_passes_cjk_text_without_key_words() -> None:
    """CJK text with none of the key words is decided by the quick check alone, even where it
    holds a character they share (秘密, 命令)."""
    rules = Redactor()._keys
    for text in ("本季度报告显示北方地区的收入增长了百分之十二。", "这个命令会把秘密数据写入日志。",
                 "パソコンのキーボード", "한국어 문장입니다", "令人满意的结果"):
        low = orjson.dumps({"q": text * 20}).lower()
        assert not rules.anchored(low), text
    for word in ("密码", "密碼", "密钥", "密鑰", "秘钥", "秘鑰", "私钥", "私鑰", "口令", "令牌",
                 "凭证", "憑證", "凭据", "憑據", "パスワード", "秘密鍵", "暗証番号", "APIキー",
                 "비밀번호", "패스워드", "비밀키", "개인키"):
        low = orjson.dumps({"q": "正文" * 50 + word + "正文"}).lower()
        assert rules.anchored(low), word


def test_key_rules_of_only_ascii_words_skip_the_cjk_checks() -> None:
    rules = KeyRules(["password"])
    assert rules.wide_words is None
    blob = orjson.dumps({"q": f"密码是{PASSWORD}"})
    assert not rules.anchored(blob.lower())
    assert not rules.pairs_in_json(blob, blob.lower())
    assert not rules.pairs(f"密码是{PASSWORD}")


# -- streamed --------------------------------------------------------------------------------------

STREAMED = {
    "copula": (f"好的{COMMA}数据库密码是{PASSWORD}{COMMA}请记住。",
               f"好的{COMMA}数据库密码是***{COMMA}请记住。"),
    "full-width colon": (f"密碼{COLON}{PASSWORD}。", f"密碼{COLON}***。"),
    "Japanese": (f"パスワードは{PASSWORD}です", "パスワードは***です"),
    "Korean": (f"비밀번호는 {PASSWORD}입니다", "비밀번호는 ***입니다"),
    "CJK quotes": ("密码是「hunter 2 pass」。", "密码是「***」。"),
    "symbols in the value": ("令牌为 hun!ter#2$pass。", "令牌为 ***。"),
    # an English key word inside the value: held from it, and from the CJK key word too
    "a key word in the value": (f"密码是hunter_secret{COMMA}好", f"密码是***{COMMA}好"),
    "a key word after a space": (f"密码{COLON}旧的 hunter_secret{COMMA}好",
                                 f"密码{COLON}*** hunter_secret{COMMA}好"),
    "prose": ("密码是一个重要概念。", "密码是一个重要概念。"),
}


def _stream(chunks: list[str]) -> list[str]:
    """The token texts a Redactor writes for a run streaming ``chunks``."""
    redactor, run = Redactor(), uuid.uuid4()

    def event(kind: str, data: dict[str, Any]) -> list[Event]:
        out = redactor(Event(kind, 0.0, run, None, run, 0, "model", "llm", [], {}, data))
        return [] if out is None else list(out) if type(out) is tuple else [out]  # type: ignore[list-item]

    records = event("llm_start", {"prompts": ["hi"]})
    for chunk in chunks:
        records += event("llm_new_token", {"token": chunk})
    records += event("llm_end", {"outputs": None})
    return [r.data["token"] for r in records if r.event == "llm_new_token"]


@pytest.mark.parametrize("kind", list(STREAMED))
def test_a_cjk_pair_streamed_in_any_chunking_is_masked(kind: str) -> None:
    """Streamed a character at a time, or in pieces of 2-7 from every offset, the joined
    token records equal the masked text: the key word (or its start), its copula or separator
    and the value are held until the value ends."""
    text, expected = STREAMED[kind]
    assert masked_input(text) == expected
    for size in range(1, 8):
        for offset in range(size):
            chunks = ([text[:offset]] if offset else []) + [
                text[at:at + size] for at in range(offset, len(text), size)]
            tokens = _stream(chunks)
            assert "".join(tokens) == expected, (size, offset, tokens)
            assert "hun" not in "".join(tokens) or kind in ("prose", "a key word after a space")
