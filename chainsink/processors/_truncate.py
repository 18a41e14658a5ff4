"""Capping the size of what a record carries."""

from __future__ import annotations

from typing import Any

from chainsink._jsonable import CUT, bounded_jsonable, cached_data_json, data_json, dumps
from chainsink._schema import Event
from chainsink.processors._scan import RunVerdicts
from chainsink.typing import TokenRule

#: What a record holds besides its payload: ids, timestamp, kind, depth and the keys' names.
_RECORD_OVERHEAD = 512


class Truncator:
    """A processor that cuts long strings and collections, saying how much was cut.

    A string longer than ``max_chars`` keeps its start and ends with
    ``"...[truncated N chars]"``; a list or dict with more than ``max_items`` entries keeps
    the first ones and records ``"...[truncated N items]"``. If the record is still larger
    than ``max_record_bytes`` the caps are tightened, and what still does not fit is cut
    breadth first (each level keeps its shape before a deeper one gets anything; a value
    left out reads ``"...[truncated]"``), so a record stays under ``max_record_bytes`` for
    any shape of value. The work is bounded by what is kept: a tree of a million leaves is
    never walked whole. Events that are small enough pass through untouched.

    Args:
        max_chars: Longest string kept whole.
        max_items: Most entries of a list or dict kept.
        max_record_bytes: Most bytes of one record (its JSONL line).

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
        # by run only: the caps are attributes a user may change
        self._run_too_big = RunVerdicts(lambda blob: not self._small(blob), by_content=False)

    def _small(self, blob: bytes) -> bool:
        # JSON is at least as long as any string in it, and every extra item costs a comma
        size = len(blob)
        if size > self.max_chars or size > self.max_record_bytes:
            return False
        # n entries of one container take at least 2n - 1 bytes (a value each, commas between):
        # a blob of at most 2 x max_items bytes has no container past max_items, nothing to count
        items = self.max_items
        return size <= 2 * items or blob.count(b",") < items

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
        chars = self.max_chars
        if len(event.name) > chars or len(event.run_type) > chars:
            pass  # a hostile name: take the slow path below
        elif event.event == "llm_new_token":
            token = event.data.get("token")
            if isinstance(token, str) and len(token) <= chars and \
                    not self._run_too_big(event):
                return event
        else:
            blob = cached_data_json(event)  # free when an earlier processor serialized it
            if (self._fits(event) if blob is None else self._small(blob)) \
                    and not self._run_too_big(event):
                return event
        return self._cut(event)

    def _fits(self, event: Event) -> bool:
        """Whether the event's data, not serialized yet, is within the caps, found in work
        bounded by them."""
        if not _few_entries(event.data, self.max_items):
            return False  # never serialize a value the caps will cut anyway
        return self._small(data_json(event))

    def _cut(self, event: Event) -> Event:
        """A copy of ``event`` cut to the caps and under ``max_record_bytes``."""
        chars, items = self.max_chars, self.max_items
        # data first: its own fields (duration, error, ...) are walked before the run's
        payload = {"data": event.data, "metadata": event.metadata, "tags": event.tags}
        room = max(1024, self.max_record_bytes - _RECORD_OVERHEAD
                   - 2 * min(len(event.name), chars) - 2 * min(len(event.run_type), chars))
        budget = room
        for _ in range(8):  # each try is bounded by the budget, whatever the value
            cut = bounded_jsonable(payload, max_chars=chars, max_items=items,
                                   max_bytes=budget)
            size = len(dumps(cut.value))
            if size > room:  # escapes took more room than counted: a smaller budget
                budget = max(256, budget * room // size - 256)
                continue
            if not cut.dropped:
                break
            # the budget left something out: shorter strings and lists may keep more of it
            tighter = max(64, chars // 4), max(4, items // 4)
            if tighter == (chars, items) or (cut.longest <= tighter[0]
                                             and cut.widest <= tighter[1]):
                break
            chars, items = tighter
        value = cut.value if isinstance(cut.value, dict) else {}
        data = value.get("data")
        metadata = value.get("metadata", CUT)
        tags = value.get("tags", CUT)
        return event.replace(
            data=data if isinstance(data, dict) else {"...": CUT},
            metadata={"...": CUT} if isinstance(event.metadata, dict) and not isinstance(
                metadata, dict) else metadata,
            tags=[CUT] if isinstance(event.tags, list) and not isinstance(tags, list) else tags,
            name=_cut_text(event.name, chars), run_type=_cut_text(event.run_type, chars))


_NESTED = (dict, list, tuple)


def _few_entries(value: Any, limit: int) -> bool:
    """Whether the dicts, lists and tuples in ``value`` hold at most ``limit`` entries in all.

    Counting stops past ``limit``, so the answer costs at most that many steps; objects
    (messages, results) count as one entry each.
    """
    left = limit
    todo = [value]
    try:
        while todo:
            node = todo.pop()
            left -= len(node)
            if left < 0:
                return False
            for item in node.values() if isinstance(node, dict) else node:
                if isinstance(item, _NESTED):
                    todo.append(item)
    except Exception:  # noqa: BLE001 - a container refusing len() or iteration: cut it
        return False
    return True


def _cut_text(value: str, chars: int) -> str:
    if len(value) > chars:
        return f"{value[:chars]}...[truncated {len(value) - chars} chars]"
    return value
