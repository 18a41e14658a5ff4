"""Turning anything a chain passes into JSON, without ever raising.

The fast path is one ``orjson.dumps`` call whose ``default`` knows the registered types (see
:func:`register`; the handler side registers LangChain's messages, documents, generations, ...)
and writes any other object as its ``repr`` (a numpy array, a pandas frame). Anything orjson refuses
(cycles, non-string keys, lone surrogates, huge ints, nesting past its limit) falls back to
:func:`to_jsonable`, a careful walk that always returns plain JSON values. With limits,
:func:`to_jsonable` walks breadth first and stops where they are reached, so its work is
bounded by what it keeps, however large the value (see :func:`bounded_jsonable`).
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import itertools
import math
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import PurePath
from typing import Any, NamedTuple
from uuid import UUID

import orjson

_MAX_DEPTH = 100
_local = threading.local()
_SCALARS = (str, int, float, bool, type(None))


def dumps(value: Any) -> bytes:
    """Serialize ``value`` to compact JSON bytes; never raises."""
    try:  # not contextlib.suppress: this is the hottest call, and try costs nothing
        return orjson.dumps(value, default=_default)
    except Exception:  # noqa: BLE001, S110 - any refusal goes to the careful path
        pass
    try:
        converted = to_jsonable(value)
        if isinstance(value, dict) and not isinstance(converted, dict):
            # an event's data is spliced into its record as an object: keep it one
            converted = {"unserializable": converted}
        return orjson.dumps(converted)
    except Exception as exc:  # noqa: BLE001 - last resort, keep the line valid JSON
        return orjson.dumps({"unserializable": _safe_repr(exc)})


def data_json(event: Any) -> bytes:
    """An event's ``data`` as JSON bytes, serialized once per event per thread.

    Processors decide from these bytes, in C-speed scans, whether an event needs their slow
    path, and the JSONL formatter writes them as the record's own fields: an event that
    passes the processors unchanged is serialized once.
    """
    cached = getattr(_local, "last", None)
    if cached is not None and cached[0] is event:
        blob: bytes = cached[1]
        return blob
    blob = dumps(event.data)
    _local.last = (event, blob)
    return blob


def cached_data_json(event: Any) -> bytes | None:
    """:func:`data_json` of ``event`` if this thread already serialized it, else None."""
    cached = getattr(_local, "last", None)
    if cached is not None and cached[0] is event:
        blob: bytes = cached[1]
        return blob
    return None


def to_jsonable(value: Any, *, max_chars: int | None = None, max_items: int | None = None,
                max_bytes: int | None = None) -> Any:
    """Return ``value`` as plain JSON types (dict with str keys, list, str, int, float, bool, None).

    Cycles become ``"<cycle>"``, nesting past 100 levels ``"<max depth>"``, and objects whose
    ``repr`` raises ``"<unrepresentable TypeName>"``. Never raises.

    Without limits the whole value is converted. With any of them, the value is cut as
    :func:`bounded_jsonable` cuts it, in work bounded by what is kept.
    """
    if max_chars is not None or max_items is not None or max_bytes is not None:
        return bounded_jsonable(value, max_chars=max_chars, max_items=max_items,
                                max_bytes=max_bytes).value
    try:
        return _walk(value, 0, set())
    except Exception:  # noqa: BLE001 - e.g. RecursionError from a hostile __eq__
        return _safe_repr(value)


def _default(obj: Any) -> Any:
    """orjson's ``default``: one level of conversion; orjson recurses into the result.

    An object it does not know becomes its ``repr`` right here, so that a numpy array or a
    pandas frame deep in a large value keeps the whole value on orjson's fast path.
    """
    try:
        converted = _convert(obj)
    except Exception:  # noqa: BLE001 - an object whose attributes raise
        return _safe_repr(obj)
    return _safe_repr(obj) if converted is obj else converted


def _is_named(obj: Any) -> bool:
    """Whether ``obj`` is a named tuple (``collections.namedtuple``, ``typing.NamedTuple``)."""
    return isinstance(obj, tuple) and type(obj) is not tuple and isinstance(
        getattr(type(obj), "_fields", None), tuple)


#: Converters taught with register(), by the class they were registered for.
_CONVERTERS: dict[type, Callable[[Any], Any]] = {}
#: The converter found for each concrete type met (None: no registered class in its MRO).
_FOUND: dict[type, Callable[[Any], Any] | None] = {}
#: Whether chainsink.handlers registered LangChain's types.
_langchain_taught = False


def _teach_langchain() -> None:
    global _langchain_taught  # noqa: PLW0603 - once per process
    import chainsink.handlers  # noqa: F401 - registers LangChain's types on import

    _langchain_taught = True
    _FOUND.clear()  # answers found meanwhile by other threads


def register(cls: type, convert: Callable[[Any], Any]) -> None:
    """Teach JSON conversion a type: ``convert(obj)`` returns one level of JSON-able values
    (a dict, list, str, ...; nested objects are converted in turn) for instances of ``cls``
    and its subclasses. The most specific registered class in an object's MRO wins.

    This keeps the core free of LangChain: ``chainsink.handlers`` registers LangChain's types.
    """
    _CONVERTERS[cls] = convert
    _FOUND.clear()


def _registered(tp: type) -> Callable[[Any], Any] | None:
    try:
        return _FOUND[tp]
    except KeyError:
        pass
    taught = _langchain_taught  # read first: registration done then is seen by the loop
    found = None
    for base in tp.__mro__:
        found = _CONVERTERS.get(base)
        if found is not None:
            break
    if found is None and not taught and any(
            base.__module__.startswith("langchain_core") for base in tp.__mro__):
        # a LangChain object (or a user's subclass of one) met before any handler was made (a
        # formatter called directly): the handler side teaches LangChain's types. LangChain
        # is loaded already; a thread meeting one while another imports waits for the import.
        _teach_langchain()
        return _registered(tp)
    if len(_FOUND) >= 10_000:  # classes made on the fly must not grow it forever
        _FOUND.clear()
    _FOUND[tp] = found
    return found


def _convert(obj: Any) -> Any:
    """Convert one non-JSON object into JSON-able containers; return ``obj`` if unknown."""
    convert = _registered(type(obj))
    if convert is not None:
        return convert(obj)
    if isinstance(obj, BaseException):
        return {"type": type(obj).__name__, "message": _safe_str(obj)}
    if _is_named(obj):  # a NamedTuple: its field names are keys (a "token" field is masked)
        return dict(zip(obj._fields, obj, strict=False))
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj).decode("utf-8", "backslashreplace")
    if isinstance(obj, (Decimal, PurePath, timedelta)):
        return str(obj)
    if hasattr(obj, "model_dump") and hasattr(type(obj), "model_fields"):
        # pydantic v2 model: one shallow level, so nested LangChain types use _convert too
        return {k: getattr(obj, k, None) for k in type(obj).model_fields}
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, type):
        return f"{obj.__module__}.{obj.__qualname__}"
    if type(obj).__module__ == "numpy" and getattr(obj, "shape", None) == ():
        return obj.item()  # a numpy scalar (np.int64, np.bool_): its Python value
    return obj


def _walk(value: Any, depth: int, active: set[int]) -> Any:
    if isinstance(value, str):
        return _clean_str(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else _big_int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return _walk(value.value, depth, active)
    if depth >= _MAX_DEPTH:
        return "<max depth>"
    ident = id(value)
    if ident in active:
        return "<cycle>"
    active.add(ident)
    try:
        if isinstance(value, dict):
            return {_key(k): _walk(v, depth + 1, active) for k, v in list(value.items())}
        if isinstance(value, (list, tuple)) and not _is_named(value):
            return [_walk(v, depth + 1, active) for v in list(value)]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
            return _walk(fields, depth + 1, active)
        converted = _convert(value)
        if converted is value:
            return _safe_repr(value)
        return _walk(converted, depth + 1, active)
    except Exception:  # noqa: BLE001 - an attribute or items() that raises
        return _safe_repr(value)
    finally:
        active.discard(ident)


#: What stands for a value cut to keep a bounded conversion under its byte budget.
CUT = "...[truncated]"
#: What a slot waiting in the walk holds back from the budget: room for CUT and a separator.
_RESERVE = len(CUT) + 3
#: Room kept for the marker that says how many entries of a container were left out.
_MARKER_ROOM = 48
_NO_LIMIT = sys.maxsize


class Bounded(NamedTuple):
    """What :func:`bounded_jsonable` made of a value, and what it met on the way."""

    value: Any
    #: Whether the byte budget left something out (a value became :data:`CUT`, or a
    #: container lost entries past those ``max_items`` let through).
    dropped: bool
    #: The longest string met (in characters), and the most entries of one container.
    longest: int
    widest: int


def bounded_jsonable(value: Any, *, max_chars: int | None = None, max_items: int | None = None,
                     max_bytes: int | None = None) -> Bounded:
    """``value`` as plain JSON types, cut to fit, in work bounded by what is kept.

    A string longer than ``max_chars`` keeps its start and ends with
    ``"...[truncated N chars]"``; a list (tuple, set) or dict with more than ``max_items``
    entries keeps the first ones and says ``"...[truncated N items]"`` (a dict under the key
    ``"..."``). The walk is breadth first and stops spending at about ``max_bytes`` of JSON
    (counted as UTF-8, without escapes): every level keeps its shape before a deeper one gets
    anything, and what does not fit becomes :data:`CUT`. Nothing past the limits is visited,
    so a tree of a million leaves costs what the kept part costs. Cycles, depth and odd
    objects are handled as :func:`to_jsonable` does. Never raises.
    """
    walk = _BoundedWalk(_NO_LIMIT if max_chars is None else max(1, max_chars),
                        _NO_LIMIT if max_items is None else max(0, max_items),
                        _NO_LIMIT if max_bytes is None else max_bytes)
    try:
        out = walk.run(value)
    except Exception:  # noqa: BLE001 - a walk that failed as a whole: keep the line valid
        out = walk.text(_safe_repr(value))
    return Bounded(out, walk.dropped, walk.longest, walk.widest)


class _BoundedWalk:
    """One :func:`bounded_jsonable` conversion: a queue of slots waiting for their value."""

    def __init__(self, chars: int, items: int, budget: int) -> None:
        self.chars = chars
        self.items = items
        self.budget = budget
        self.spent = 0
        self.dropped = False
        self.longest = 0
        self.widest = 0
        # (value, the container its result goes into, the key or index there, depth,
        #  the ids of the containers above it as a linked list)
        self.queue: collections.deque[tuple[Any, Any, Any, int, Any]] = collections.deque()

    def run(self, value: Any) -> Any:
        root: list[Any] = [None]
        self.spent = _RESERVE
        self.queue.append((value, root, 0, 0, None))
        while self.queue:
            item, holder, slot, depth, above = self.queue.popleft()
            try:
                holder[slot] = self.one(item, depth, above)
            except Exception:  # noqa: BLE001 - an attribute or items() that raises
                holder[slot] = self.text(_safe_repr(item))
        return root[0]

    def spend(self, cost: int) -> bool:
        """Take ``cost`` bytes for a slot whose reserve was already counted, if they fit."""
        if self.spent + cost - _RESERVE > self.budget:
            self.dropped = True
            return False
        self.spent += cost - _RESERVE
        return True

    def text(self, value: str) -> str:
        length = len(value)
        self.longest = max(self.longest, length)
        if length > self.chars:
            value = f"{value[:self.chars]}...[truncated {length - self.chars} chars]"
        value = _clean_str(value)
        cost = len(value) + 3 if value.isascii() else len(value.encode("utf-8")) + 3
        if self.spend(cost):
            return value
        room = self.budget - self.spent + _RESERVE - _MARKER_ROOM
        if room >= 64:  # keep what fits of it
            kept = value[:room // (1 if value.isascii() else 4)]
            kept = f"{kept}...[truncated {length - len(kept)} chars]"
            if self.spend(len(kept.encode("utf-8", "backslashreplace")) + 3):
                return _clean_str(kept)
        return CUT

    def one(self, value: Any, depth: int, above: Any) -> Any:
        """The JSON value for ``value``; a container comes back empty, its entries queued."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bool) or value is None:
            return value if self.spend(6) else CUT
        if isinstance(value, int):
            value = value if -(2**63) <= value < 2**64 else _big_int(value)
            return self.one(value, depth, above) if isinstance(value, str) else (
                value if self.spend(value.bit_length() * 3 // 10 + 4) else CUT)
        if isinstance(value, float):
            return (value if math.isfinite(value) else None) if self.spend(25) else CUT
        if isinstance(value, (datetime, date, time)):
            return self.text(value.isoformat())
        if isinstance(value, UUID):
            return self.text(str(value))
        if isinstance(value, enum.Enum):
            return self.one(value.value, depth, above)
        if isinstance(value, (bytes, bytearray)):
            part = value[:self.chars * 4 + 4] if len(value) > self.chars * 4 + 4 else value
            return self.text(bytes(part).decode("utf-8", "backslashreplace"))
        if depth >= _MAX_DEPTH:
            return self.text("<max depth>")
        ident = id(value)
        link = above
        while link is not None:
            if link[0] == ident:
                return self.text("<cycle>")
            link = link[1]
        here = (ident, above)
        if isinstance(value, dict):
            return self.mapping(value.items(), len(value), depth, here) if self.spend(2) else CUT
        if isinstance(value, (list, tuple, set, frozenset)) and not _is_named(value):
            return self.sequence(value, len(value), depth, here) if self.spend(2) else CUT
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
            return self.mapping(fields.items(), len(fields), depth, here) if self.spend(2) else CUT
        converted = _convert(value)
        if converted is value:
            return self.text(_safe_repr(value))
        return self.one(converted, depth + 1, here)

    def mapping(self, pairs: Any, size: int, depth: int, here: Any) -> dict[str, Any]:
        self.widest = max(self.widest, size)
        out: dict[str, Any] = {}
        kept = 0
        for key, item in itertools.islice(pairs, min(size, self.items)):
            name = _key(key)
            if len(name) > self.chars:
                name = f"{name[:self.chars]}...[truncated {len(name) - self.chars} chars]"
            cost = len(name) + 4 + _RESERVE
            if self.spent + cost + _MARKER_ROOM > self.budget:
                self.dropped = True
                break
            self.spent += cost
            out[name] = None  # holds the key's place in order until its value is walked
            self.queue.append((item, out, name, depth + 1, here))
            kept += 1
        if kept < size:
            self.spent += _MARKER_ROOM
            out["..."] = f"[truncated {size - kept} items]"
        return out

    def sequence(self, values: Any, size: int, depth: int, here: Any) -> list[Any]:
        self.widest = max(self.widest, size)
        out: list[Any] = []
        for item in itertools.islice(values, min(size, self.items)):
            if self.spent + 1 + _RESERVE + _MARKER_ROOM > self.budget:
                self.dropped = True
                break
            self.spent += 1 + _RESERVE
            self.queue.append((item, out, len(out), depth + 1, here))
            out.append(None)
        if len(out) < size:
            self.spent += _MARKER_ROOM
            out.append(f"...[truncated {size - len(out)} items]")
        return out


def _key(key: Any) -> str:
    if isinstance(key, str):
        return _clean_str(key)
    if isinstance(key, (int, float, bool, UUID)) or key is None:
        return str(key)
    return _clean_str(_safe_repr(key))


def clean_text(text: str) -> str:
    """``text`` with lone surrogates escaped, so any UTF-8 writer accepts it."""
    return _clean_str(text)


def _clean_str(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _big_int(value: int) -> str:
    """An int JSON numbers cannot hold, as its digits (or its size, past Python's digit limit)."""
    try:
        return str(value)
    except ValueError:  # over sys.get_int_max_str_digits(): str() refuses
        return f"<int of {value.bit_length()} bits>"


def _safe_str(obj: Any) -> str:
    try:
        return _clean_str(str(obj))
    except Exception:  # noqa: BLE001
        return _safe_repr(obj)


def _safe_repr(obj: Any) -> str:
    try:
        return _clean_str(repr(obj))
    except Exception:  # noqa: BLE001
        try:
            return f"<unrepresentable {type(obj).__name__}>"
        except Exception:  # noqa: BLE001
            return "<unrepresentable>"
