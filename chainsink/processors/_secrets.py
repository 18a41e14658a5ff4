"""Finding secrets in text: credential patterns, ``key=value`` pairs and remembered values.

Everything here runs in time linear in the text: every pattern is possessive or has a
look-behind that lets a candidate start only where the previous one could not have run
through, and the key scan never goes back over text it has passed.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import orjson

from chainsink.processors._onepass import ESCAPED, TOKEN, one_pass

MASK = "***"

#: Credential words of Chinese (simplified and traditional), Japanese and Korean, as key names
#: (``{"密码": ...}``, ``db_密码``) and in text (``密码是hunter2``, ``パスワード: ...``). Only
#: words that name a credential: not the LLM sense of "token" (トークン, 토큰, 词元) nor
#: "cipher" (暗号, 암호).
CJK_KEYS = (
    # Chinese: password, key, secret key, private key, passphrase, token, credential
    "密码", "密碼", "密钥", "密鑰", "秘钥", "秘鑰", "私钥", "私鑰", "口令", "令牌",
    "凭证", "憑證", "凭据", "憑據",
    "パスワード", "秘密鍵", "暗証番号", "apiキー",  # Japanese: password, private key, PIN, API key
    "비밀번호", "패스워드", "비밀키", "개인키",  # Korean: password, secret key, private key
)

#: Key names whose values are masked: substrings, case-insensitive.
DEFAULT_KEYS = ("api_key", "apikey", "api-key", "secret", "password", "passwd", "token",
                "authorization", "cookie", "credential", "private_key", *CJK_KEYS)

#: Values that look like credentials wherever they appear, even right after text with no
#: space (``我的API密钥是sk-...``): each may start anywhere but inside a run of its own
#: characters, which also keeps every one of them linear in the text.
DEFAULT_PATTERNS = (
    r"(?<![A-Za-z0-9_\-])sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}+",  # OpenAI / Anthropic keys
    r"(?<![A-Za-z0-9_\-])[Bb]earer\s++[A-Za-z0-9\-._~+/]{8,}+=*+",  # bearer tokens
    r"(?<![A-Za-z0-9])AKIA[0-9A-Z]{16}(?![A-Za-z0-9])",  # AWS access key ids
    r"(?<![A-Za-z0-9])gh[pousr]_[A-Za-z0-9]{20,}+",  # GitHub tokens
    r"(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{20,}+",  # GitHub fine-grained tokens
    r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{5,}+\.[A-Za-z0-9_\-]{5,}+\.[A-Za-z0-9_\-]{5,}+",  # JWTs
    r"(?<=://)[^\s/?#@:'\"]++:[^\s/?#'\"]*(?=@)",  # user:password in a URL
)


#: DEFAULT_PATTERNS but the URL's, each opening with its literal (its look-behind after it):
#: the same matches, found faster (``re`` skips the positions where no literal starts).
FAST_VALUES = re.compile("|".join((
    r"sk-(?<![A-Za-z0-9_\-]sk-)(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}+",
    r"Bearer(?<![A-Za-z0-9_\-]Bearer)\s++[A-Za-z0-9\-._~+/]{8,}+=*+",
    r"bearer(?<![A-Za-z0-9_\-]bearer)\s++[A-Za-z0-9\-._~+/]{8,}+=*+",
    r"AKIA(?<![A-Za-z0-9]AKIA)[0-9A-Z]{16}(?![A-Za-z0-9])",
    r"gh(?<![A-Za-z0-9]gh)[pousr]_[A-Za-z0-9]{20,}+",
    r"github_pat_(?<![A-Za-z0-9_]github_pat_)[A-Za-z0-9_]{20,}+",
    r"eyJ(?<![A-Za-z0-9_\-]eyJ)[A-Za-z0-9_\-]{5,}+\.[A-Za-z0-9_\-]{5,}+\.[A-Za-z0-9_\-]{5,}+",
)))
#: The shortest text FAST_VALUES matches (``Bearer`` + a space + 8 characters).
FAST_VALUES_MIN = 15
#: DEFAULT_PATTERNS' URL credentials, found from "://" (group 1 is the secret).
URL_CREDENTIALS = re.compile(r"://([^\s/?#@:'\"]++:[^\s/?#'\"]*)(?=@)")


def folding(words: Iterable[str]) -> str:
    """A regex for ``words`` in any case, each branch opening with a plain character (so that
    ``re`` skips the positions where none starts), longest first."""
    branches = []
    for word in sorted(words, key=len, reverse=True):
        rest = f"(?i:{re.escape(word[1:])})" if len(word) > 1 else ""
        for first in dict.fromkeys((word[0].lower(), word[0].upper())):
            branches.append(re.escape(first) + rest)
    return "|".join(branches) or "(?!)"


#: Between two escapes of a word escaped as ``json.dumps`` writes it: a run of backslashes (one
#: per escape written once, doubled at each depth of JSON inside a string), then ``u``.
_ESCAPE = r"\\++u"


def _escape(char: str, hex_case: bool) -> str:
    """A regex for ``char`` as ``json.dumps`` writes it by default, after its first ``\\u``:
    its hex digits (past the BMP: a surrogate pair), in either case if ``hex_case``, for
    either case of ``char`` (a user's Cyrillic or Greek word)."""
    forms = []
    for form in dict.fromkeys((char, char.lower(), char.upper())):
        if len(form) != 1:
            continue
        code = ord(form)
        quads = ([f"{code:04x}"] if code <= 0xFFFF else
                 [f"{0xD800 + ((code - 0x10000) >> 10):04x}",
                  f"{0xDC00 + ((code - 0x10000) & 0x3FF):04x}"])
        forms.append(_ESCAPE.join(f"(?i:{quad})" if hex_case and not quad.isdigit() else quad
                                  for quad in quads))
    return forms[0] if len(forms) == 1 else "(?:" + "|".join(forms) + ")"


def escaped_folding(words: Iterable[str]) -> str:
    """A regex for the ``words`` that are not ASCII as ``json.dumps`` writes them by default
    (``密码``: ``\\u5bc6\\u7801``), in any case, at any depth of JSON inside strings (the
    backslashes doubled at each: ``\\\\u5bc6\\\\u7801``); mixed forms (part escaped) aside.
    Those opening with an escape share one branch, opening with a backslash that has none
    before it (a run of them is read once, by one branch); the others open as in
    :func:`folding`; hex digits in either case. ``(?!)`` if no word is not ASCII."""
    leading: dict[str, list[str]] = {}  # by their first character's escape
    others = []
    for word in sorted(dict.fromkeys(w for w in words if not w.isascii()), key=len, reverse=True):
        parts = [re.escape(c) if c.isascii() and not c.isalpha()
                 else f"(?i:{c})" if c.isascii() else _ESCAPE + _escape(c, True)
                 for c in word]
        if word[0].isascii():
            for first in dict.fromkeys((word[0].lower(), word[0].upper())):
                others.append(re.escape(first) + "".join(parts[1:]))
        else:
            leading.setdefault(_escape(word[0], True), []).append("".join(parts[1:]))
    if leading:  # after the "u", four hex digits first: "C:\\users" fails there
        others.append(r"\\(?<!\\\\)\\*+u(?=[0-9a-fA-F]{4})(?:" + "|".join(
            first + "(?:" + "|".join(rests) + ")" for first, rests in leading.items()) + ")")
    return "|".join(others) or "(?!)"


def escaped_byte_scan(words: Iterable[str]) -> bytes:
    """A regex for lowercased serialized JSON: where the lowercased ``words`` that are not
    ASCII stand in its strings as ``json.dumps`` writes them (``\\\\u5bc6\\\\u7801``: a string's
    backslash is escaped again), from their first character that is not ASCII (``キー`` of
    ``apiキー``: more than :meth:`KeyRules.pairs` finds, never less). It opens with the literal
    ``\\u`` (``re`` skips to it), so a blob without one costs a fast scan; the four hex digits
    after it are looked at first (``C:\\\\users`` fails there)."""
    tails: dict[str, list[str]] = {}  # by their first character's escape
    for word in sorted(dict.fromkeys(w for w in words if not w.isascii()), key=len, reverse=True):
        tail = word[next(i for i, c in enumerate(word) if not c.isascii()):]
        rests = tails.setdefault(_escape(tail[0], False), [])
        rest = "".join(re.escape(c) if c.isascii() else _ESCAPE + _escape(c, False)
                       for c in tail[1:])
        if rest not in rests:
            rests.append(rest)
    if not tails:
        return b"(?!)"
    return (r"\\u(?<=\\\\u)(?=[0-9a-f]{4})(?:" + "|".join(
        first + "(?:" + "|".join(rests) + ")" for first, rests in tails.items()) + ")").encode()


def _json_escaped(literal: bytes) -> bytes:
    """A look-behind alternative: ``literal`` right after a JSON escape (``\\n``, ``\\u001b``),
    where the serialized text has a letter that the string itself does not."""
    return rb"|(?<=\\[nrtbf]" + literal + rb")|(?<=\\u[0-9a-fA-F]{4}" + literal + rb")"


#: DEFAULT_PATTERNS for scanning serialized JSON, one regex each, each opening with a literal
#: (its look-behind after it): ``re`` finds a literal prefix with a fast scan, where one
#: alternation is tried at every position (3-4x slower). They find at least what the patterns
#: find in the strings that were serialized (a quick check: the masking itself uses the
#: patterns).
DEFAULT_SCANS = tuple(re.compile(p) for p in (
    rb"sk-(?:(?<![A-Za-z0-9_\-]sk-)" + _json_escaped(rb"sk-")
    + rb")(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}+",
    rb"earer(?<=[Bb]earer)(?:(?<![A-Za-z0-9_\-][Bb]earer)" + _json_escaped(rb"[Bb]earer")
    + rb")\s++[A-Za-z0-9\-._~+/]{8,}+",
    rb"AKIA(?:(?<![A-Za-z0-9]AKIA)" + _json_escaped(rb"AKIA") + rb")[0-9A-Z]{16}(?![A-Za-z0-9])",
    rb"gh(?:(?<![A-Za-z0-9]gh)" + _json_escaped(rb"gh") + rb")[pousr]_[A-Za-z0-9]{20,}+",
    rb"github_pat_(?:(?<![A-Za-z0-9_]github_pat_)" + _json_escaped(rb"github_pat_")
    + rb")[A-Za-z0-9_]{20,}+",
    rb"eyJ(?:(?<![A-Za-z0-9_\-]eyJ)" + _json_escaped(rb"eyJ")
    + rb")[A-Za-z0-9_\-]{5,}+\.[A-Za-z0-9_\-]{5,}+\.[A-Za-z0-9_\-]{5,}+",
    rb"://[^\s/?#@:'\"]++:[^\s/?#'\"]*@",
))

#: Values remembered per trace are at least this long, so that a short value ("a", "no")
#: under a secret key does not mask every occurrence of it in the trace.
MIN_REMEMBERED = 4
#: Longer values are masked where they are found but not remembered.
MAX_REMEMBERED_CHARS = 1024
#: Values remembered per trace at most (the newest are kept).
MAX_REMEMBERED = 128
#: Remembered values that are too common to mean anything.
_NOT_REMEMBERED = frozenset({"true", "false", "none", "null", "[hidden]", MASK})

# -- token counts -------------------------------------------------------------------------------

#: Key names that count tokens in LangChain's usage_metadata and the providers' usage and
#: request parameters (matched lowercased, with or without ``_``: ``inputTokens`` too). Their
#: values are kept when they are numbers, null or mappings (whose own keys are judged like
#: any others); anything else under them is masked, and every other name with "token" in it
#: (``refresh_tokens``, ``api_tokens``, ``access_tokens``) is a credential.
COUNT_NAMES = (
    # LangChain usage_metadata, chainsink's usage
    "input_tokens", "output_tokens", "total_tokens", "input_token_details",
    "output_token_details",
    # OpenAI (and get_openai_callback), Mistral, Groq, ...
    "prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details",
    "cached_tokens", "audio_tokens", "reasoning_tokens", "accepted_prediction_tokens",
    "rejected_prediction_tokens", "token_usage", "max_tokens", "max_completion_tokens",
    "ls_max_tokens",  # LangChain's tracing metadata (the model's max_tokens)
    # Anthropic
    "cache_creation_input_tokens", "cache_read_input_tokens", "max_tokens_to_sample",
    "ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens",  # langchain-anthropic's details
    # Google
    "prompt_token_count", "candidates_token_count", "total_token_count",
    "cached_content_token_count", "thoughts_token_count", "tool_use_prompt_token_count",
    "max_output_tokens",
    # Hugging Face, generic
    "max_new_tokens", "num_tokens", "token_count", "tokens",
)
COUNT_KEYS = frozenset(name.replace("_", "") for name in COUNT_NAMES)


def _free_token(names: Sequence[str]) -> bytes:
    """A regex for "token" in lowercased JSON where it is not in a count key with a count
    value (``"total_tokens":5``, ``"input_token_details":{...}``): what "token" must match
    for a blob to need its keys looked at one by one."""
    guards = []
    # in the order given (the commonest first): a count key fails at its own guard
    for spelling in dict.fromkeys(s for name in names for s in (name, name.replace("_", ""))):
        if "token" not in spelling:
            continue
        before, after = spelling.split("token", 1)
        guards.append(b'(?!(?<="' + re.escape(before.encode()) + b"token)"
                      + re.escape(after.encode()) + rb'"\s*+:\s*+(?:-|\d|null|\{))')
    return b"token" + b"".join(guards)


FREE_TOKEN = _free_token(COUNT_NAMES)

#: One pass each over lowercased serialized JSON, together finding every place where a default
#: key word (FREE_TOKEN's rule for "token") or the literal that one of DEFAULT_SCANS starts with
#: stands (``sk-``, ``bearer``, ``akia``, ``gh[pousr]_``, ``github_pat_``, ``eyj``, ``://``).
#: Each opens with one rare letter (``re`` skips to it as ``bytes.find`` would) and checks
#: the rest of its words around it, so eight passes stand for eighteen searches. A blob none of
#: them matches holds nothing the key scan or the value scans could match.
ANCHOR_SCANS = tuple(re.compile(p) for p in (
    rb"k(?:-(?<=sk-)|(?<=ak)ia|(?<=cook)ie|(?<=private_k)ey|(?<=tok)en" + FREE_TOKEN[5:] + rb")",
    rb"z(?<=authoriz)ation",
    rb"j(?<=eyj)",
    rb"//(?<=://)",
    rb"b(?=earer)",
    rb"p(?:(?<=ap)(?=i)|(?=assw))",
    rb"_(?:(?<=gh[pousr]_)|(?<=github_pat_))",
    rb"c(?:(?<=sec)(?=ret)|(?=redential))",
))
#: What ANCHOR_SCANS look for as literals, for one pass in any case over the bytes as they are
#: (see chainsink/processors/_onepass.py): a hit of one of these is a match of ANCHOR_SCANS but
#: for "token", whose hits FREE_TOKEN confirms (kept apart, see KeyRules.first_look).
ANCHOR_LITERALS = (b"sk-", b"akia", b"cookie", b"private_key", b"authorization", b"eyj",
                   b"://", b"bearer", b"api", b"passw", b"ghp_", b"gho_", b"ghu_", b"ghs_",
                   b"ghr_", b"github_pat_", b"secret", b"credential")
_FREE_TOKEN_SCAN = re.compile(FREE_TOKEN)
#: The literal escaped_byte_scan's regex opens with (a string's ``\\u``).
_ESCAPED_LITERAL = b"\\\\u"

#: The key words ANCHOR_SCANS stand for (as KeyRules words them: see _ANCHORS).
ANCHORED_WORDS = frozenset({"api", "secret", "passw", "token", "authorization", "cookie",
                            "credential", "private_key"})

_NOT_KEY_CHARS = re.compile(r"[^a-z0-9]")
NOT_SECRET, SECRET, COUNT = 0, 1, 2


def is_count(value: Any) -> bool:
    """Whether ``value`` is what a token count key holds: a number, None, or a mapping (whose
    own keys are judged like any others: ``input_token_details``)."""
    return value is None or isinstance(value, (int, float, Mapping))


# -- key=value pairs in text ---------------------------------------------------------------------

_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_NAME_REST = re.compile(r"[A-Za-z0-9_.\-]*+")
#: How far back a key name is followed from the key word found in it.
_NAME_BACK = 64
#: After the name: its closing quote (escaped inside a string), a subscript's bracket, the
#: separator (not ``==``; the full-width colon and equals sign of CJK text too), spaces (the
#: ideographic space too).
FULLWIDTH_SEPARATORS = "\uff1a\uff1d"
_COLON = "[:=" + FULLWIDTH_SEPARATORS + "](?![=\uff1d])"
_SEPARATOR = re.compile(r"(?:\\*+[\"'])?+\]?+[ \t\u3000]*+" + _COLON + r"[ \t\u3000]*+")
#: The copulas that join a CJK key word to its value (``密码是...``, ``密碼為...``,
#: ``パスワードは...``, ``비밀번호는...``), maybe followed by a separator (``密码是:...``:
#: group 1).
COPULAS = ("是", "为", "為", "は", "는", "은")
_COPULA = re.compile(r"[ \t\u3000]*+(?:" + "|".join(COPULAS)
                     + r")[ \t\u3000]*+(?:(" + _COLON + r")[ \t\u3000]*+)?+")
#: CJK punctuation a bare value ends at (besides whitespace, the ideographic space included).
CJK_STOPS = ("\uff0c\u3002\uff1b\uff1a\uff01\uff1f\u3001\uff09\u300d\u300f\u3011\u3015\u3009"
             "\u300b\u201d\u2019")  # full-width , . ; : ! ? and closing brackets and quotes
_QUOTED = {"'": re.compile(r"'((?:[^'\\\n]|\\.)*+)'"), '"': re.compile(r'"((?:[^"\\\n]|\\.)*+)"')}
#: A value in CJK quotes: 「...」, 『...』, “...”.
CJK_QUOTES = {"「": "」", "『": "』", "“": "”"}
_CJK_QUOTED = {q: re.compile(q + "([^" + e + "\n]*+)" + e) for q, e in CJK_QUOTES.items()}
#: A value quoted with escaped quotes (JSON inside a string): ends at the next escaped quote.
_ESCAPED_QUOTED = {q: re.compile(r"\\++" + q + r"((?:[^" + q + r"\\\n]++|\\++(?!" + q + r"))*+)"
                                 + r"\\++" + q)
                   for q in "'\""}
_TO_LINE_END = re.compile(r"\\*+[\"']([^\n]*+)")
#: A bare value, after an optional HTTP auth scheme (``Authorization: Basic ...``).
_BARE = re.compile(r"((?i:basic|bearer|digest|token|negotiate)[ \t]++)?+([^\s,;'\"&)}\]>"
                   + CJK_STOPS + "]*+)")
#: A value after a copula: a run of printable ASCII (``密码是hunter2。...``), ending where a bare
#: value ends; prose (``密码是一个重要概念``) does not start with one.
_ASCII_RUN = re.compile("[" + re.escape("".join(
    c for c in map(chr, range(0x21, 0x7F)) if c not in ",;'\"&)}]>")) + "]++")
_NUMBER = re.compile(r"-?\d[\d_.,eE+\-]*|None|null|true|false|True|False")
_BRACKETS = re.compile(r"\\*+[\"'](?:[^\"'\\\n]|\\.)*+\\*+[\"']|[{}\[\]()]|[^{}\[\]()\"'\\]++|\\")
_CLOSE = {"{": "}", "[": "]", "(": ")"}


class Span(NamedTuple):
    """Where a secret stands in a text, end exclusive."""

    start: int
    end: int


def _bracketed_end(text: str, start: int) -> int:
    """The end of the bracketed structure opening at ``start`` (the line's end if unclosed)."""
    depth = 0
    for m in _BRACKETS.finditer(text, start):
        piece = m.group()
        if piece in _CLOSE:
            depth += 1
        elif piece in ("}", "]", ")"):
            depth -= 1
            if depth <= 0:
                return m.end()
        elif "\n" in piece and not piece.startswith(("'", '"', "\\")):
            return m.start() + piece.index("\n")
    return len(text)


def _value_span(text: str, pos: int) -> tuple[Span, str] | None:
    """The value starting at ``pos`` (after a separator) and how it was written, or None."""
    if pos >= len(text):
        return None
    first = text[pos]
    if first in "'\"":
        m = _QUOTED[first].match(text, pos)
        if m is not None:
            return Span(m.start(1), m.end(1)), "quoted"
    elif first == "\\":
        quote_at = pos
        while quote_at < len(text) and text[quote_at] == "\\":
            quote_at += 1
        if quote_at < len(text) and text[quote_at] in "'\"":
            m = _ESCAPED_QUOTED[text[quote_at]].match(text, pos)
            if m is not None:
                return Span(m.start(1), m.end(1)), "quoted"
    elif first in "{[(":
        return Span(pos, _bracketed_end(text, pos)), "bracketed"
    elif first in _CJK_QUOTED:
        m = _CJK_QUOTED[first].match(text, pos)
        if m is not None:
            return Span(m.start(1), m.end(1)), "quoted"
        # an unclosed CJK quote: the rest of the line, as for an ASCII quote (and so that
        # the pairs after it on the line are not each looked for a close quote again)
        end = text.find("\n", pos)
        if end == -1:
            end = len(text)
        return (Span(pos + 1, end), "quoted") if end > pos + 1 else None
    m = _TO_LINE_END.match(text, pos)  # an unclosed quote: the rest of the line
    if m is not None:
        return (Span(m.start(1), m.end(1)), "quoted") if m.end(1) > m.start(1) else None
    m = _BARE.match(text, pos)
    if m is None or m.end(2) == m.start(2):
        return None
    return Span(m.start(2), m.end(2)), "bare"


def _copula_value(text: str, pos: int) -> tuple[Span, str] | None:
    """The value after a copula (``密码是``) at ``pos``: quoted, or a run of printable ASCII;
    None for anything else (prose goes on in CJK)."""
    if pos >= len(text):
        return None
    first = text[pos]
    if first in _CJK_QUOTED or first in "'\"":
        return _value_span(text, pos)
    m = _ASCII_RUN.match(text, pos)
    if m is None:
        return None
    return Span(pos, m.end()), "bare"


#: Shorter substrings standing for several key names in the quick check.
_ANCHORS = {"api_key": "api", "apikey": "api", "api-key": "api", "password": "passw",
            "passwd": "passw"}
#: For key words of other characters than ASCII: one character of each (shared by several,
#: and rare in other words where there is a choice), looked for first in the quick check
#: (a one-character ``in`` is the fastest search in CJK text); a word not here goes by its
#: first character that is not ASCII.
_WIDE_ANCHORS = {"密码": "密", "密碼": "密", "密钥": "密", "密鑰": "密", "秘密鍵": "密",
                 "秘钥": "钥", "私钥": "钥", "秘鑰": "鑰", "私鑰": "鑰",
                 "口令": "令", "令牌": "令", "凭证": "凭", "凭据": "凭", "憑證": "憑", "憑據": "憑",
                 "パスワード": "ワ", "暗証番号": "暗", "apiキー": "キ",
                 "비밀번호": "밀", "비밀키": "밀", "패스워드": "워", "개인키": "키"}


def _wide_anchor(word: str) -> str:
    return _WIDE_ANCHORS.get(word) or next(c for c in word if not c.isascii())


def _has_case(word: str) -> bool:
    """Whether ``word`` has a character other than ASCII that has case (Cyrillic, Greek,
    ``ü``: ``ключ``, not ``密码``): lowercasing serialized JSON's bytes leaves it as written
    (``КЛЮЧ``), so it is looked for in any case in the decoded text."""
    return any(not c.isascii() and (c.lower() != c or c.upper() != c) for c in word)


#: The longest blob KeyRules keeps its last answer about (with the blob and its text).
_KEEP_SEEN = 1 << 16


class KeyRules:
    """Which key names are secret, and where ``key=value`` pairs with such keys stand in text.

    Args:
        keys: Key substrings (case-insensitive) whose values are secret.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = tuple(dict.fromkeys(k.lower() for k in keys if k))
        # the key words that are not ASCII are key words as json.dumps writes them too
        # (ensure_ascii: ``{"\\u5bc6\\u7801": ...}`` for ``{"密码": ...}``)
        escaped = escaped_folding(self.keys)
        self.words = re.compile(folding(self.keys) + ("" if escaped == "(?!)" else "|" + escaped))
        # key words of other characters than ASCII (CJK: 密码, パスワード) are looked for in
        # serialized JSON only where it has such characters, as text: in UTF-8 nearly every
        # character of CJK text starts with one of the few bytes theirs start with, where in
        # text a regex skips to the few characters they start with (see wide_pairs_in_json)
        narrow_keys = [k for k in self.keys if k.isascii()]
        wide_keys = sorted((k for k in self.keys if not k.isascii()), key=len, reverse=True)
        #: On lowercased bytes: the ASCII key words.
        self.byte_words = re.compile("|".join(
            re.escape(k) for k in sorted(narrow_keys, key=len, reverse=True)).encode() or b"(?!)")
        #: On lowercased serialized JSON decoded: the other key words (None if there is none);
        #: those with case beyond ASCII (a user's ``ключ``) in any case.
        self.wide_words = re.compile("|".join(
            f"(?i:{re.escape(k)})" if _has_case(k) else re.escape(k) for k in wide_keys)
        ) if wide_keys else None
        # "any key word?", on lowercased bytes: one literal regex per word (or a shorter part
        # of several: fast scans), "token" only where it is not a count's (see FREE_TOKEN)
        anchors = tuple(dict.fromkeys(_ANCHORS.get(k, k) for k in self.keys))
        narrow = [word for word in anchors if word.isascii()]
        words = [FREE_TOKEN if word == "token" else re.escape(word.encode()) for word in narrow]
        #: On lowercased serialized JSON: the key words that are not ASCII as json.dumps
        #: writes them (their backslashes doubled again); None if there is none. It opens
        #: with the literal ``\\u`` (rare in other text): a fast scan where it does not stand.
        self.escaped_byte_words = (re.compile(escaped_byte_scan(wide_keys))
                                   if wide_keys else None)
        if self.escaped_byte_words is not None:
            words.append(self.escaped_byte_words.pattern)
        self.byte_word_scans = tuple(re.compile(word) for word in words)
        self.short_byte_words = re.compile(b"|".join(words) or b"(?!)")
        # for anchored(): the words ANCHOR_SCANS do not stand for (a user's), longest first
        self._other_words = tuple(sorted((word.encode() for word in narrow
                                          if word not in ANCHORED_WORDS), key=len, reverse=True))
        # the wide ones by a character they share (密 for 密码, 密碼, 密钥, ...), looked for
        # with ``in`` in the decoded text (one character: a fast search), then the words
        # themselves where it stands (密 is in 秘密 too)
        groups: dict[str, list[str]] = {}
        cased = [key for key in wide_keys if _has_case(key)]
        for key in wide_keys:
            if key not in cased:
                groups.setdefault(_wide_anchor(key), []).append(key)
        self._wide_groups = tuple((anchor, () if anchor in members else tuple(members))
                                  for anchor, members in groups.items())
        #: the wide words with case (``ключ``): ``bytes.lower`` left them as written
        #: (``КЛЮЧ``), so they are looked for in any case, with a regex
        self._wide_cased = (re.compile("|".join(re.escape(key) for key in cased), re.IGNORECASE)
                            if cased else None)
        #: the last blob looked at for wide key words: (it, its text if one stands in it)
        self._wide_seen: tuple[bytes, str | None] = (b"", None)
        # anchored() in one pass over the bytes as they are, where Hyperscan is installed
        # (ANCHOR_SCANS look for "token" whatever the keys, as for the credential literals)
        self._one_pass = one_pass(b"token", _ESCAPED_LITERAL if wide_keys else None,
                                  (*ANCHOR_LITERALS, *self._other_words))
        self._kinds: dict[str, int] = {}
        self._lock = threading.Lock()

    def anchored(self, low: bytes) -> bool:
        """Whether lowercased serialized JSON holds anything a secret check could start from:
        a key word, or the literal one of DEFAULT_SCANS opens with. False means neither the
        key scan nor the value scans can match (patterns a user added aside)."""
        for scan in ANCHOR_SCANS:
            if scan.search(low) is not None:
                return True
        for word in self._other_words:
            if word in low:
                return True
        escaped = self.escaped_byte_words  # None exactly when wide_words is
        if escaped is None:
            return False
        # {"\\u5bc6\\u7801": ...}: a one-byte ``in`` (memchr) first, then the regex (it skips
        # to its literal faster than ``in`` finds a longer one)
        if b"\\" in low and escaped.search(low) is not None:
            return True
        return self._wide_text(low) is not None

    def first_look(self, blob: bytes, own: int = 0) -> bool | None:
        """:meth:`anchored` of ``blob.lower()[own:]`` in one pass over ``blob`` as it is, or
        None where that pass is not there (no Hyperscan): the caller asks :meth:`anchored`.

        The same answer: every literal :meth:`anchored` looks for is found in any case; a hit
        of "token" or of an escaped key word's ``\\u`` counts where their regexes (which
        look around the literal) confirm it; the key words that are not ASCII are looked for
        as :meth:`anchored` does, in the blobs that are not ASCII."""
        scan = self._one_pass
        if scan is None:
            return None
        hits = scan(memoryview(blob)[own:] if own else blob)
        if hits is None:
            return None
        if not hits and blob.isascii():  # the common case: nothing to start from
            return False
        if any(hit > ESCAPED for hit in hits):  # an anchor as it stands: no lowercased copy
            return True
        low = blob[own:].lower() if own else blob.lower()
        if TOKEN in hits and _FREE_TOKEN_SCAN.search(low) is not None:
            return True
        if ESCAPED in hits and self.escaped_byte_words is not None and (
                self.escaped_byte_words.search(low) is not None):
            return True
        return self._wide_text(low) is not None

    def _wide_text(self, low: bytes) -> str | None:
        """``low`` decoded if a key word that is not ASCII stands in it, else None (the last
        answer is kept: the quick check and the pairs' scan of one blob both ask)."""
        last = self._wide_seen
        if last[0] is low:
            return last[1]
        found = None
        if not low.isascii():
            text = low.decode("utf-8", "replace")
            for anchor, members in self._wide_groups:
                if anchor in text and (not members or any(word in text for word in members)):
                    found = text
                    break
            else:
                if self._wide_cased is not None and self._wide_cased.search(text) is not None:
                    found = text
        if len(low) <= _KEEP_SEEN:
            self._wide_seen = (low, found)
        return found

    def kind(self, name: str) -> int:
        """NOT_SECRET, SECRET, or COUNT (secret unless its value is a count)."""
        found = self._kinds.get(name)
        if found is None:
            if self.words.search(name) is None:
                found = NOT_SECRET
            elif name.isascii() and _NOT_KEY_CHARS.sub("", name.lower()) in COUNT_KEYS:
                found = COUNT
            else:
                found = SECRET
            with self._lock:
                if len(self._kinds) >= 4096:
                    self._kinds.clear()
                self._kinds[name] = found
        return found

    def masks(self, name: str, value: Any) -> bool:
        """Whether the value under key ``name`` is masked."""
        kind = self.kind(name)
        return kind == SECRET or (kind == COUNT and not is_count(value))

    def pairs(self, text: str) -> list[Span]:
        """The values of secret ``key=value`` / ``key: value`` / ``'key': 'value'`` pairs in
        ``text`` (Python reprs, JSON, JSON inside strings, headers, query strings)."""
        spans: list[Span] = []
        done = 0  # text before this belongs to a pair already read
        for hit in self.words.finditer(text):
            start = hit.start()
            if start < done:
                continue
            begin = _name_start(text, start, max(done, start - _NAME_BACK), _NAME_CHARS)
            name_end = _NAME_REST.match(text, hit.end()).end()  # type: ignore[union-attr]
            done = name_end
            sep = _SEPARATOR.match(text, name_end)
            if sep is not None:
                found = _value_span(text, sep.end())
            elif hit.group().isascii():
                continue
            else:  # a CJK key word: 密码是..., パスワードは...
                sep = _COPULA.match(text, name_end)
                if sep is None:
                    continue
                found = (_value_span if sep.group(1) else _copula_value)(text, sep.end())
            if found is None:
                continue
            span, how = found
            done = max(done, span.end)
            if span.end == span.start:
                continue
            kind = self.kind(text[begin:name_end])
            if kind == COUNT and _counts(text[span.start:span.end], how):
                continue
            spans.append(span)
        return spans

    def pairs_in_json(self, blob: bytes, low: bytes, start: int = 0) -> bool:
        """Whether serialized JSON holds a secret pair: a key of its own, or one written
        inside one of its strings. ``low`` is ``blob.lower()``; the scan starts at ``start``."""
        done = 0
        read = 0  # the strings before this are known not to be keys
        for hit in self.byte_words.finditer(low, start):
            at = hit.start()
            if at < done:
                continue
            name_end = _BYTE_NAME_REST.match(low, hit.end()).end()  # type: ignore[union-attr]
            done = name_end
            sep = _BYTE_SEPARATOR.match(low, name_end)
            begin = _name_start(low, at, max(0, at - _NAME_BACK), _BYTE_NAME_CHARS)
            if sep is None:
                # a ["name", value] pair (headers as a list of pairs)
                sep = _BYTE_PAIR.match(low, name_end)
                if sep is None or low[max(0, begin - 2):begin] != b'["':
                    if name_end >= read:  # a key with more after the word ("password hint")
                        is_key, read = _is_key(_BYTE_KEY_REST, low, name_end)
                        if is_key:
                            return True
                    continue
            name = blob[begin:name_end].decode("utf-8", "replace")
            kind = self.kind(name)
            if kind == SECRET:
                return True
            if kind == COUNT and _BYTE_COUNT.match(blob, sep.end()) is None:
                return True
        return self.wide_pairs_in_json(low, start) or self.escaped_pairs_in_json(low, start)

    def escaped_pairs_in_json(self, low: bytes, start: int = 0) -> bool:
        """Whether lowercased serialized JSON holds, in one of its strings, a pair whose name
        holds a key word that is not ASCII as json.dumps writes it (``{"\\u5bc6\\u7801":
        ...}``, ``\\u5bc6\\u7801=...``: at least where :meth:`pairs` finds one). Such a name is
        always secret. ``start``: where an ASCII prefix ends."""
        words = self.escaped_byte_words
        if words is None or b"\\" not in low:
            return False
        done = 0
        for hit in words.finditer(low, start):
            if hit.start() < done:
                continue
            done = _BYTE_NAME_REST.match(low, hit.end()).end()  # type: ignore[union-attr]
            if _BYTE_SEPARATOR.match(low, done) is not None:
                return True
        return False

    def wide_pairs_in_json(self, low: bytes, start: int = 0) -> bool:
        """Whether lowercased serialized JSON holds a key of its own, or a pair written in one
        of its strings, whose name holds a key word that is not ASCII (``"密码":``,
        ``密码: ...``, ``密码是hunter2``: at least where :meth:`pairs` finds one). Such a name
        is always secret (a count's name is ASCII). ``start``: where an ASCII prefix ends."""
        words = self.wide_words
        text = None if words is None else self._wide_text(low)
        if words is None or text is None:
            return False
        read = 0  # the strings before this are known not to be keys
        for hit in words.finditer(text, start):
            end = _NAME_REST.match(text, hit.end()).end()  # type: ignore[union-attr]
            if (_JSON_SEPARATOR.match(text, end) is not None
                    or _JSON_COPULA.match(text, end) is not None):
                return True
            if _JSON_PAIR.match(text, end) is not None:  # ["密码", value]
                at = hit.start()
                begin = _name_start(text, at, max(0, at - _NAME_BACK), _NAME_CHARS)
                if text[max(0, begin - 2):begin] == '["':
                    return True
            if end >= read:  # a key with more after the word ("密码 (旧)")
                is_key, read = _is_key(_JSON_KEY_REST, text, end)
                if is_key:
                    return True
        return False


_BYTE_NAME_REST = re.compile(rb"[a-z0-9_.\-]*+")
#: _SEPARATOR in serialized JSON (a tab is written ``\t``; CJK as UTF-8), for ASCII key words.
_JSON_SPACE = r"(?:[ \t\u3000]|\\t)*+"
_BYTE_SEPARATOR = re.compile(
    rb"(?:\\*+[\"'])?+\]?+(?:[ \t]|\\t|\xe3\x80\x80)*+"  # \u3000: e3 80 80
    rb"(?:[:=]|\xef\xbc\x9a|\xef\xbc\x9d)(?!=|\xef\xbc\x9d)")  # U+FF1A, U+FF1D
#: The same, and _COPULA with what a value after it must start with (printable ASCII, a CJK
#: quote) unless a separator follows it, in decoded JSON, for the other key words: they find
#: at least what KeyRules.pairs masks in the strings serialized.
_JSON_SEPARATOR = re.compile(r"(?:\\*+[\"'])?+\]?+" + _JSON_SPACE + _COLON)
_JSON_COPULA = re.compile(_JSON_SPACE + "(?:" + "|".join(COPULAS) + ")" + _JSON_SPACE + "(?:"
                          + _COLON + "|(?=[!-~" + "".join(CJK_QUOTES) + "]))")
_JSON_PAIR = re.compile(r'"[ \t]*+,')
#: The rest of a JSON string, and the colon after it if it is a key (group 1).
_JSON_KEY_REST = re.compile(r'(?:[^"\\]++|\\.)*+"[ \t]*+(:)?')
_BYTE_KEY_REST = re.compile(_JSON_KEY_REST.pattern.encode())
_BYTE_PAIR = re.compile(rb'"[ \t]*+,[ \t]*+')
#: A count's value in JSON: a number, null, or an object (whose keys are looked at too).
_BYTE_COUNT = re.compile(rb"-|\d|null\b|None\b|\{")
_BYTE_NAME_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_.-")


def _name_start(text: str | bytes, start: int, floor: int, chars: frozenset[Any]) -> int:
    """Where the key name holding the word found at ``start`` begins: back over ``chars``
    (``_NAME_CHARS`` in text, ``_BYTE_NAME_CHARS`` in bytes), not before ``floor``."""
    while start > floor and text[start - 1] in chars:
        start -= 1
    return start


def _is_key(rest: re.Pattern[Any], text: str | bytes, at: int) -> tuple[bool, int]:
    """Whether the JSON string going on at ``at`` is a key (a colon follows it), and where
    the string ends (the text's end if it does not): ``rest`` is ``_JSON_KEY_REST`` for text,
    ``_BYTE_KEY_REST`` for bytes."""
    key = rest.match(text, at)
    if key is None:
        return False, len(text)
    return key.group(1) is not None, key.end()


def _counts(value: str, how: str) -> bool:
    """Whether a written value under a count key is a count (so it is kept)."""
    if how == "bracketed":
        return value.startswith("{")
    return _NUMBER.fullmatch(value.strip()) is not None


# -- remembered values ----------------------------------------------------------------------------


def variants(value: str) -> list[str]:
    """``value`` as it appears in derived strings: itself, inside a Python repr, inside JSON
    (as orjson writes it, and as ``json.dumps`` writes it by default: non-ASCII escaped)."""
    found = [value]
    escaped = orjson.dumps(value).decode("utf-8")[1:-1]
    ascii_form = escaped.encode("ascii", "backslashreplace").decode("ascii")
    if ascii_form != escaped:  # json.dumps writes \u00e4 where Python writes \xe4
        ascii_form = re.sub(r"\\x([0-9a-f]{2})", r"\\u00\1", ascii_form)
        ascii_form = re.sub(r"\\U([0-9a-f]{8})", lambda m: _surrogates(int(m.group(1), 16)),
                            ascii_form)
    for form in (repr(value)[1:-1], escaped, ascii_form):
        if form not in found:
            found.append(form)
    return found


#: A credential's well-known prefix: the rest of it is remembered alone too.
_PREFIXED = re.compile(r"(?:sk-(?:ant-|proj-)?|[Bb]earer\s++|gh[pousr]_|github_pat_)(.{16,})",
                       re.DOTALL)


def _with_cores(found: Iterable[str]) -> Iterable[str]:
    """``found``, each value followed by its core when it has one: without a credential's
    prefix (``sk-proj-``, ``Bearer ``), and without trailing punctuation that a bare value
    took from the sentence it ended (``password=hunter2.``)."""
    for value in found:
        yield value
        core = value.rstrip(".,:;!?")
        if core != value:
            yield core
        prefixed = _PREFIXED.match(core)
        if prefixed is not None:
            yield prefixed.group(1)


def _surrogates(code: int) -> str:
    """A code point past the BMP as ``json.dumps`` writes it: a surrogate pair."""
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def worth_remembering(value: str) -> bool:
    """Whether a masked value is remembered for the rest of its trace."""
    return (MIN_REMEMBERED <= len(value) <= MAX_REMEMBERED_CHARS
            and value.lower() not in _NOT_REMEMBERED and MASK not in value)


#: Every character that can stand inside a secret word; streamed text is held from the last
#: character outside it (see chainsink.processors._holdback).
WORD_CHARS = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
              "_-.+/=:@~%")
