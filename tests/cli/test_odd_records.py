"""One odd record never aborts a report: ``html``, ``stats`` (and ``stats --json``, which stays
strict JSON) and ``tail`` use it or skip it with a warning naming its file and line, and report
the rest.

The named cases run the real command; the fuzz test draws records with any value in the fields
a report reads and runs the CLI's ``main`` in this process (fast), on real files.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ._support import Log, page_data, run_main

START = "2026-03-01T10:00:00.000000Z"
END = "2026-03-01T10:00:01.500000Z"


def _strict(text: str) -> Any:
    """JSON as the standard has it: no NaN, no Infinity."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def _trace(**odd: Any) -> list[dict[str, Any]]:
    """A root chain with one model call, every record overridden with ``odd``'s keys;
    ``odd`` keys prefixed ``start_``, ``llm_`` or ``end_`` go to that record only."""
    root, llm = str(uuid.uuid4()), str(uuid.uuid4())
    common = {"v": 1, "parent_run_id": None, "trace_id": root, "tags": [], "metadata": {}}
    recs = {
        "start": {**common, "ts": START, "event": "chain_start", "run_id": root,
                  "name": "odd_chain", "run_type": "chain", "inputs": {"q": "hi"}},
        "llm": {**common, "ts": START, "event": "llm_end", "run_id": llm, "parent_run_id": root,
                "name": "odd_model", "run_type": "llm", "duration_ms": 20.0, "model": "m-odd",
                "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}},
        "end": {**common, "ts": END, "event": "chain_end", "run_id": root, "name": "odd_chain",
                "run_type": "chain", "duration_ms": 1500.0, "outputs": {"a": "ok"}},
    }
    for key, value in odd.items():
        part, _, field = key.partition("_")
        if part in recs and field:
            recs[part][field] = value
        else:
            for rec in recs.values():
                rec[key] = value
    return list(recs.values())


HUGE = 2**64 - 1
#: name -> (the odd trace's records, the 1-based indexes among them that must be warned about)
CASES: dict[str, tuple[list[dict[str, Any]], list[int]]] = {
    "ts without offset": (_trace(start_ts="2026-03-01T10:00:00", end_ts="2026-03-01T10:00:01.5"),
                          [1, 3]),
    "year-1 ts": (_trace(start_ts="0001-01-01T00:00:00Z", end_ts="0001-01-01T00:00:01.5Z"),
                  [1, 3]),
    "year-9999 ts": (_trace(start_ts="9999-12-31T23:59:58Z", end_ts="9999-12-31T23:59:59.5Z"),
                     [1, 3]),
    "duration 1e300": (_trace(end_duration_ms=1e300, llm_duration_ms=1e308), [2, 3]),
    "negative duration": (_trace(end_duration_ms=-5.0), [3]),
    "string duration": (_trace(end_duration_ms="1500"), [3]),
    "NaN-ish duration": (_trace(end_duration_ms="NaN", llm_duration_ms="Infinity"), [2, 3]),
    "token sums past 2**64": (_trace(llm_usage={"input_tokens": HUGE, "output_tokens": HUGE,
                                                "total_tokens": HUGE}), [2]),
    "non-dict metadata": (_trace(start_metadata=["a", 1]), [1]),
    "non-string name": (_trace(start_name={"n": 1}, end_name=7), [1, 3]),
    "end without start, year 1, long": (_trace(end_ts="0001-01-01T00:00:00Z",
                                   end_duration_ms=9e15)[1:], [2]),
    "end without start": (_trace()[1:], []),
    "start without end": (_trace()[:2], []),
}


def _write(path: Path, good: Log, odd: list[dict[str, Any]]) -> int:
    """The good log with the odd trace's records in the middle; returns their first line."""
    lines = good.path.read_bytes().splitlines(keepends=True)
    half = len(lines) // 2
    path.write_bytes(b"".join(lines[:half] + [orjson.dumps(r) + b"\n" for r in odd]
                              + lines[half:]))
    return half + 1


def _check_stderr(stderr: str) -> list[str]:
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    lines = stderr.splitlines()
    assert all(line.startswith("chainsink: ") for line in lines), stderr
    return lines


@pytest.mark.parametrize("case", list(CASES))
def test_an_odd_record_is_used_or_skipped_with_a_warning(cli, tmp_path: Path, mixed_log: Log,
                                                         case: str) -> None:
    """Each command exits 0, warns with file:line for each odd record, and reports the rest."""
    odd, flagged = CASES[case]
    path = tmp_path / "odd.jsonl"
    first = _write(path, mixed_log, odd)
    wanted = [f"chainsink: {path}:{first + i - 1}: " for i in flagged]
    total = len(mixed_log.records) + len(odd)

    done = cli("stats", "--json", path)
    assert done.returncode == 0, done.stderr
    lines = _check_stderr(done.stderr)
    for start in wanted:
        assert any(line.startswith(start) for line in lines), (start, lines)
    stats = _strict(done.stdout)
    assert stats["records"] == total
    assert stats["traces"] == len(mixed_log.trace_ids) + 1
    assert all(isinstance(v, int) and v < 2**63 for v in stats["tokens"].values())

    done = cli("stats", path)
    assert done.returncode == 0, done.stderr
    assert _check_stderr(done.stderr) == lines
    assert f"traces  {stats['traces']:>10,}" in done.stdout

    out = tmp_path / "odd.html"
    done = cli("html", path, "-o", out, "--max-traces", "1000")
    assert done.returncode == 0, done.stderr
    html_lines = _check_stderr(done.stderr)
    assert html_lines[:-1] == lines and html_lines[-1].startswith("chainsink: wrote ")
    shown = {t["id"] for t in page_data(out.read_text())["traces"]}
    assert shown == set(mixed_log.trace_ids) | {odd[0]["trace_id"]}

    done = cli("tail", "--no-color", path)
    assert done.returncode == 0, done.stderr
    for start in wanted:
        assert any(line.startswith(start) for line in _check_stderr(done.stderr)), done.stderr
    assert "odd_model" in done.stdout or "odd_chain" in done.stdout


def test_an_unparseable_number_is_a_skipped_line(cli, tmp_path: Path, mixed_log: Log) -> None:
    """``duration_ms: 1e999`` (infinity, not JSON a reader can load): that line is skipped with
    a warning, the rest is reported, and ``stats --json`` stays strict JSON."""
    path = tmp_path / "inf.jsonl"
    line = orjson.dumps(_trace()[2]).replace(b'"duration_ms":1500.0', b'"duration_ms":1e999')
    lines = mixed_log.path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([*lines[:3], line + b"\n", *lines[3:]]))
    done = cli("stats", "--json", path)
    assert done.returncode == 0, done.stderr
    assert _check_stderr(done.stderr)[0].startswith(f"chainsink: skipped {path}:4: ")
    assert _strict(done.stdout)["records"] == len(mixed_log.records)


