"""``chainsink.read``: logs read back line by line, record by record, event by event, and followed
as they grow."""

from __future__ import annotations

import gzip
import io
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from chainsink import Event
from chainsink._schema import RUN_KEY_DEFAULTS, RUN_KEYS
from chainsink.formatters import record
from chainsink.read import (
    BadLine,
    Follower,
    event_from_record,
    follow,
    open_log,
    parse_record,
    read_events,
    ungzip,
)

RUN = uuid.UUID("01a2342a-7e0a-736e-9f52-29e7bad15270")
PARENT = uuid.UUID("01a2342a-7e0a-736e-9f52-29e7bad15271")
TS = "2026-12-01T22:04:42.169749Z"


def _rec(event: str = "chain_start", **fields: Any) -> dict[str, Any]:
    return {"v": 1, "ts": TS, "event": event, "run_id": str(RUN), "parent_run_id": None,
            "trace_id": str(RUN), "depth": 0, "name": "step", "run_type": "chain", "tags": [],
            "metadata": {}, **fields}


def _line(rec: dict[str, Any]) -> bytes:
    return orjson.dumps(rec) + b"\n"


# -- records ----------------------------------------------------------------------------------


def test_parse_record_says_why_a_line_is_not_a_record() -> None:
    """A record parses (a byte order mark before it ignored); anything else is a ValueError
    with a short reason."""
    assert parse_record(b"\xef\xbb\xbf" + _line(_rec())) == _rec()
    assert parse_record("\ufeff" + _line(_rec()).decode()) == _rec()
    for line, reason in ((b"{oops", "not valid JSON"), (b"[1]", "not a JSON object but list"),
                         (b'{"event": "x"}', "not a chainsink record")):
        with pytest.raises(ValueError, match=reason):
            parse_record(line)


def test_read_events_reads_plain_and_gzip_logs_and_reports_bad_lines(tmp_path: Path) -> None:
    """A plain log and its gzip-compressed rotation read the same; bad lines go to on_error."""
    body = _line(_rec()) + b"not json\n\n" + _line(_rec("chain_end")) + b'{"partial'
    plain, packed = tmp_path / "app.jsonl", tmp_path / "app.jsonl.1.gz"
    plain.write_bytes(body)
    packed.write_bytes(gzip.compress(body))
    for path in (plain, packed):
        bad: list[BadLine] = []
        assert [r["event"] for r in read_events(path, on_error=bad.append)] == \
            ["chain_start", "chain_end"]
        assert [(b.lineno, b.reason.split(" (")[0]) for b in bad] == \
            [(2, "not valid JSON"), (5, "partial last line")]
        assert bad[0].path == str(path)


