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
* a CJK key word, or the start of one (``密``, ``パスワ``), and what may still be its value:
  after its copula a run of printable ASCII (``密码是hunter2``), after its separator a bare
  value not yet ended by a space or CJK punctuation (``密码:hunter2``, the colon full-width
  too), or a value in CJK
  quotes not yet closed (``密码是「hunter 2``);
* the start of a value remembered in the trace that holds a character outside the set.

The rest is held until the next token, masked with the same rules as any string, and the
joined records equal the masked text. Every token still gets one record, one token late: a
record is written when the next token (or the run's end) comes, carrying the text decided by
its own token (possibly empty); the last one also gets what is still held when the run ends,
before the end's record. A run holds at most :data:`MAX_HELD`
characters: past that its text is written as ``***`` and the rest of the word is dropped.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal

from chainsink.processors._secrets import (
    CJK_QUOTES,
    CJK_STOPS,
    COPULAS,
    FULLWIDTH_SEPARATORS,
    MASK,
    WORD_CHARS,
    Span,
    folding,
)

__all__ = ["MAX_HELD", "MAX_STREAMS", "NOTHING", "WORD_CHARS", "HoldBack", "masked", "merged"]

#: Most characters a run holds back; a longer held text is masked whole.
MAX_HELD = 4096
#: Runs holding text at most; past it the oldest run's held text is dropped.
MAX_STREAMS = 10_000
#: How far back from a cut a pending key name is looked for.
_WINDOW = 96
#: Most times a cut moves back over a pending key name; past it, in text chaining them
#: (``password: password: ...``), everything is held (so each token costs at most this
#: many steps, not one per key name held).
_MAX_STEPS = 4
#: HTTP auth scheme words, held with what follows them like key names.
_SCHEMES = ("bearer", "basic", "digest", "negotiate")
_NAME = r"[A-Za-z0-9_.\-]*+"
_SPACES = r"[ \t\u3000]*+"
_COLON = "[:=" + FULLWIDTH_SEPARATORS + "]"
_COPULA = "(?:" + "|".join(COPULAS) + ")"
#: A value in CJK quotes, still open.
_CJK_OPEN = "[" + "".join(CJK_QUOTES) + "][^" + "".join(CJK_QUOTES.values()) + "\\n]*+"
#: A bare value still going on (see chainsink.processors._secrets._BARE).
_BARE_RUN = "[^\\s,;'\"&)}\\]>" + CJK_STOPS + "]*+"


def _wide_pending(wide: Sequence[str]) -> str:
    """A regex for what ends a stream's text while a pair with one of the CJK key words
    ``wide`` may be going on (see the module's docstring). It opens with the words' first
    characters (``re`` skips the positions where none stands)."""
    after_colon = f"{_SPACES}(?:{_CJK_OPEN}|{_BARE_RUN})"
    after_copula = f"{_SPACES}(?:{_COLON}{after_colon}|{_CJK_OPEN}|[!-~]*+)"
    return (f"(?:{folding(wide)}){_NAME}(?:\\W{{0,8}}|{_SPACES}(?:{_COPULA}{after_copula}"
            f"|{_COLON}{after_colon}))\\Z")


def _opening(words: str, copula: bool) -> str:
    """A regex for a key name and its separator (or copula) right before an opening quote."""
    sep = f"(?:{_COLON}|{_COPULA}{_SPACES}{_COLON}?)" if copula else _COLON
    return (f"(?:{words}){_NAME}(?:\\\\*+[\"'])?+\\]?+{_SPACES}{sep}{_SPACES}"
            f"\\\\*+\\Z")


#: What :meth:`HoldBack.swap` returns for a run's first token: no record to write yet.
NOTHING: Any = object()


@functools.lru_cache(maxsize=32)
def _patterns(keys: tuple[str, ...]) -> tuple[
        re.Pattern[str], re.Pattern[str], re.Pattern[str] | None, frozenset[str], tuple[int, ...],
        frozenset[str], re.Pattern[str]]:
    """HoldBack's regexes and word sets for ``keys``, built once per set of keys (a handler
    made per request would build them each time: about 0.3 ms)."""
    narrow = [key for key in keys if key.isascii()]
    wide = [key for key in keys if not key.isascii()]
    words = folding((*narrow, *_SCHEMES))
    #: a key name (or scheme) and at most 8 separator characters ending the text
    pending = re.compile(f"(?:{words}){_NAME}\\W{{0,8}}\\Z")
    #: a key name and its separator right before an opening quote (the text's end)
    opening = re.compile(_opening(words, False))
    # CJK key words are looked for at the tail of the text (where the characters after
    # it are all in WORD_CHARS), and once more where the cut moved back to the start of
    # something held that a CJK pair's value may run into (an ASCII key word in it:
    # "密码是hunter2secret"): not before a CJK key word, which such a value cannot run
    # through ("密码是" * n would be stepped back over one at a time, where the
    # characters of ASCII key words are stripped at once)
    #: a pair with a CJK key word that may be going on, ending the text
    wide_pending = re.compile(_wide_pending(wide)) if wide else None
    #: the starts of the CJK key words that end in a character outside WORD_CHARS
    #: (lowercased; those ending in one are held anyway), by length
    wide_starts = frozenset(key[:i] for key in wide for i in range(1, len(key))
                            if key[i - 1] not in WORD_CHARS)
    lengths = tuple(sorted({len(start) for start in wide_starts}, reverse=True))
    ends = frozenset(start[-1] for start in wide_starts)
    #: as opening, with the CJK key words and their copulas
    opening_tail = (re.compile(_opening(folding((*keys, *_SCHEMES)), True)) if wide
                    else opening)
    return pending, opening, wide_pending, wide_starts, lengths, ends, opening_tail


class HoldBack:
    """The held text of every streaming run of one processor.

    Args:
        keys: The secret key substrings (lowercase).
    """

    def __init__(self, keys: Sequence[str]) -> None:
        (self._pending, self._opening, self._wide_pending, self._wide_starts,
         self._wide_start_lengths, self._wide_start_ends, self._opening_tail) = _patterns(
            tuple(keys))
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
        # CJK key words: at the tail (2: and the start of one there), then once more (1)
        wide = 2 if self._wide_pending is not None and not text.isascii() else 0
        steps = 0
        while end > 0:
            back = self._back(text, end, spaced, wide)
            if back >= end:
                break
            steps += 1
            if steps > _MAX_STEPS:  # key names chained ("password: password: ..."): all held
                return 0
            end = len(text[:back].rstrip(WORD_CHARS))
            if wide:
                wide = 1 if wide == 2 and "!" <= text[end] <= "~" else 0
        return end

    def _back(self, text: str, end: int, spaced: Sequence[str], wide: int) -> int:
        best = end
        window = end - _WINDOW if end > _WINDOW else 0
        found = self._pending.search(text, window, end)
        if found is not None:
            best = found.start()
        opening = self._opening
        if wide and self._wide_pending is not None:
            opening = self._opening_tail
            found = self._wide_pending.search(text, window, end)
            if found is not None and found.start() < best:
                best = found.start()
            if wide == 2 and text[end - 1] in self._wide_start_ends:  # 密, パスワ: a start
                for length in self._wide_start_lengths:
                    if length <= end and text[end - length:end].lower() in self._wide_starts:
                        best = min(best, end - length)
                        break
        if '"' in text or "'" in text:  # a quote: a key's value may be opening
            line = text.rfind("\n", 0, end) + 1
            for quote in "\"'":
                at = text.rfind(quote, line, end)
                if at > 0:
                    found = opening.search(text, max(line, at - _WINDOW), at)
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

    def advance(self, run: int, token: str, spaced: Sequence[str],
                secret: Callable[[str], bool]) -> str | Literal[False] | None:
        """:meth:`take`, :meth:`keep` and :meth:`swap` at once, for a token whose decided
        text ``secret`` clears: the value of the run's record that this token lets go (False
        for the run's first token, whose record comes with the next one).

        None changes nothing, and the token takes the full path: the run is dropping an
        over-long word, its held text would run over MAX_HELD, a content-block record is
        pending, or ``secret`` finds something in the decided text.
        """
        swallowing = self.swallowing
        if swallowing and run in swallowing:
            return None
        pending = self.pending
        previous = pending.get(run, NOTHING)
        if previous is not NOTHING and type(previous) is not str:
            return None
        runs = self.runs
        held = runs.get(run)
        text = token if held is None else held + token
        cut = self.cut(text, spaced)
        size = len(text)
        if size - cut > MAX_HELD:
            return None
        emit = text[:cut] if cut else ""
        if cut and secret(emit):
            return None
        if cut < size:  # as keep()
            if held is None and len(runs) >= MAX_STREAMS:
                del runs[next(iter(runs))]  # a run open this long: its word is dropped
            runs[run] = text[cut:]
        elif held is not None:
            del runs[run]
        if previous is NOTHING:  # as swap()
            if len(pending) >= MAX_STREAMS:
                del pending[next(iter(pending))]  # a run open this long: its record is lost
            pending[run] = emit
            return False
        del pending[run]  # re-inserted: the oldest run stays first
        pending[run] = emit
        return previous  # type: ignore[no-any-return]

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
