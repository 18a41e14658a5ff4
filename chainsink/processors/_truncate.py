"""Capping the size of what a record carries."""

from __future__ import annotations

from typing import Any

from chainsink._event import Event
from chainsink._jsonable import data_json, dumps, to_jsonable
from chainsink.processors._scan import RunVerdicts, TokenRule


class Truncator:
    """A processor that cuts long strings and collections, saying how much was cut.

    A string longer than ``max_chars`` keeps its start and ends with
    ``"...[truncated N chars]"``; a list or dict with more than ``max_items`` entries keeps
    the first ones and records ``"...[truncated N items]"``. If the record is still larger
    than ``max_record_bytes`` the caps are tightened until it fits, so one record stays well
    under 1 MB by default. Events that are small enough pass through untouched.

    Args:
        max_chars: Longest string kept whole.
        max_items: Most entries of a list or dict kept.
        max_record_bytes: Target size of a record's payload.

    Raises:
        ValueError: For caps that are not positive ints.
    """

    def __init__(self, *, max_chars: int = 20_000, max_items: int = 1_000,
                 max_record_bytes: int = 256 * 1024) -> None:
        for name, value in (("max_chars", max_chars), ("max_items", max_items),
                            ("max_record_bytes", max_record_bytes)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, not {value!r}")
        self.max_chars = max_chars
        self.max_items = max_items
        self.max_record_bytes = max_record_bytes
        self._run_too_big = RunVerdicts(lambda blob: not self._small(blob))

    def _small(self, blob: bytes) -> bool:
        # JSON is at least as long as any string in it, and every extra item costs a comma
        return (len(blob) <= min(self.max_chars, self.max_record_bytes)
                and blob.count(b",") < self.max_items)

    def token_rule(self, event: Event) -> TokenRule | None:
        """Tokens of ``event``'s run pass unchanged up to ``max_chars`` characters.

        None (every token is checked in full) when the run's name, type, tags or metadata
        are themselves too big.
        """
        if (len(event.name) > self.max_chars or len(event.run_type) > self.max_chars
                or self._run_too_big(event)):
            return None
        return TokenRule(self.max_chars)

    def __call__(self, event: Event) -> Event:
        """Return ``event``, or a copy with oversized values cut."""
        if len(event.name) > self.max_chars or len(event.run_type) > self.max_chars:
            pass  # a hostile name: take the slow path below
        elif event.event == "llm_new_token":
            token = event.data.get("token")
            if isinstance(token, str) and len(token) <= self.max_chars and \
                    not self._run_too_big(event):
                return event
        elif self._small(data_json(event)) and not self._run_too_big(event):
            return event
        payload = to_jsonable({"tags": event.tags, "metadata": event.metadata,
                               "data": event.data})
        chars, items = self.max_chars, self.max_items
        cut = _cut(payload, chars, items)
        while len(dumps(cut)) > self.max_record_bytes and (chars > 64 or items > 4):
            chars, items = max(64, chars // 4), max(4, items // 4)
            cut = _cut(payload, chars, items)
        return event.replace(tags=cut["tags"], metadata=cut["metadata"], data=cut["data"],
                             name=_cut(event.name, chars, items),
                             run_type=_cut(event.run_type, chars, items))


def _cut(value: Any, chars: int, items: int) -> Any:
    if isinstance(value, str):
        if len(value) > chars:
            return f"{value[:chars]}...[truncated {len(value) - chars} chars]"
        return value
    if isinstance(value, list):
        kept = [_cut(v, chars, items) for v in value[:items]]
        if len(value) > items:
            kept.append(f"...[truncated {len(value) - items} items]")
        return kept
    if isinstance(value, dict):
        out = {}
        for i, (k, v) in enumerate(value.items()):
            if i >= items:
                out["..."] = f"[truncated {len(value) - items} items]"
                break
            out[_cut(k, chars, items)] = _cut(v, chars, items)
        return out
    return value
