"""What a report can use of a record's values: its time, durations, token counts and names.

Logs come from many writers (older versions, other tools, hand edits, clocks set wrong). A
report reads each record through :func:`clean_record`, which keeps every value it can use,
reads a value it can read another way (a time without an offset is taken as UTC), drops the
ones it cannot use and says what it did: one odd record never aborts a report, and never
skews its totals or overflows its arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from chainsink._schema import TOKEN_KEYS, parse_time

#: A time outside these years ``[first, last)`` is a clock set wrong: it is ignored.
TS_YEARS = (1970, 3000)
_YEARS = (f"{TS_YEARS[0]:04d}", f"{TS_YEARS[1]:04d}")
#: The longest duration believed, in milliseconds (about 31 years).
MAX_DURATION_MS = 1e12
#: The most tokens believed for one model call.
MAX_TOKENS = 2**32
#: Token sums stop here: the largest integer a JSON reader reliably holds (64-bit signed).
MAX_TOKEN_SUM = 2**63 - 1
#: The text keys a report shows or groups by.
_TEXT_KEYS = ("name", "run_type", "model")
_SHOWN = 40


def duration_ms(value: Any) -> float | None:
    """``value`` as a duration in milliseconds, or None if it is not a believable one."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) \
            and 0 <= value <= MAX_DURATION_MS:  # False for NaN
        return float(value)
    return None


def token_count(value: Any) -> int:
    """``value`` as a token count (0 if it is not a believable one)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TOKENS:
        return value
    return 0


def format_usd(cost: Decimal | float | None) -> str:
    """A cost in US dollars for people: ``$1,234.50``, ``$0.000420`` (six places below a
    dollar), or ``unknown`` for None (never ``$0``)."""
    if cost is None:
        return "unknown"
    return f"${cost:,.2f}" if cost >= 1 else f"${cost:.6f}"


def utc_time(value: Any) -> datetime | None:
    """A record's ``ts`` as an aware UTC datetime (no offset: taken as UTC); None if it is
    missing, malformed or outside :data:`TS_YEARS`."""
    when = parse_time(value)
    return when if when is not None and TS_YEARS[0] <= when.year < TS_YEARS[1] else None


def clean_record(rec: dict[str, Any]) -> tuple[dict[str, Any], Sequence[str]]:
    """``rec`` with what a report cannot use taken out, and what was done to it.

    A ``ts`` is rewritten as RFC 3339 UTC (one without an offset is taken as UTC) or dropped
    (unreadable, or outside :data:`TS_YEARS`); a ``duration_ms``, token count, ``usage``,
    ``name``, ``run_type``, ``model``, ``tags`` or ``metadata`` of the wrong type or beyond
    belief is dropped. ``rec`` itself is never changed.

    Returns:
        The record to use (``rec`` itself when nothing was odd) and one short phrase per
        change, such as ``"duration_ms -5 is not a duration; ignored"``.
    """
    if _usable(rec):  # nearly every record: checked fast, nothing allocated
        return rec, ()
    problems: list[str] = []
    fixed: dict[str, Any] = {}
    ts = rec.get("ts")
    when, problem = _read_ts(ts)
    if problem:
        problems.append(problem)
    if when is None:
        if ts is not None:
            fixed["ts"] = None
    elif not (isinstance(ts, str) and len(ts) == 27 and ts[10] == "T" and ts[19] == "."
              and ts[-1] == "Z"):  # as chainsink writes it
        fixed["ts"] = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    value = rec.get("duration_ms")
    if value is not None and duration_ms(value) is None:
        problems.append(f"duration_ms {_show(value)} is not a duration; ignored")
        fixed["duration_ms"] = None
    usage = rec.get("usage")
    if usage is not None:
        if not isinstance(usage, dict):
            problems.append(f"usage {_show(usage)} is not an object; ignored")
            fixed["usage"] = None
        else:
            odd = [k for k in TOKEN_KEYS
                   if usage.get(k) is not None and token_count(usage[k]) != usage[k]]
            if odd:
                problems += [f"usage.{k} {_show(usage[k])} is not a token count; ignored"
                             for k in odd]
                fixed["usage"] = {k: v for k, v in usage.items() if k not in odd}
    for key in _TEXT_KEYS:
        value = rec.get(key)
        if value is not None and not isinstance(value, str):
            problems.append(f"{key} {_show(value)} is not a string; ignored")
            fixed[key] = None
    for key, kind, what in (("metadata", dict, "an object"), ("tags", list, "a list")):
        value = rec.get(key)
        if value is not None and not isinstance(value, kind):
            problems.append(f"{key} {_show(value)} is not {what}; ignored")
            fixed[key] = None
    return ({**rec, **fixed} if fixed else rec), problems


def _usable(rec: dict[str, Any]) -> bool:
    """Whether every value :func:`clean_record` looks at is usable as it stands."""
    get = rec.get
    ts = get("ts")
    if not (ts.__class__ is str and len(ts) == 27 and ts[10] == "T" and ts[19] == "."
            and ts[26] == "Z" and _YEARS[0] <= ts[:4] < _YEARS[1]):
        return False
    try:
        datetime.fromisoformat(ts)  # a real date and time
    except ValueError:
        return False
    value = get("duration_ms")
    if value is not None and (value.__class__ not in (float, int)
                              or not 0 <= value <= MAX_DURATION_MS):
        return False
    usage = get("usage")
    if usage is not None:
        if usage.__class__ is not dict:
            return False
        for key in TOKEN_KEYS:
            value = usage.get(key)
            if value is not None and (value.__class__ is not int
                                      or not 0 <= value <= MAX_TOKENS):
                return False
    for key in _TEXT_KEYS:
        value = get(key)
        if value is not None and value.__class__ is not str:
            return False
    value = get("metadata")
    if value is not None and value.__class__ is not dict:
        return False
    value = get("tags")
    return value is None or value.__class__ is list


def _read_ts(value: Any) -> tuple[datetime | None, str | None]:
    """``value`` as an aware UTC time (:func:`chainsink._schema.parse_time`), or None, and
    what a report says about it (None when nothing is odd)."""
    when = parse_time(value)
    if when is None:
        if value is None:
            return None, "no ts"
        if isinstance(value, str) and _local_time(value) is not None:  # year 1 minus an offset
            return None, f"ts {_show(value)} is out of range; its time is ignored"
        return None, f"ts {_show(value)} is not a time; ignored"
    if not TS_YEARS[0] <= when.year < TS_YEARS[1]:
        return None, f"ts {_show(value)} is out of range; its time is ignored"
    if value[-1] not in "Zz":  # as chainsink writes it; anything else may have no offset
        local = _local_time(value)
        if local is not None and local.tzinfo is None:
            return when, f"ts {_show(value)} has no UTC offset; taken as UTC"
    return when, None


def _local_time(value: str) -> datetime | None:
    """``value`` as written (no offset: naive), to tell what :func:`parse_time` made of it."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _show(value: Any) -> str:
    """A value as a short JSON text for a message: one line, printable ASCII only."""
    if isinstance(value, str) and len(value) > _SHOWN:
        value = value[:_SHOWN]
    try:
        text = orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):  # an integer past 64 bits
        text = repr(value)
    if len(text) > _SHOWN:
        text = text[: _SHOWN - 3] + "..."
    return text.replace("\x7f", "\\x7f").encode("ascii", "backslashreplace").decode("ascii")
