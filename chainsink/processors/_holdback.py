"""Holding back the end of streamed text until the word it ends with is finished.

A model streaming ``s``, ``k``, ``-``, ``p``, ... one character per token would leave a key
readable by joining the token records, though no single token holds a secret. So a run's
streamed text is cut only where a secret cannot be going on: each token's record carries the
run's text up to the last character outside :data:`WORD_CHARS` (every character that can
stand inside a secret word: ``sk-...``, ``AKIA...``, JWTs, ``user:pw@host``, ``key=value``),
moved further back to the start of

* a secret key name followed by at most 8 separator characters (``password": "``,
  ``api_key=``, ``Authorization: ``) or by an opened quote its value is still in
  (``password = "correct horse``), or an HTTP auth scheme word (``Bearer ``, ``Basic ``);
* the start of a value remembered in the trace that holds a character outside the set.

The rest is held until the next token, masked with the same rules as any string, and the
joined records equal the masked text. Every token still gets one record, one token late: a
record is written when the next token (or the run's end) comes, carrying the text decided by
its own token (possibly empty); the last one also gets what is still held when the run ends,
before the end's record. A run holds at most :data:`MAX_HELD`
characters: past that its text is written as ``***`` and the rest of the word is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from chainsink.processors._secrets import MASK, WORD_CHARS, Span, folding

__all__ = ["MAX_HELD", "MAX_STREAMS", "NOTHING", "WORD_CHARS", "HoldBack", "masked", "merged"]

#: Most characters a run holds back; a longer held text is masked whole.
MAX_HELD = 4096
#: Runs holding text at most; past it the oldest run's held text is dropped.
MAX_STREAMS = 10_000
#: How far back from a cut a pending key name is looked for.
_WINDOW = 96
#: HTTP auth scheme words, held with what follows them like key names.
_SCHEMES = ("bearer", "basic", "digest", "negotiate")
_NAME = r"[A-Za-z0-9_.\-]*+"


#: What :meth:`HoldBack.swap` returns for a run's first token: no record to write yet.
NOTHING: Any = object()


class HoldBack:
    """The held text of every streaming run of one processor.

    Args:
        keys: The secret key substrings (lowercase).
    """

    def __init__(self, keys: Sequence[str]) -> None:
        words = folding((*keys, *_SCHEMES))
        #: a key name (or scheme) and at most 8 separator characters ending the text
        self._pending = re.compile(f"(?:{words}){_NAME}\\W{{0,8}}\\Z")
        #: a key name and its separator right before an opening quote (the text's end)
        self._opening = re.compile(f"(?:{words}){_NAME}(?:\\\\*+[\"'])?+\\]?+[ \\t]*+"
                                   f"[:=][ \\t]*+\\\\*+\\Z")
        #: run id (int) -> its held text; a run not in it holds nothing
        self.runs: dict[int, str] = {}
        #: run id (int) -> the token value of its last token's record, written when the next
        #: token or the run's end comes (so a run keeps one record per token: the end's
        #: record gets what is still held)
        self.pending: dict[int, Any] = {}
        #: runs dropping the rest of an over-long word
        self.swallowing: set[int] = set()

    def cut(self, text: str, spaced: Sequence[str] = ()) -> int:
        """Where ``text`` (a run's held text and its new token) is cut: what is before is
        decided, what is after is held. ``spaced``: the remembered forms holding a character
        outside WORD_CHARS."""
        end = len(text.rstrip(WORD_CHARS))
        while end > 0:
            back = self._back(text, end, spaced)
            if back >= end:
                break
            end = len(text[:back].rstrip(WORD_CHARS))
        return end

    def _back(self, text: str, end: int, spaced: Sequence[str]) -> int:
        best = end
        found = self._pending.search(text, end - _WINDOW if end > _WINDOW else 0, end)
        if found is not None:
            best = found.start()
        if '"' in text or "'" in text:  # a quote: a key's value may be opening
            line = text.rfind("\n", 0, end) + 1
            for quote in "\"'":
                at = text.rfind(quote, line, end)
                if at > 0:
                    found = self._opening.search(text, max(line, at - _WINDOW), at)
                    if found is not None and found.start() < best:
                        best = found.start()
        for form in spaced:
            first = form[0]
            at = text.find(first, max(0, end - len(form) + 1), best)
            while at != -1:
                if form.startswith(text[at:end]):
                    best = at
                    break
                at = text.find(first, at + 1, best)
        return best

    def take(self, run: int, token: str, spaced: Sequence[str]) -> tuple[str, str, bool]:
        """The next token of ``run``: (the text decided now, unmasked; what stays held;
        whether the held text ran over MAX_HELD, so the decided text ends with ``***``).
        Changes nothing: :meth:`keep` stores the outcome."""
        if self.swallowing and run in self.swallowing:
            token = token.lstrip(WORD_CHARS)
            if not token:
                return "", "", True
        held = self.runs.get(run)
        text = token if held is None else held + token
        cut = self.cut(text, spaced)
        if len(text) - cut > MAX_HELD:
            return text[:cut], "", True
        return text[:cut], text[cut:], False

    def keep(self, run: int, held: str, over: bool) -> None:
        """Store what ``run`` holds after a token (see :meth:`take`)."""
        runs = self.runs
        if over:
            runs.pop(run, None)
            self.swallowing.add(run)
            return
        if self.swallowing:
            self.swallowing.discard(run)
        if held:
            if run not in runs and len(runs) >= MAX_STREAMS:
                del runs[next(iter(runs))]  # a run open this long: its word is dropped
            runs[run] = held
        elif runs:
            runs.pop(run, None)

    def swap(self, run: int, value: Any) -> Any:
        """Keep ``value`` as ``run``'s pending record value; return the one it replaces
        (:data:`NOTHING` for the run's first token)."""
        pending = self.pending
        previous = pending.pop(run, NOTHING)
        if previous is NOTHING and len(pending) >= MAX_STREAMS:
            del pending[next(iter(pending))]  # a run open this long: its last record is lost
        pending[run] = value
        return previous

    def release(self, run: int) -> str:
        """End ``run``'s hold: its held text (unmasked)."""
        if self.swallowing:
            self.swallowing.discard(run)
        return self.runs.pop(run, "")


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
