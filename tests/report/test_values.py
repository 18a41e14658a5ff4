"""What a report makes of a record's time: ``chainsink.report.utc_time`` and ``clean_record``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chainsink.report import clean_record, utc_time

WHEN = datetime(2026, 12, 1, 22, 4, 42, 169749, UTC)


@pytest.mark.parametrize("ts", ["2026-12-01T22:04:42.169749Z", "2026-12-01T23:04:42.169749+01:00",
                                "2026-12-01T22:04:42.169749"])
def test_utc_time_reads_any_offset_and_takes_none_as_utc(ts: str) -> None:
    """``Z``, an offset, or none (taken as UTC): the same aware UTC time."""
    assert utc_time(ts) == WHEN


@pytest.mark.parametrize("ts", [None, 5, "yesterday", "0001-01-01T00:00:00Z",
                                "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59Z"])
def test_utc_time_refuses_what_is_no_believable_time(ts: Any) -> None:
    """Missing, not a time, or outside the years a clock can be set to: None."""
    assert utc_time(ts) is None


@pytest.mark.parametrize(("ts", "fixed", "problem"), [
    ("2026-12-01T22:04:42.169749Z", "2026-12-01T22:04:42.169749Z", None),
    ("2026-12-01T23:04:42.169749+01:00", "2026-12-01T22:04:42.169749Z", None),
    ("2026-12-01T22:04:42.169749", "2026-12-01T22:04:42.169749Z",
     'ts "2026-12-01T22:04:42.169749" has no UTC offset; taken as UTC'),
    ("yesterday", None, 'ts "yesterday" is not a time; ignored'),
    (7, None, "ts 7 is not a time; ignored"),
    ("0001-01-01T00:00:00+05:00", None,
     'ts "0001-01-01T00:00:00+05:00" is out of range; its time is ignored'),
    ("3001-01-01T00:00:00Z", None,
     'ts "3001-01-01T00:00:00Z" is out of range; its time is ignored'),
])
def test_clean_record_rewrites_or_drops_a_time_and_says_why(ts: Any, fixed: str | None,
                                                             problem: str | None) -> None:
    """A time is kept as RFC 3339 UTC (rewritten if written otherwise) or dropped; each odd
    one gets one phrase."""
    rec = {"event": "chain_start", "run_id": "r", "ts": ts}
    cleaned, problems = clean_record(rec)
    assert cleaned["ts"] == fixed
    assert list(problems) == ([problem] if problem else [])
    assert rec["ts"] == ts  # the record itself is never changed