# -- fuzz: any value in any field a report reads ------------------------------------------------

_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1),
              st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12)),
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=6), c,
                                                                  max_size=3)),
    max_leaves=6)
_ts = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),  # naive, any year from 1 to 9999
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "", "now",
                     "2026-02-30T00:00:00Z", START, END]),
    _json)
_duration = st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                      st.integers(-(2**63), 2**64 - 1),
                      st.sampled_from(["NaN", "Infinity", "-1", "12.5", 1e300, -0.0]), _json)
_count = st.one_of(st.integers(-(2**63), 2**64 - 1), st.sampled_from([2**63, 2**64 - 1]), _json)
_usage = st.one_of(st.fixed_dictionaries({}, optional={
    k: _count for k in ("input_tokens", "output_tokens", "total_tokens")}), _json)
_fields = {"ts": _ts, "duration_ms": _duration, "usage": _usage, "name": _json,
           "metadata": _json, "tags": _json, "run_type": _json, "model": _json, "error": _json,
           "trace_id": _json, "parent_run_id": _json, "outputs": _json, "inputs": _json}


@st.composite
def odd_logs(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A few traces of chainsink-shaped records, some fields replaced with odd values,
    some records dropped (an end without its start, a start without its end)."""
    recs: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 3))):
        trace = _trace()
        if draw(st.booleans()):
            trace.pop(draw(st.integers(0, len(trace) - 1)))
        for rec in trace:
            for key in draw(st.lists(st.sampled_from(sorted(_fields)), max_size=3, unique=True)):
                rec[key] = draw(_fields[key])
        recs += trace
    return draw(st.permutations(recs))


def test_fuzzed_record_fields_never_abort_a_report(tmp_path: Path) -> None:
    """Random values in every field a report reads: every command exits 0 with short
    one-line messages, and ``stats --json`` counts every record in strict JSON."""

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(recs=odd_logs())
    def run(recs: list[dict[str, Any]]) -> None:
        log = tmp_path / "fuzz.jsonl"
        log.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in recs))
        page = tmp_path / "fuzz.html"
        for argv in (["stats", "--json", str(log)], ["stats", str(log)],
                     ["html", str(log), "-o", str(page)], ["tail", "--no-color", str(log)]):
            code, out, err = run_main(argv)
            assert code == 0, (argv, err)
            lines = _check_stderr(err)
            assert len(lines) <= 12, (argv, lines)
            if argv[1] == "--json":
                stats = _strict(out)
                assert stats["records"] == len(recs)
                assert all(isinstance(v, int) and 0 <= v < 2**63
                           for v in stats["tokens"].values())
        page_data(page.read_text())

    run()
