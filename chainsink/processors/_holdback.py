"""Holding back streamed text that may be the start of a secret until it is decided.

A model streaming ``s``, ``k``, ``-``, ``p``, ... one character per token would leave a key
readable by joining the token records, though no single token holds a secret. So the text of a
run's tokens is held from the first place where a secret may be starting (the start of a
pattern's literal such as ``sk-`` or ``eyJ``, a secret key name, the start of a value remembered
in the trace) until the text after it decides it. Then each held token gets its record as it
came, except that the tokens a secret spans get one record together, with the secret masked.
What is still held when the run ends is written before its end.

Every step is linear in the text it is given, and a run holds at most :data:`MAX_HELD`
characters: a candidate that runs longer is written as ``***`` and the rest of it is swallowed.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from chainsink._event import Event
from chainsink.processors._secrets import MASK, Memory, Span

#: Most characters a run holds back; a longer candidate is masked whole.
MAX_HELD = 4096
#: Runs holding text at most; past it the oldest run's text is written.
MAX_STREAMS = 10_000
#: Held text up to this long is re-checked in full on each token; past it only the new token
#: is checked against the candidate's tail.
_SHORT = 64


class Detector(NamedTuple):
    """Where a kind of secret can start in streamed text and how far it can run.

    A candidate starts where ``start`` matches; ``body`` matched there reaches the end of the
    text while the candidate is undecided (more text may make it a secret). ``tail`` matches
    what a long candidate can continue with (at least that: holding longer is safe).
    """

    start: re.Pattern[str]
    body: re.Pattern[str]
    tail: re.Pattern[str]


_RUN = r"[A-Za-z0-9_\-]"
_ALNUM = r"[A-Za-z0-9]"
_WORD = r"[A-Za-z0-9_]"
#: (what may not stand before a start, the literals, the body after a literal, the tail)
#: of each default pattern, as its regexes in DEFAULT_PATTERNS have them.
_LITERALS: tuple[tuple[str, Sequence[str], str, str], ...] = (
    (_RUN, ("sk-",), r"[A-Za-z0-9_\-]*+", r"[A-Za-z0-9_\-]*+"),
    (_RUN, ("Bearer", "bearer"), r"\s*+[A-Za-z0-9\-._~+/]*+=*+", r"[A-Za-z0-9\-._~+/=]*+"),
    (_ALNUM, ("AKIA",), r"[0-9A-Z]{0,16}+", r"[0-9A-Z]*+"),
    (_ALNUM, ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"[A-Za-z0-9]*+", r"[A-Za-z0-9]*+"),
    (_WORD, ("github_pat_",), r"[A-Za-z0-9_]*+", r"[A-Za-z0-9_]*+"),
    (_RUN, ("eyJ",), r"[A-Za-z0-9_\-]*+(?:\.[A-Za-z0-9_\-]*+){0,2}+", r"[A-Za-z0-9_\-.]*+"),
)
#: The body of a ``key=value`` pair from its key word on: to the end of the text while the
#: pair may still get a value or its value may still go on.
_PAIR_BODY = (r"[A-Za-z0-9_.\-]*+(?:\\*+(?:[\"']|\Z))?+\]?+[ \t]*+"
              r"(?:\Z|[:=](?!=)[ \t]*+(?:\\*+(?:\"[^\"\n]*+|'[^'\n]*+|\Z)|[{\[(][^\n]*+"
              r"|(?:(?i:basic|bearer|digest|token|negotiate)[ \t]++)?+[^\s,;'\"&)}\]>]*+))?+")


class _Entry(NamedTuple):
    """A literal that starts a candidate, for the regexes that find one in text.

    ``boundary``: what may not stand right before its held prefix (None: anything may);
    ``fold``: case-insensitive after its first character; ``shortest``: the shortest prefix
    held at the end of a text; ``anywhere``: the shortest held after other text (``" a"``,
    ``" to"`` end one prose token in twenty); a shorter one is held as a whole token (``"a"``
    in a stream of characters) or after an apostrophe alone (``"'s"``).
    """

    text: str
    boundary: str | None
    fold: bool = False
    shortest: int = 1
    anywhere: int = 3


def _trie(entries: Sequence[_Entry], starts: bool, ends: bool = True) -> str:
    """A regex for ``entries``' held prefixes at the end of the text (``prefix\\Z`` after its
    boundary) and, with ``starts``, their literals anywhere (and short prefixes only as the
    whole text: see ``_Entry.anywhere``; without, every prefix after its boundary).

    Written as a trie whose branches each open with a plain character, so that ``re`` skips
    the positions no entry starts at, and tries few branches at the others: a token is
    checked in well under a microsecond.
    """
    root: dict[Any, Any] = {}
    for entry in entries:
        node = root
        for depth, char in enumerate(entry.text, 1):
            folded = entry.fold and depth > 1
            node = node.setdefault(("char", char.lower() if folded else char, folded), {})
            if ends and entry.shortest <= depth < len(entry.text):
                if starts and depth < min(entry.anywhere, len(entry.text) - 1):
                    # the whole text, or after an apostrophe alone: tokenizers split
                    # 'sk-...' as "'s" + "k" + "-..." ('s, 't are contractions to them)
                    condition = (f"(?<![\\s\\S]{{{depth + 1}}})|(?<![\\s\\S]{{{depth + 2}}})"
                                 f"(?<=['\u2019][\\s\\S]{{{depth}}})")
                elif entry.boundary is None:
                    condition = ""
                else:
                    condition = f"(?<!{entry.boundary}[\\s\\S]{{{depth}}})"
                node.setdefault("ends", {})[condition] = None
        node["complete"] = True

    def emit(node: dict[Any, Any]) -> str:
        if starts and node.get("complete"):
            return ""  # the literal itself: a match, whatever follows
        alternatives = []
        ends = node.get("ends")
        if ends:
            alternatives.append(r"\Z" if "" in ends else f"(?:{'|'.join(ends)})\\Z")
        for key, child in node.items():
            if isinstance(key, tuple):
                _, char, folded = key
                literal = f"(?i:{re.escape(char)})" if folded else re.escape(char)
                inner = emit(child)
                if inner:
                    alternatives.append(f"{literal}(?:{inner})")
                elif starts:  # a whole literal
                    alternatives.append(literal)
        return "|".join(alternatives)

    return emit(root) or "(?!)"


class Detectors(NamedTuple):
    """The detectors for a set of key words, and what a token must match to need them."""

    detectors: tuple[Detector, ...]
    #: A held prefix (of a literal or key word, after its boundary) ending the text.
    end_prefix: re.Pattern[str]
    #: How far from the end ``end_prefix`` can start.
    prefix_len: int
    #: A regex (source) for text that could hold or start a secret: a literal anywhere, or a
    #: held prefix at the end. Text it does not match starts no candidate.
    suspect: str
    #: Where a detector may start (each then tells whether it does): its literal.
    starts: re.Pattern[str]


@functools.lru_cache(maxsize=32)
def build(words: tuple[str, ...]) -> Detectors:
    """The default detectors, plus ``key=value`` pairs for the key ``words`` (built once per
    set of words: handlers are often made per request)."""
    detectors = []
    entries: list[_Entry] = []
    for behind, literals, body, tail in _LITERALS:
        alternatives = "|".join(re.escape(lit) for lit in literals)
        detectors.append(Detector(re.compile(f"(?<!{behind})(?:{alternatives})"),
                                  re.compile(f"(?:{alternatives}){body}"), re.compile(tail)))
        entries.extend(_Entry(lit, behind) for lit in literals)
    # a URL's credentials follow "://", its scheme before it may be in the previous token:
    # "://" starts a candidate on its own, and ":/" ending a text is held
    detectors.append(Detector(re.compile("://"), re.compile(r"://[^\s/?#'\"]*+"),
                              re.compile(r"[^\s/?#'\"]*+")))
    entries.append(_Entry("://", None, shortest=2))
    if words:
        # a key word starts a name or a camelCase part of one: db_password, dbPassword
        alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        detectors.append(Detector(
            re.compile(f"(?:(?<![a-z])|(?=[A-Z]))(?i:{alternatives})"),
            re.compile(f"(?i:{alternatives}){_PAIR_BODY}"), re.compile(r"[^\n'\"]*+")))
        for word in words:
            entries.append(_Entry(word.lower(), "[a-z]", fold=True))
            entries.append(_Entry(word[:1].upper() + word[1:].lower(), None, fold=True))
    longest = max(len(entry.text) for entry in entries)
    return Detectors(tuple(detectors), re.compile(f"(?:{_trie(entries, False)})"), longest,
                     _trie(entries, True), re.compile(_trie(entries, True, ends=False)))


class _Held:
    """A run's held tokens (their events and texts, in order) and how they are decided.

    ``offset`` is where the undecided candidate starts in ``text`` (held tokens are whole:
    the token it starts in is held from its start) and ``owner`` its detector, if known.
    ``swallow`` is set while the rest of an over-long candidate is being dropped.
    """

    __slots__ = ("events", "offset", "owner", "swallow", "text", "texts")

    def __init__(self, events: list[Event], texts: list[str], text: str, offset: int,
                 owner: Detector | None, swallow: re.Pattern[str] | None = None) -> None:
        self.events = events
        self.texts = texts
        self.text = text
        self.offset = offset
        self.owner = owner
        self.swallow = swallow


#: What the hold-back asks of the Redactor: the secrets' spans in a text of a trace.
SpanFinder = Callable[[str, "Memory | None"], list[Span]]

Piece = tuple[Event, str]
"""A token record to write: the event whose fields it takes, and its (masked) text."""


def masked(text: str, start: int, end: int, spans: Sequence[Span]) -> str:
    """``text[start:end]`` with each span inside it replaced by ``***``."""
    out = []
    at = start
    for span in spans:
        if span.end <= at or span.start >= end:
            continue
        out.append(text[at:max(at, span.start)])
        out.append(MASK)
        at = max(at, span.end)
    out.append(text[at:end])
    return "".join(out)


def merged(spans: list[Span]) -> list[Span]:
    """``spans`` sorted, overlapping ones joined."""
    spans.sort()
    out: list[Span] = []
    for span in spans:
        if out and span.start < out[-1].end:
            if span.end > out[-1].end:
                out[-1] = Span(out[-1].start, span.end)
        else:
            out.append(span)
    return out


def _records(events: Sequence[Event], texts: Sequence[str], text: str, start: int,
             spans: Sequence[Span], pieces: list[Piece]) -> None:
    """Append a record per token of ``texts`` (``text`` from ``start`` on), masked, joining
    tokens that a secret spans into one record (the last one's event)."""
    begin = at = start
    last = len(texts) - 1
    for index, (event, token) in enumerate(zip(events, texts, strict=True)):
        at += len(token)
        if index == last or not any(s.start < at < s.end for s in spans):
            pieces.append((event, masked(text, begin, at, spans)))
            begin = at


class HoldBack:
    """The held text of every streaming run of one processor.

    Args:
        detectors: What can start a secret (:func:`build`).
        spans: Finds the (merged, sorted) secrets in a text of a trace.
        memory_of: The remembered values of an event's trace.
    """

    def __init__(self, detectors: Detectors, spans: SpanFinder,
                 memory_of: Callable[[Event], Memory | None]) -> None:
        self._detectors = detectors
        self._spans = spans
        self._memory_of = memory_of
        #: run id (int) -> its held tokens; a run not in it holds nothing.
        self.runs: dict[int, _Held] = {}

    def cut(self, text: str, memory: Memory | None) -> tuple[int, Detector | None]:
        """Where the first undecided candidate in ``text`` starts (``len(text)`` if none), and
        the detector it belongs to (None for a literal's start or a remembered value)."""
        n = len(text)
        best = n
        owner: Detector | None = None
        detectors = self._detectors
        found = detectors.end_prefix.search(text, max(0, n - detectors.prefix_len))
        if found is not None:
            best = found.start()
        # one scan finds where any detector starts; only those start before the best so
        # far matter, and their literals end soon after it
        done: dict[Detector, int] = {}
        limit = min(n, best + 16)
        start = detectors.starts.search(text, 0, limit)
        while start is not None:
            at = start.start()
            if at >= best:
                break
            start = detectors.starts.search(text, at + 1, limit)  # starts may overlap
            for detector in detectors.detectors:
                if at < done.get(detector, 0) or detector.start.match(text, at) is None:
                    continue  # not its start, or inside a candidate of its already decided
                end = detector.body.match(text, at).end()  # type: ignore[union-attr]
                if end >= n:
                    best, owner = at, detector
                    break
                done[detector] = end
            if owner is not None:
                break
        if memory is not None:
            for value in memory.raw:
                first = value[0]
                at = text.find(first, max(0, n - len(value) + 1), best)
                while at != -1:
                    if value.startswith(text[at:]):
                        best, owner = at, None
                        break
                    at = text.find(first, at + 1, best)
        return best, owner

    def feed(self, event: Event, token: str, memory: Memory | None) -> list[Piece]:
        """Take the next string token of ``event``'s run; return the records to write now."""
        run = event.run_id.int
        held = self.runs.get(run)
        pieces: list[Piece] = []
        if held is not None and held.swallow is not None:  # inside an over-long candidate
            eaten = held.swallow.match(token).end()  # type: ignore[union-attr]
            if eaten == len(token):
                return pieces
            token = token[eaten:]
            del self.runs[run]
            held = None
        if held is None:
            events, texts, text = [event], [token], token
        else:
            text = held.text + token
            owner = held.owner
            if owner is not None and len(text) <= MAX_HELD:
                if len(held.text) - held.offset > _SHORT:
                    still = owner.tail.match(token).end() == len(token)  # type: ignore[union-attr]
                else:
                    body = owner.body.match(text, held.offset)
                    still = body is not None and body.end() >= len(text)
                if still:
                    held.events.append(event)
                    held.texts.append(token)
                    held.text = text
                    return pieces
            events, texts = [*held.events, event], [*held.texts, token]
        cut, owner = self.cut(text, memory)
        n = len(text)
        # hold whole tokens: from the start of the one the candidate starts in, and of the
        # one a secret across that point starts in
        starts = []
        at = 0
        for token_text in texts:
            starts.append(at)
            at += len(token_text)
        kept = len(texts) if cut >= n else _token_at(starts, cut)
        spans = self._spans(text, memory) if kept > 0 else []
        if kept == len(texts) and not spans:  # all decided, nothing to mask: as they came
            self.runs.pop(run, None)
            return list(zip(events, texts, strict=True))
        for span in reversed(spans):
            if kept < len(texts) and span.start < starts[kept] < span.end:
                kept = _token_at(starts, span.start)
        aligned = starts[kept] if kept < len(texts) else n
        _records(events[:kept], texts[:kept], text, 0, spans, pieces)
        if kept == len(texts):
            self.runs.pop(run, None)
        elif n - aligned > MAX_HELD:  # too long to wait for: masked, swallowed till it ends
            pieces.append((event, masked(text, aligned, cut, spans) + MASK))
            tail = owner.tail if owner is not None else re.compile(r"\S*+")
            self._keep(run, _Held([], [], "", 0, None, tail), pieces)
        else:
            self._keep(run, _Held(events[kept:], texts[kept:], text[aligned:], cut - aligned,
                                  owner), pieces)
        return pieces

    def _keep(self, run: int, held: _Held, pieces: list[Piece]) -> None:
        runs = self.runs
        if run not in runs and len(runs) >= MAX_STREAMS:  # the oldest run's text is written
            pieces[:0] = self.release(next(iter(runs)))
        runs[run] = held

    def release(self, run: int) -> list[Piece]:
        """End ``run``'s hold: the records of its held tokens, masked."""
        held = self.runs.pop(run, None)
        pieces: list[Piece] = []
        if held is not None and held.events:
            text = held.text
            spans = self._spans(text, self._memory_of(held.events[-1]))
            _records(held.events, held.texts, text, 0, spans, pieces)
        return pieces


def _token_at(starts: Sequence[int], position: int) -> int:
    """The index of the token that ``position`` falls in (``starts``: where each starts)."""
    return max(0, bisect.bisect_right(starts, position) - 1)
