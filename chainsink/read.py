"""Reading JSONL logs back.

Records are parsed, bad lines reported and skipped, and events rebuilt for the formatters.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import IO, Any
from uuid import UUID

import orjson

from chainsink._schema import Event

#: Lines longer than this are skipped (and reported) instead of loaded into memory.
MAX_LINE_BYTES = 64 * 1024 * 1024
#: How many bad lines per file the default reporter prints before only counting them.
REPORT_LIMIT = 10

_COMMON = ("v", "ts", "event", "run_id", "parent_run_id", "trace_id", "depth", "name",
           "run_type", "tags", "metadata")


@dataclasses.dataclass(frozen=True)
class BadLine:
    """A line of a log that is not a chainsink record, and why."""

    path: str
    lineno: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.lineno}: {self.reason}"


def parse_record(line: bytes | str) -> dict[str, Any]:
    """Parse one JSONL line into a record.

    A UTF-8 byte order mark before the record (editors and Windows tools write one at the
    start of a file) is an encoding mark, not data: it is ignored.

    Raises:
        ValueError: With a short reason when the line is not JSON or not a chainsink record.
    """
    if isinstance(line, bytes):
        line = line.removeprefix(b"\xef\xbb\xbf")
    else:
        line = line.removeprefix("\ufeff")
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({str(exc).split(':')[0]})") from None
    if not isinstance(rec, dict):
        raise ValueError(f"not a JSON object but {type(rec).__name__}")
    if not isinstance(rec.get("event"), str) or "run_id" not in rec:
        raise ValueError("not a chainsink record (no 'event' or 'run_id')")
    return rec


class _StderrReporter:
    """Prints the first few bad lines of each file, then a count of the rest."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, bad: BadLine) -> None:
        self.count += 1
        if self.count <= REPORT_LIMIT:
            print(f"chainsink: skipped {bad}", file=sys.stderr)

    def done(self, path: str) -> None:
        if self.count > REPORT_LIMIT:
            print(f"chainsink: {path}: {self.count - REPORT_LIMIT} more bad lines skipped",
                  file=sys.stderr)


def iter_lines(stream: IO[bytes], *, max_bytes: int = MAX_LINE_BYTES
               ) -> Iterator[tuple[int, bytes | None, bool, str | None]]:
    """Yield ``(lineno, line, complete, problem)`` for each line of a binary stream.

    ``complete`` is False for a last line with no newline (perhaps still being written);
    ``line`` is None and ``problem`` says why when the line was too long to load.
    """
    lineno = 0
    while True:
        chunk = stream.readline(max_bytes + 1)
        if not chunk:
            return
        lineno += 1
        if len(chunk) > max_bytes and not chunk.endswith(b"\n"):
            while chunk and not chunk.endswith(b"\n"):  # skip the rest of the huge line
                chunk = stream.readline(1 << 20)
            yield lineno, None, True, f"line longer than {max_bytes} bytes"
            continue
        complete = chunk.endswith(b"\n")
        yield lineno, chunk, complete, None


def read_events(path: str | os.PathLike[str] | IO[bytes], *,
                on_error: Callable[[BadLine], None] | None = None) -> Iterator[dict[str, Any]]:
    """Yield the records of a chainsink JSONL log, one dict per line.

    A corrupt line, a line that is not a chainsink record, an over-long line and a partial last
    line (a writer still busy) are skipped, not fatal: each goes to ``on_error`` as a
    :class:`BadLine`; by default the first few are printed on stderr.

    Args:
        path: The log file, or a binary stream (e.g. ``sys.stdin.buffer``).
        on_error: Called with each skipped line.

    Raises:
        OSError: If the file cannot be opened (missing, a directory, no permission).
    """
    reporter = _StderrReporter() if on_error is None else None
    report = on_error if on_error is not None else reporter
    assert report is not None
    if isinstance(path, (str, os.PathLike)):
        name = os.fspath(path)
        stream: IO[bytes] = open(name, "rb")  # noqa: SIM115 - closed in finally
        owned = True
    else:
        name, stream, owned = getattr(path, "name", "<stream>"), path, False
    try:
        for lineno, line, complete, problem in iter_lines(stream):
            if line is None:
                report(BadLine(str(name), lineno, problem or "unreadable"))
                continue
            if not line.strip():
                continue
            try:
                yield parse_record(line)
            except ValueError as exc:
                reason = "partial last line" if not complete else str(exc)
                report(BadLine(str(name), lineno, reason))
    finally:
        if owned:
            stream.close()
        if reporter is not None:
            reporter.done(str(name))


def _uuid(value: Any) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(str(value))
    except ValueError:
        return None


def _ts(value: Any) -> float:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return 0.0


def event_from_record(rec: dict[str, Any]) -> Event:
    """Rebuild an :class:`~chainsink.Event` from a JSONL record, so any formatter can render it.

    Values stay as JSON (messages are dicts); the console formatters accept both forms.
    Missing or malformed common keys get neutral defaults instead of failing.
    """
    run_id = _uuid(rec.get("run_id")) or UUID(int=0)
    depth = rec.get("depth")
    tags = rec.get("tags")
    metadata = rec.get("metadata")
    return Event(
        event=str(rec.get("event")),
        ts=_ts(rec.get("ts")),
        run_id=run_id,
        parent_run_id=_uuid(rec.get("parent_run_id")),
        trace_id=_uuid(rec.get("trace_id")) or run_id,
        depth=depth if isinstance(depth, int) and 0 <= depth < 1000 else 0,
        name=str(rec.get("name") or "<unknown>"),
        run_type=str(rec.get("run_type") or ""),
        tags=tags if isinstance(tags, list) else [],
        metadata=metadata if isinstance(metadata, dict) else {},
        data={k: v for k, v in rec.items() if k not in _COMMON},
    )
