"""Masking secrets before any sink sees them."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from typing import Any, Literal

from chainsink._jsonable import data_json, to_jsonable
from chainsink._schema import END_KINDS, ERROR_KINDS, Event
from chainsink.processors._holdback import MAX_STREAMS, NOTHING, HoldBack, masked, merged
from chainsink.processors._scan import RunVerdicts, run_blob
from chainsink.processors._secrets import (
    DEFAULT_KEYS,
    DEFAULT_PATTERNS,
    DEFAULT_SCANS,
    FAST_VALUES,
    FAST_VALUES_MIN,
    MASK,
    URL_CREDENTIALS,
    Memories,
    Memory,
    Span,
    key_rules,
)
from chainsink.typing import TokenRule

HIDDEN = "[hidden]"

_CLOSING = END_KINDS | ERROR_KINDS
#: Blobs up to this many bytes are scanned with one regex per check, longer ones per pattern.
_SHORT_BLOB = 64
#: Names remembered at most with their verdict (names repeat: every run of a chain class).
_MAX_NAMES = 4096

_INPUTS = frozenset({"inputs", "prompts", "messages", "input_str", "query", "tool_input"})
_OUTPUTS = frozenset({"outputs", "return_values", "log", "token"})
_NOTHING: frozenset[str] = frozenset()

_OWN_TOKEN_KEY = b'{"token":'
_ESCAPES = re.compile(r"\\(?:u([0-9a-fA-F]{4})|(.))")
_ESCAPED = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    if code is not None:
        return chr(int(code, 16))
    char = match.group(2)
    return _ESCAPED.get(char, char)


def _strings_of(blob: bytes) -> str:
    """Serialized JSON with its strings' escapes undone (what a user's pattern looks at)."""
    text = blob.decode("utf-8", "replace")
    return _ESCAPES.sub(_unescape, text) if "\\" in text else text


class Redactor:
    """A processor that masks secrets in an event's payload, run name, tags and metadata.

    Values under keys that look secret (``*api_key*``, ``*secret*``, ``*password*``,
    ``authorization``, ``cookie``, ``*token*``, and the CJK words for them: ``*密码*``,
    ``*密鑰*``, ``*令牌*``, ``*パスワード*``, ``*비밀번호*``, ...: see ``CJK_KEYS``; a token
    count such as ``total_tokens`` keeps a numeric value) and substrings that look like
    credentials (``sk-...`` keys, ``Bearer ...``, AWS ``AKIA...``, GitHub ``ghp_...`` and
    ``github_pat_...``, JWTs, ``user:password@`` in URLs) become ``"***"``, wherever they
    stand in text. So do the values of secret ``key=value`` pairs written inside strings
    (``{'password': '...'}`` in a tool's ``input_str``, JSON in a string,
    ``Authorization: Basic ...``), and after a CJK key word its separator (full-width too)
    or copula (``密码是hunter2``, ``パスワードは...``, ``비밀번호는 ...``; after a copula only a
    run of printable ASCII, so prose is kept; a value ends at CJK punctuation). pydantic
    ``SecretStr`` values are never revealed.

    A value masked once is remembered for the rest of its trace (values of at least 4
    characters, up to 128 per trace) and masked in every string of the trace it shows up in
    again: an agent's log, a formatted prompt, an error message, a tag, streamed tokens.
    Streamed tokens that may be the start of a secret are held back until the text after them
    decides; then each gets its own record again, but the tokens a secret spans get one,
    masked. What is held when the run ends is written before its end record. Released
    records come back with the event that released them, in a tuple. The state is per run:
    give each handler its own Redactor.

    Events with nothing to mask pass through untouched: the check is a scan over the
    serialized payload (its first look one Hyperscan pass when ``chainsink[scan]`` is
    installed, see ``chainsink/processors/_onepass.py``), and tags and metadata are checked
    once per run.

    Args:
        keys: Extra key substrings to treat as secret (added to the defaults).
        patterns: Extra regular expressions for secret values (added to the defaults). They
            are matched in each string and each token, not across tokens.
        mask: Optional callable applied to every string value after the built-in rules; return
            the string to keep (e.g. to mask customer ids).
        hide_inputs: Replace inputs (``inputs``, ``prompts``, ``messages``, ``input_str``,
            ``query``, ``tool_input``) with ``"[hidden]"``, and what repeats them: a text
            event's ``text`` (LLMChain's formatted prompt), a prompt run's ``outputs`` and an
            agent action's ``log``.
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
        extra = self.patterns[len(DEFAULT_PATTERNS):]
        self._extra = re.compile("|".join(f"(?:{p})" for p in extra)) if extra else None
        # long blobs: one literal-led regex per pattern (fast scans); short blobs: one regex
        # for all (fewer calls). Both find the same secrets.
        self._value_scans = DEFAULT_SCANS
        self._short_value_scans = (re.compile(b"|".join(s.pattern for s in DEFAULT_SCANS)),)
        self._keys = key_rules(tuple(self.keys))
        self._memories = Memories()
        self._traces = self._memories.traces
        self._hold = HoldBack(self._keys.keys)
        self._held = self._hold.runs
        #: run id (int) -> the fields (type, index) of the text block its tokens came in
        self._blocks: dict[int, dict[str, Any]] = {}
        #: run id (int) -> a token event of each run streaming through (popped at its end)
        self._streams: dict[int, Event] = {}
        self._hidden = ((_INPUTS if hide_inputs else _NOTHING)
                        | (_OUTPUTS if hide_outputs else _NOTHING))
        self._hidden_text = self._hidden | {"text"}
        self._hidden_log = self._hidden | {"log"}
        self._hidden_outputs = self._hidden | {"outputs"}
        self._run_has_secret = RunVerdicts(self._has_secret)
        self._names: dict[str, bool] = {}
        self._last_run: tuple[Any, ...] | None = None

    # -- deciding cheaply -----------------------------------------------------------------------

    def _has_secret(self, blob: bytes) -> bool:
        """Whether serialized JSON holds a secret-looking value or a value under a secret key
        (its own keys, or pairs written inside its strings)."""
        short = len(blob) <= _SHORT_BLOB
        keys = self._keys
        # a token event's own "token" key is chainsink's, not a payload's
        own = len(_OWN_TOKEN_KEY) if blob.startswith(_OWN_TOKEN_KEY) else 0
        # a long blob is looked at closely only where a first look finds something the scans
        # below could start from: one pass with Hyperscan, else one pass per rare letter
        look = True if short else keys.first_look(blob, own)
        low = b"" if look is False else blob.lower()
        if look is None:
            look = keys.anchored(low[own:] if own else low)
        if look:
            for word in (keys.short_byte_words,) if short else keys.byte_word_scans:
                if word.search(low, own) is not None:
                    if keys.pairs_in_json(blob, low, own):
                        return True
                    break
            else:  # no ASCII key word: a CJK one (密码) may still be there
                if not low.isascii() and keys.wide_pairs_in_json(low, own):
                    return True
            # a plain loop: no generator per event
            for scan in self._short_value_scans if short else self._value_scans:
                if scan.search(blob) is not None:
                    return True
        return self._extra is not None and self._extra.search(_strings_of(blob)) is not None

    def _text_has_secret(self, text: str) -> bool:
        # a streamed word is short: the patterns that cannot fit in it are not tried
        return ((len(text) >= FAST_VALUES_MIN and FAST_VALUES.search(text) is not None)
                or ("://" in text and URL_CREDENTIALS.search(text) is not None)
                or (self._extra is not None and self._extra.search(text) is not None)
                or (self._keys.words.search(text) is not None and bool(self._keys.pairs(text))))

    def _memory_of(self, event: Event) -> Memory | None:
        traces = self._traces
        return traces.get(event.trace_id.int) if traces else None

    def _run_needs(self, event: Event, memory: Memory | None) -> bool:
        """Whether the run's name, tags or metadata need masking."""
        forms = None if memory is None else memory.forms
        last = self._last_run  # a run's events (its tokens) come in a row
        if (last is not None and last[0] is event.run_id and last[1] is event.tags
                and last[2] is event.metadata and last[3] is event.name and last[4] is forms
                and event.event not in _CLOSING):
            verdict: bool = last[5]
            return verdict
        verdict = self._run_verdict(event, memory)
        self._last_run = (event.run_id, event.tags, event.metadata, event.name, forms, verdict)
        return verdict

    def _run_verdict(self, event: Event, memory: Memory | None) -> bool:
        if self._run_has_secret(event):
            return True
        name = event.name
        verdict = self._names.get(name)
        if verdict is None:
            verdict = self._text_has_secret(name)
            if len(self._names) >= _MAX_NAMES:
                self._names.clear()
            self._names[name] = verdict
        if verdict:
            return True
        if memory is not None:
            return memory.in_text(name) or memory.in_blob(run_blob(event.tags, event.metadata))
        return False

    def _hidden_for(self, event: Event) -> frozenset[str]:
        if self.hide_inputs:
            kind = event.event
            if kind == "text":
                return self._hidden_text
            if kind == "agent_action":  # its log repeats the tool input
                return self._hidden_log
            if kind == "chain_end" and event.run_type == "prompt":  # the inputs, formatted
                return self._hidden_outputs
        return self._hidden

    def _needed(self, event: Event, hidden: frozenset[str], memory: Memory | None) -> bool:
        if self.mask is not None or (hidden and not hidden.isdisjoint(event.data)):
            return True
        if self._run_needs(event, memory):
            return True
        if not event.data:
            return False
        blob = data_json(event)
        if self._has_secret(blob):
            return True
        return memory is not None and memory.in_blob(blob)

    def token_rule(self, event: Event) -> TokenRule | None:
        """Tokens of ``event``'s run are decided by a cheap step while they need no masking.

        None (every token is checked in full) with ``mask``, ``hide_outputs``, or secrets in
        the run's name, tags or metadata.
        """
        if self.mask is not None or "token" in self._hidden:
            return None
        memory = self._memory_of(event)
        if self._run_needs(event, memory):
            return None
        run, trace = event.run_id.int, event.trace_id.int
        hold, traces, has_secret = self._hold, self._traces, self._text_has_secret
        self._stream(event)

        advance = hold.advance

        def step(token: str) -> str | Literal[False] | None:
            # None: nothing taken, the token goes through __call__
            known = traces.get(trace) if traces else None
            if known is None:
                return advance(run, token, (), has_secret)
            return advance(run, token, known.spaced,
                           lambda text: has_secret(text) or known.in_text(text))

        return TokenRule(sys.maxsize, None, step)

    # -- masking ------------------------------------------------------------------------------

    def __call__(self, event: Event) -> Event | tuple[Event, ...] | None:
        """Return ``event``, or a copy with its secrets masked; with the token record of text
        held back for its run first, when it ends the run. A streamed token whose text is all
        held back gives None (no record)."""
        kind = event.event
        if kind == "llm_new_token":
            return self._token(event)
        if kind in _CLOSING and (self._hold.pending or self._held or self._hold.swallowing
                                 or self._blocks):
            record = self._release(event)
            if record is not None:
                return (record, self._event(event))
        return self._event(event)

    def release_all(self) -> list[Event]:
        """The last token record of every stream that has not ended, with the text still held
        back: what its handler writes when it closes before those runs end."""
        streams, self._streams = self._streams, {}
        out = []
        for event in streams.values():
            record = self._release(event)
            if record is not None:
                out.append(record)
        return out

    def _release(self, event: Event) -> Event | None:
        """The token record of the text held for ``event``'s run, which it ends."""
        run = event.run_id.int
        self._streams.pop(run, None)
        block = self._blocks.pop(run, None)
        held = self._hold.release(run)
        previous = self._hold.pending.pop(run, NOTHING)
        if previous is NOTHING and not held:
            return None
        tail = self._mask_stream(held, event) if held else ""
        token = event.replace(event="llm_new_token", data={})
        if previous is NOTHING or type(previous) is str:
            text = ("" if previous is NOTHING else previous) + tail
            if block is not None:  # the run streamed content blocks: the tail is one too
                return self._event(token.replace(data={"token": [{**block, "text": text}]}))
            return self._token_record(token, text)
        value = list(previous)  # a content-block token: the tail as one more text block
        if tail:
            value.append({**(block or {"type": "text"}), "text": tail})
        return self._event(token.replace(data={"token": value}))

    def _event(self, event: Event) -> Event:
        hidden = self._hidden_for(event)
        if not self._needed(event, hidden, self._memory_of(event)):
            return event
        return self._redact(event, hidden)

    def _stream(self, event: Event) -> None:
        """Remember a token event of ``event``'s run, for :meth:`release_all`."""
        streams = self._streams
        run = event.run_id.int
        if run not in streams:
            if len(streams) >= MAX_STREAMS:
                del streams[next(iter(streams))]
            streams[run] = event

    def _token(self, event: Event) -> Event | None:
        self._stream(event)
        token = event.data.get("token")
        if "token" in self._hidden:
            return self._event(event)
        if type(token) is str:
            previous = self._hold.swap(event.run_id.int, self._decide(event, token))
            if previous is NOTHING:
                return None  # the run's first token: its record waits for the next one
            if type(previous) is str:
                return self._token_record(event, previous)
            return self._event(event.replace(data={**event.data, "token": previous}))
        if type(token) is list:
            out: list[Any] = []
            texts = False
            for item in token:
                if type(item) is str:
                    texts = True
                    decided = self._decide(event, item)
                    if decided:
                        out.append(decided)
                elif (isinstance(item, dict) and item.get("type") == "text"
                      and isinstance(item.get("text"), str)):
                    texts = True
                    self._blocks[event.run_id.int] = {k: v for k, v in item.items()
                                                      if k != "text"}
                    decided = self._decide(event, item["text"])
                    if decided:
                        out.append({**item, "text": decided})
                else:
                    out.append(item)
            if texts:
                previous = self._hold.swap(event.run_id.int, out)
                if previous is NOTHING:
                    return None  # the run's first token: its record waits for the next one
                if type(previous) is str:
                    return self._token_record(event, previous)
                event = event.replace(data={**event.data, "token": previous})
        return self._event(event)

    def _decide(self, event: Event, token: str) -> str:
        """The text of ``event``'s run that its token ``token`` decides, masked."""
        run = event.run_id.int
        memory = self._memory_of(event)
        hold = self._hold
        emit, held, over = hold.take(run, token, () if memory is None else memory.spaced)
        hold.keep(run, held, over)
        text = self._mask_stream(emit, event) if emit else emit
        return text + MASK if over else text

    def _mask_stream(self, text: str, event: Event) -> str:
        """Streamed ``text`` masked; the values found in it are remembered for the trace."""
        spans = self._found_in(text)
        if spans:
            memory = self._memories.add(event.trace_id.int,
                                        [text[span.start:span.end] for span in spans])
        else:
            memory = self._memory_of(event)
        if memory is not None:
            spans.extend(memory.spans(text))
        return masked(text, 0, len(text), merged(spans)) if spans else text

    def _token_record(self, event: Event, text: str) -> Event:
        """A token event carrying ``text`` (already masked by the built-in rules)."""
        if self.mask is not None:
            text = self.mask(text)
        memory = self._memory_of(event)
        if not self._run_needs(event, memory):
            if text == event.data.get("token"):
                return event  # let go unchanged
            return event.replace(data={**event.data, "token": text})
        data = {**event.data, "token": text}
        return event.replace(data=data, name=self._clean_str(event.name, memory),
                             metadata=self._clean(to_jsonable(event.metadata), memory),
                             tags=self._clean(to_jsonable(event.tags), memory))

    def _redact(self, event: Event, hidden: frozenset[str]) -> Event:
        values = {key: to_jsonable(value) for key, value in event.data.items()
                  if key not in hidden}
        metadata = to_jsonable(event.metadata)
        tags = to_jsonable(event.tags)
        # first every secret of the event, so that each is masked in all its strings
        found: list[str] = []
        for part in (*values.values(), metadata, tags, event.name):  # data's keys are ours
            self._collect(part, found, False)
        memory = (self._memories.add(event.trace_id.int, found) if found
                  else self._memory_of(event))
        data = {key: HIDDEN if key in hidden else self._clean(values[key], memory)
                for key in event.data}
        return event.replace(data=data, metadata=self._clean(metadata, memory),
                             tags=self._clean(tags, memory),
                             name=self._clean_str(event.name, memory))

    def _collect(self, value: Any, found: list[str], secret: bool) -> None:
        """Add to ``found`` the secrets in a JSON-able ``value`` (all of it if ``secret``)."""
        if isinstance(value, str):
            if secret:
                found.append(value)
            else:
                found.extend(value[s.start:s.end] for s in self._found_in(value))
        elif isinstance(value, dict):
            keys = self._keys
            for key, item in value.items():
                self._collect(key, found, False)
                self._collect(item, found, secret or keys.masks(key, item))
        elif isinstance(value, list):
            keys = self._keys
            for item in value:
                if _is_pair(item) and keys.masks(item[0], item[1]):  # [("X-Api-Key", v)]
                    self._collect(item[0], found, secret)
                    self._collect(item[1], found, True)
                else:
                    self._collect(item, found, secret)
        elif secret and isinstance(value, (int, float)) and not isinstance(value, bool):
            found.append(str(value))

    def _found_in(self, text: str) -> list[Span]:
        """Pattern matches and secret pairs' values in ``text``."""
        spans = [Span(*m.span()) for m in FAST_VALUES.finditer(text)]
        spans.extend(Span(*m.span(1)) for m in URL_CREDENTIALS.finditer(text))
        if self._extra is not None:
            spans.extend(Span(*m.span()) for m in self._extra.finditer(text))
        if self._keys.words.search(text) is not None:
            spans.extend(self._keys.pairs(text))
        return spans

    def _spans(self, text: str, memory: Memory | None) -> list[Span]:
        spans = self._found_in(text)
        if memory is not None:
            spans.extend(memory.spans(text))
        return merged(spans) if spans else spans

    def _clean(self, value: Any, memory: Memory | None) -> Any:
        if isinstance(value, str):
            return self._clean_str(value, memory)
        if isinstance(value, dict):
            # a credential can be a key too (a dict indexed by API key)
            keys = self._keys
            return {self._clean_str(k, memory): MASK if keys.masks(k, v)
                    else self._clean(v, memory) for k, v in value.items()}
        if isinstance(value, list):
            keys = self._keys
            return [[self._clean_str(v[0], memory), MASK]
                    if _is_pair(v) and keys.masks(v[0], v[1]) else self._clean(v, memory)
                    for v in value]
        return value

    def _clean_str(self, text: str, memory: Memory | None) -> str:
        spans = self._spans(text, memory)
        if spans:
            text = masked(text, 0, len(text), spans)
        return self.mask(text) if self.mask is not None else text


def _is_pair(value: Any) -> bool:
    """Whether ``value`` is a (name, value) pair: a header in a list of headers."""
    return type(value) is list and len(value) == 2 and type(value[0]) is str
