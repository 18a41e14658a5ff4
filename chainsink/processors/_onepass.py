"""The secret check's first look at a serialized event in one pass, with Hyperscan when present.

:meth:`~chainsink.processors._secrets.KeyRules.anchored` decides whether a serialized event
holds anything the secret check could start from: a key word, or the literal a credential
pattern opens with. With ``re`` that is eight passes over the lowercased bytes (``bytes.lower``
is one more). With the optional ``hyperscan`` package (``pip install chainsink[scan]``) it is
one pass over the bytes as they are, at memory-scan speed: every such literal, in any case, in
one database. A hit of a literal whose own rule has more to it ("token" outside a token count,
``\\\\u`` of an escaped key word) is confirmed with that rule's regex; any other hit means
"anchored". So the answer is exactly ``re``'s, reached without the passes on the events that
hold none of them (most of a chain's events).

``CHAINSINK_SCAN=re`` in the environment keeps the ``re`` passes (for comparing the two).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Sequence
from typing import Any

#: The id of a hit confirmed by the "token" rule (FREE_TOKEN) and of one confirmed by the
#: escaped key words' regex; the others are anchors as they stand.
TOKEN, ESCAPED = 0, 1
#: Blobs up to this size are scanned (hyperscan's block mode takes a 32-bit length).
_MAX_SCAN = 1 << 31


@functools.cache
def _hyperscan() -> Any:
    """The ``hyperscan`` module (the extra "scan"; imported when the first Redactor is made,
    not with chainsink), or None."""
    try:
        import hyperscan  # optional, and 15-25 ms to load: not with chainsink
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return hyperscan


def engine() -> str:
    """Which engine the secret check's first pass uses: ``"hyperscan <version>"`` or ``"re"``."""
    hs = _hyperscan()
    if hs is None or os.environ.get("CHAINSINK_SCAN", "").lower() == "re":
        return "re"
    return f"hyperscan {getattr(hs, '__version__', '?')}"


def _hit(id_: int, start: int, end: int, flags: int, hits: Any) -> None:
    hits.append(id_)


def _pattern(literal: bytes) -> str:
    """A literal as a Hyperscan expression (every byte escaped: any word is safe)."""
    return "".join(f"\\x{byte:02x}" for byte in literal)


class OnePass:
    """The literals of an anchor check found in one Hyperscan pass, case-insensitively.

    Args:
        token: Literal of the "token" rule (its hits confirmed by the caller), or None.
        escaped: Literal of the escaped key words (its hits confirmed by the caller), or None.
        anchors: Literals whose hit alone anchors.

    Calling it returns the ids found (each once): an empty list for none, :data:`TOKEN` and
    :data:`ESCAPED` for those rules, anything else for an anchor; None when the pass could
    not be made (the caller then uses ``re``).
    """

    def __init__(self, token: bytes | None, escaped: bytes | None,
                 anchors: Sequence[bytes]) -> None:
        hs = self._hs = _hyperscan()
        if hs is None:
            raise RuntimeError("hyperscan is not installed")
        present = [(i, _pattern(literal))
                   for i, literal in enumerate((token, escaped, *anchors)) if literal]
        self._db = hs.Database(mode=hs.HS_MODE_BLOCK)
        # one report per expression at most: a blob full of "token" calls back once
        flags = hs.HS_FLAG_CASELESS | hs.HS_FLAG_SINGLEMATCH
        self._db.compile(expressions=[e.encode() for _, e in present],
                         ids=[i for i, _ in present], elements=len(present),
                         flags=[flags] * len(present))
        self._local = threading.local()  # a scratch space per thread: scans release the GIL

    def __call__(self, data: Any) -> list[int] | None:
        if len(data) >= _MAX_SCAN:
            return None
        local = self._local
        scratch = getattr(local, "scratch", None)
        if scratch is None:
            scratch = local.scratch = self._hs.Scratch(self._db)
        hits: list[int] = []
        try:
            self._db.scan(data, match_event_handler=_hit, context=hits, scratch=scratch)
        except Exception:  # noqa: BLE001 - whatever the engine says, re decides instead
            return None
        return hits


def one_pass(token: bytes | None, escaped: bytes | None,
             anchors: Sequence[bytes]) -> OnePass | None:
    """A :class:`OnePass` for these rules, or None where Hyperscan is not there (or refuses
    them): the caller keeps its ``re`` passes."""
    if engine() == "re":
        return None
    try:
        return OnePass(token, escaped, anchors)
    except Exception:  # noqa: BLE001 - a rule the engine will not compile: re decides
        return None