_WORD_SET = frozenset(WORD_CHARS)


class Memory:
    """The secret values seen in one trace, to mask wherever they show up again in it.

    Matched as plain substrings (``str.find``, ``bytes in``): adding a value costs the
    value's own forms, never a recompiled regex of all of them.
    """

    __slots__ = ("blob_forms", "forms", "spaced", "values")

    def __init__(self) -> None:
        #: raw value -> its forms (what it looks like in text), oldest first
        self.values: dict[str, tuple[str, ...]] = {}
        #: every form of every value; replaced (never changed) on each addition, so that
        #: readers on other threads see old or new, and its identity tells a change
        self.forms: tuple[str, ...] = ()
        #: the forms as serialized JSON holds them
        self.blob_forms: tuple[bytes, ...] = ()
        #: the forms holding a character outside WORD_CHARS (a stream holds their starts)
        self.spaced: tuple[str, ...] = ()

    def add(self, found: Iterable[str]) -> bool:
        """Remember ``found``; True if anything was new."""
        new = False
        values = self.values
        for value in _with_cores(found):
            if value not in values and worth_remembering(value):
                values[value] = tuple(form for form in variants(value)
                                      if len(form) >= MIN_REMEMBERED)
                new = True
        if not new:
            return False
        while len(values) > MAX_REMEMBERED:
            del values[next(iter(values))]
        forms = tuple(dict.fromkeys(form for group in values.values() for form in group))
        blob_forms = tuple(dict.fromkeys(orjson.dumps(form)[1:-1] for form in forms))
        spaced = tuple(form for form in forms if not _WORD_SET.issuperset(form))
        # one assignment each: readers on other threads see old or new, never half
        self.blob_forms, self.spaced, self.forms = blob_forms, spaced, forms
        return True

    def spans(self, text: str) -> list[Span]:
        """Where the remembered values stand in ``text``."""
        spans: list[Span] = []
        for form in self.forms:
            at = text.find(form)
            while at != -1:
                end = at + len(form)
                spans.append(Span(at, end))
                at = text.find(form, end)
        return spans

    def in_text(self, text: str) -> bool:
        """Whether a remembered value stands in ``text``."""
        return any(form in text for form in self.forms)

    def in_blob(self, blob: bytes) -> bool:
        """Whether a remembered value stands in serialized JSON."""
        return any(form in blob for form in self.blob_forms)