def test_read_events_prints_bad_lines_by_default(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Without on_error, the first bad lines are printed on stderr, then counted."""
    path = tmp_path / "app.jsonl"
    path.write_bytes(b"x\n" * 12 + _line(_rec()))
    assert len(list(read_events(path))) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"chainsink: skipped {path}:1: not valid JSON (")
    assert len(err) == 11 and err[-1] == f"chainsink: {path}: 2 more bad lines skipped"


def test_ungzip_passes_plain_streams_and_closes_what_it_unpacks(tmp_path: Path) -> None:
    """A plain stream is returned as it is; a gzip one is decompressed, and closing the reader
    closes the file under it."""
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"hello\n"))
    plain = io.BufferedReader(io.BytesIO(b"hello\n"))  # type: ignore[arg-type]
    assert ungzip(plain) is plain
    raw = open(path, "rb")  # noqa: SIM115 - closed by the reader
    reader = ungzip(raw)
    assert reader.read() == b"hello\n"
    reader.close()
    assert raw.closed
    with open_log(path) as log:
        assert log.readline() == b"hello\n"


# -- events -----------------------------------------------------------------------------------


def test_event_from_record_reads_back_every_run_key() -> None:
    """A record the JSONL formatter wrote becomes the event it was written from: every run key
    of the schema, the time, and the event's own fields."""
    event = Event(event="chain_end", ts=datetime(2026, 12, 1, 22, 4, 42, 169749, UTC).timestamp(),
                  run_id=RUN, parent_run_id=PARENT, trace_id=PARENT, depth=3, name="step",
                  run_type="tool", tags=["a"], metadata={"k": 1},
                  data={"outputs": {"x": 1}, "duration_ms": 2.5})
    rec = orjson.loads(orjson.dumps(record(event)))
    back = event_from_record(rec)
    assert back == event
    assert [k for k in RUN_KEYS if getattr(back, k) != getattr(event, k)] == []


def test_event_from_record_fills_what_a_foreign_record_lacks() -> None:
    """Missing or malformed run keys take the schema's defaults: a zero run id, the run's own
    trace id, no parent; a time without an offset is UTC, an unreadable one 0."""
    back = event_from_record({"event": "chain_start", "run_id": "not-a-uuid", "depth": 5000,
                              "tags": "a", "metadata": [1], "ts": "2026-12-01T22:04:42",
                              "extra": 1})
    assert back.run_id == uuid.UUID(int=0) and back.trace_id == back.run_id
    assert back.parent_run_id is None
    for key in ("depth", "name", "run_type", "tags", "metadata"):
        assert getattr(back, key) == RUN_KEY_DEFAULTS[key], key
    assert back.ts == datetime(2026, 12, 1, 22, 4, 42, tzinfo=UTC).timestamp()
    assert back.data == {"extra": 1}
    assert event_from_record({"event": "x", "run_id": str(RUN), "ts": "yesterday"}).ts == 0.0
    assert event_from_record({"event": "x", "run_id": str(RUN)}).trace_id == RUN
    first = event_from_record({"event": "x", "run_id": str(RUN)})
    first.tags.append("mine")  # a default is the event's own, never shared
    assert event_from_record({"event": "x", "run_id": str(RUN)}).tags == []


# -- following --------------------------------------------------------------------------------


def test_follower_reads_appended_lines_and_waits_for_a_half_written_one(tmp_path: Path) -> None:
    """Complete lines show up on the next poll; a line without its end waits for it."""
    path = tmp_path / "app.jsonl"
    path.write_bytes(_line(_rec()))
    follower = Follower(path)
    try:
        assert [r["event"] for r in follower.records()] == ["chain_start"]
        assert list(follower.poll()) == []
        with open(path, "ab") as f:
            f.write(_line(_rec("chain_end"))[:10])
        assert list(follower.records()) == []
        with open(path, "ab") as f:
            f.write(_line(_rec("chain_end"))[10:])
        assert [r["event"] for r in follower.records()] == ["chain_end"]
        assert follower.lineno == 2
    finally:
        follower.close()


def test_follower_follows_rotation_and_truncation(tmp_path: Path) -> None:
    """A rotated file is read to its end, then the new one from its start (a partial last
    line reported); a truncated file is read again from its start, after on_truncate."""
    path = tmp_path / "app.jsonl"
    path.write_bytes(_line(_rec()))
    bad: list[BadLine] = []
    truncated: list[bool] = []
    follower = Follower(path, name="app", on_error=bad.append,
                        on_truncate=lambda: truncated.append(True))
    try:
        assert len(list(follower.records())) == 1
        with open(path, "ab") as f:
            f.write(_line(_rec("chain_end")) + b'{"cut')
        os.rename(path, tmp_path / "app.jsonl.1")
        path.write_bytes(_line(_rec("llm_start")))
        assert [r["event"] for r in follower.records()] == ["chain_end", "llm_start"]
        assert bad == [BadLine("app", 3, "partial last line")]
        path.write_bytes(_line(_rec("tool_start")))  # rewritten in place
        assert [r["event"] for r in follower.records()] == ["tool_start"]
        assert truncated == [True]
    finally:
        follower.close()


def test_follow_yields_records_as_they_are_appended(tmp_path: Path) -> None:
    """``follow`` yields what the log holds, then each record appended later."""
    path = tmp_path / "app.jsonl"
    path.write_bytes(_line(_rec()) + b"oops\n")
    bad: list[BadLine] = []
    records = follow(path, on_error=bad.append, interval=0.01)
    assert next(records)["event"] == "chain_start"
    with open(path, "ab") as f:
        f.write(_line(_rec("chain_end")))
    assert next(records)["event"] == "chain_end"
    assert [b.lineno for b in bad] == [2]
    records.close()


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_read_events_reports_a_damaged_gz_and_keeps_what_came_before(tmp_path: Path,
                                                                     damage: str) -> None:
    """A cut or corrupt .gz is one BadLine, after every record before the damage; it never
    raises."""
    lines = b"".join(orjson.dumps({"v": 1, "event": "text", "run_id": str(uuid.UUID(int=i + 1)),
                                   "i": i}) + b"\n"
                     for i in range(5000))
    blob = gzip.compress(lines)
    path = tmp_path / "run.jsonl.1.gz"
    if damage == "truncated":
        path.write_bytes(blob[: len(blob) // 2])
    else:
        path.write_bytes(blob[:10] + b"\xff" * 40 + blob[50:])
    bad: list[BadLine] = []
    got = list(read_events(path, on_error=bad.append))
    assert len(bad) == 1 and "compressed data ends early or is corrupt" in bad[0].reason
    assert [r["i"] for r in got] == list(range(len(got)))
    if damage == "truncated":
        assert 0 < len(got) < 5000
