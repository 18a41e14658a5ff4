"""Masking secrets before any sink sees them."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from typing import Any

from chainsink._event import Event
from chainsink._jsonable import data_json, to_jsonable
from chainsink.processors._scan import RunVerdicts, TokenRule

MASK = "***"

#: Key names whose values are masked: substrings, case-insensitive.
DEFAULT_KEYS = ("api_key", "apikey", "api-key", "secret", "password", "passwd", "token",
                "authorization", "cookie", "credential", "private_key")

#: Values that look like credentials wherever they appear.
DEFAULT_PATTERNS = (
    r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}",  # OpenAI / Anthropic style keys
    r"\b[Bb]earer\s+[A-Za-z0-9\-._~+/]{8,}=*",  # bearer tokens
    r"\bAKIA[0-9A-Z]{16}\b",  # AWS access key ids
    r"\bgh[pousr]_[A-Za-z0-9]{20,}\b",  # GitHub tokens
    r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}",  # JWTs
)

#: DEFAULT_PATTERNS for scanning serialized bytes, one regex each, each opening with a literal
#: (with ``\b`` as a look-behind after it): ``re`` finds a literal prefix with a fast scan, where
#: one alternation of ``\b``-anchored patterns is tried at every position (3-4x slower).
_DEFAULT_SCANS = tuple(re.compile(p) for p in (
    rb"sk-(?<![A-Za-z0-9_]sk-)(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}",
    rb"Bearer(?<![A-Za-z0-9_]Bearer)\s+[A-Za-z0-9\-._~+/]{8,}=*",
    rb"bearer(?<![A-Za-z0-9_]bearer)\s+[A-Za-z0-9\-._~+/]{8,}=*",
    rb"AKIA(?<![A-Za-z0-9_]AKIA)[0-9A-Z]{16}\b",
    rb"gh(?<![A-Za-z0-9_]gh)[pousr]_[A-Za-z0-9]{20,}\b",
    rb"eyJ(?<![A-Za-z0-9_]eyJ)[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}",
))

#: Shorter substrings standing for several key names in the quick pre-check.
_ANCHORS = {"api_key": "api", "apikey": "api", "api-key": "api", "password": "passw",
            "passwd": "passw"}

# token counts are not secrets: total_tokens, input_token_details, max_tokens, ...
_NOT_SECRET = re.compile(r"tokens|token_(?:count|details|usage|type)|_token_details", re.I)
#: "token" where _NOT_SECRET cannot match it: a key found secret for its "token" has one.
_COUNT_FREE_TOKEN = rb"token(?!s|_(?:count|details|usage|type))"

#: Every JSON string in order, with the colon that makes it a key. Possessive, and each match
#: consumes its whole string, so the scan is linear: a quote escaped inside a string is never
#: taken for the start of one (an unanchored key pattern restarted there, quadratic in the
#: quotes of a long string).
_JSON_STRINGS = re.compile(rb'"((?:[^"\\]++|\\.)*+)"(\s*:)?')

#: Blobs up to this many bytes are scanned with one regex per check, longer ones per pattern.
_SHORT_BLOB = 64

#: Key verdicts remembered at most (keys repeat across events: usage, metadata, messages).
_MAX_KEY_VERDICTS = 4096


class Redactor:
    """A processor that masks secrets in an event's payload, tags and metadata.

    Values under keys that look secret (``*api_key*``, ``*secret*``, ``*password*``,
    ``authorization``, ``cookie``, ``*token*`` but not token counts such as ``total_tokens``)
    and substrings that look like credentials (``sk-...`` keys, ``Bearer ...``, AWS
    ``AKIA...``, GitHub ``ghp_...``, JWTs) become ``"***"``. pydantic ``SecretStr`` values are
    never revealed. Events with nothing to mask pass through untouched: the check is a
    substring scan over the serialized payload, and tags and metadata are checked once per run.

    Args:
        keys: Extra key substrings to treat as secret (added to the defaults).
        patterns: Extra regular expressions for secret values (added to the defaults).
        mask: Optional callable applied to every string value after the built-in rules; return
            the string to keep (e.g. to mask customer ids).
        hide_inputs: Replace inputs (``inputs``, ``prompts``, ``messages``, ``input_str``,
            ``query``, ``tool_input``) with ``"[hidden]"``.
        hide_outputs: Replace outputs (``outputs``, ``return_values``, ``log``, streamed
            ``token``) with ``"[hidden]"``.
    """

    def __init__(self, *, keys: Iterable[str] = (), patterns: Iterable[str] = (),
                 mask: Callable[[str], str] | None = None, hide_inputs: bool = False,
                 hide_outputs: bool = False) -> None:
        self.keys = tuple(k.lower() for k in (*DEFAULT_KEYS, *keys))
        self.patterns = tuple((*DEFAULT_PATTERNS, *patterns))
        self.mask = mask
        self.hide_inputs = hide_inputs
        self.hide_outputs = hide_outputs
        self._values = re.compile("|".join(f"(?:{p})" for p in self.patterns))
        extra = self.patterns[len(DEFAULT_PATTERNS):]
        # long blobs: one literal-led regex per pattern (fast scans); short blobs: one regex
        # for all (fewer calls). Both find the same secrets.
        self._value_scans = _DEFAULT_SCANS + (
            (re.compile("|".join(f"(?:{p})" for p in extra).encode()),) if extra else ())
        self._short_value_scans = (re.compile(self._values.pattern.encode()),)
        self._key_re = re.compile("|".join(re.escape(k) for k in self.keys), re.I)
        # what a lowercased blob must contain for a key check to be worth it: fewer, shorter
        # words, and "token" only where it is not a token count (see _secret_key)
        words = [_COUNT_FREE_TOKEN if word == b"token" else re.escape(word)
                 for word in dict.fromkeys(_ANCHORS.get(k, k).encode() for k in self.keys)]
        self._key_words = tuple(re.compile(word) for word in words)
        self._short_key_words = (re.compile(b"|".join(words)),)
        self._key_verdicts: dict[bytes, bool] = {}  # JSON key -> is it a secret key?
        self._hidden = (({"inputs", "prompts", "messages", "input_str", "query", "tool_input"}
                         if hide_inputs else set())
                        | ({"outputs", "return_values", "log", "token"}
                           if hide_outputs else set()))
        self._run_has_secret = RunVerdicts(self._has_secret)

    def _secret_key(self, key: str) -> bool:
        return bool(self._key_re.search(key)) and not _NOT_SECRET.search(key)

    def _has_secret(self, blob: bytes, own_first_key: bool = False) -> bool:
        """Whether serialized JSON holds a secret-looking value or a value under a secret key.

        ``own_first_key``: the blob's first key is chainsink's own (a token event's
        ``"token"``), not a payload's.
        """
        short = len(blob) <= _SHORT_BLOB
        low = blob.lower()
        for word in self._short_key_words if short else self._key_words:
            if word.search(low) is not None:
                break
        else:
            word = None
        if word is not None:
            keys = [key for key, colon in _JSON_STRINGS.findall(blob) if colon]
            if own_first_key and keys and keys[0] == b"token":
                del keys[0]
            verdicts = self._key_verdicts
            for key in keys:
                secret = verdicts.get(key)
                if secret is None:
                    if len(verdicts) >= _MAX_KEY_VERDICTS:
                        verdicts.clear()
                    secret = self._secret_key(key.decode("utf-8", "replace"))
                    verdicts[key] = secret
                if secret:
                    return True
        # a plain loop: no generator per event
        for scan in self._short_value_scans if short else self._value_scans:
            if scan.search(blob) is not None:
                return True
        return False

    def _needed(self, event: Event) -> bool:
        if self.mask is not None or (self._hidden and not self._hidden.isdisjoint(event.data)):
            return True
        if self._run_has_secret(event):
            return True
        if event.event == "llm_new_token":
            token = event.data.get("token")
            if isinstance(token, str):  # the hottest event: a bare value, no keys to check
                return self._values.search(token) is not None
            return self._has_secret(data_json(event), own_first_key=True)
        return bool(event.data) and self._has_secret(data_json(event))

    def token_rule(self, event: Event) -> TokenRule | None:
        """Tokens of ``event``'s run pass unchanged unless they match a secret pattern.

        None (every token is checked in full) with ``mask``, ``hide_outputs``, or secrets in
        the run's tags or metadata.
        """
        if self.mask is not None or "token" in self._hidden or self._run_has_secret(event):
            return None
        return TokenRule(sys.maxsize, self._values)

    def __call__(self, event: Event) -> Event:
        """Return ``event``, or a copy with its secrets masked."""
        if not self._needed(event):
            return event
        data = {}
        for key, value in event.data.items():
            if key in self._hidden:
                data[key] = "[hidden]"
            else:
                data[key] = self._clean(to_jsonable(value))
        return event.replace(
            data=data, metadata=self._clean(to_jsonable(event.metadata)),
            tags=[self._clean_str(t) for t in to_jsonable(event.tags)])

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._clean_str(value)
        if isinstance(value, dict):
            # a credential can be a key too (a dict indexed by API key)
            return {self._clean_str(k): MASK if self._secret_key(k) else self._clean(v)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self._clean(v) for v in value]
        return value

    def _clean_str(self, text: Any) -> Any:
        if not isinstance(text, str):
            return text
        text = self._values.sub(MASK, text)
        return self.mask(text) if self.mask is not None else text