class Memories:
    """Per-trace :class:`Memory`, bounded: the oldest trace is forgotten past ``limit``.

    A trace is not forgotten when its root ends: runs may still end after it (a branch, a
    task the root did not wait for), and their records must stay masked.
    """

    def __init__(self, limit: int = 1024) -> None:
        #: trace id (int) -> its memory; read without a lock (a dict lookup is atomic).
        self.traces: dict[int, Memory] = {}
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, trace: int) -> Memory | None:
        """The trace's memory, if it has one."""
        return self.traces.get(trace)

    def add(self, trace: int, found: Iterable[str]) -> Memory | None:
        """Remember ``found`` for ``trace``; the trace's memory (None if nothing is in it)."""
        with self._lock:
            memory = self.traces.get(trace)
            if memory is None:
                memory = Memory()
                if not memory.add(found):
                    return None
                if len(self.traces) >= self._limit:
                    del self.traces[next(iter(self.traces))]
                self.traces[trace] = memory
            else:
                memory.add(found)
            return memory


@functools.lru_cache(maxsize=32)
def key_rules(keys: tuple[str, ...]) -> KeyRules:
    """The :class:`KeyRules` of ``keys``, built once per set of keys and shared (building its
    regexes takes about 0.3 ms, paid again by a handler made per request otherwise; what it
    keeps, each name's verdict and the last blob looked at, depends on the keys alone)."""
    return KeyRules(keys)
