"""``chainsink tail``: a JSONL log shown as the console would have shown it."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from chainsink import event_from_record
from chainsink.formatters import ConsoleFormatter

from ._support import Log, record_log

TAG = re.compile(r"^\[([0-9a-f]{8})\] (.*)$")


def _render(records: list[dict], style: str = "detailed") -> str:
    formatter = ConsoleFormatter(style, ansi=False, like="stdout")
    return "".join(formatter(event_from_record(r)) for r in records)


def _tag(trace_id: str) -> str:
    return trace_id.replace("-", "")[-8:]


def test_one_trace_renders_exactly_as_the_detailed_console(cli, tmp_path: Path) -> None:
    """A one-trace log prints exactly what the detailed console prints for its events, untagged."""
    log = record_log(tmp_path / "one.jsonl", ["retriever_chain"])
    done = cli("tail", "--no-color", log.path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout == _render(log.records)


def test_classic_style_matches_the_classic_console(cli, tmp_path: Path) -> None:
    """--style classic prints LangChain's own lines for the same records."""
    log = record_log(tmp_path / "agent.jsonl", ["agent_executor"])
    done = cli("tail", "--no-color", "--style", "classic", log.path)
    assert done.returncode == 0, done.stderr
    expected = _render(log.records, "classic")
    assert done.stdout == (expected if expected.endswith("\n") else expected + "\n")
    assert "> Entering new AgentExecutor chain..." in done.stdout


def test_interleaved_traces_tag_every_line_so_one_request_can_be_followed(
        cli, concurrent_log: Log) -> None:
    """Interleaved traces: every line is tagged, and one tag's lines are that trace's output."""
    done = cli("tail", "--no-color", concurrent_log.path)
    assert done.returncode == 0, done.stderr
    by_tag: dict[str, list[str]] = defaultdict(list)
    for line in done.stdout.splitlines():
        if not line.strip():
            continue
        match = TAG.match(line)
        assert match, f"untagged line: {line!r}"
        if match.group(2).strip():
            by_tag[match.group(1)].append(match.group(2))
    trace_ids = concurrent_log.trace_ids
    assert set(by_tag) == {_tag(t) for t in trace_ids}
    for trace_id in trace_ids:
        own = [r for r in concurrent_log.records if r["trace_id"] == trace_id]
        expected = [line for line in _render(own).splitlines() if line.strip()]
        assert by_tag[_tag(trace_id)] == expected


def test_trace_option_takes_an_id_prefix_or_the_tag(cli, concurrent_log: Log) -> None:
    """--trace with the start of a trace id, or with its tag, shows only that trace, untagged."""
    trace_ids = concurrent_log.trace_ids
    trace_id = trace_ids[3]
    own = [r for r in concurrent_log.records if r["trace_id"] == trace_id]
    # the shortest prefix naming it alone (UUIDv7 ids of one millisecond share a long prefix)
    prefix = next(trace_id[:k] for k in range(4, 37)
                  if sum(t.startswith(trace_id[:k]) for t in trace_ids) == 1)
    assert len(prefix) < 36
    for query in (prefix, _tag(trace_id)):
        done = cli("tail", "--no-color", "--trace", query, concurrent_log.path)
        assert done.returncode == 0, done.stderr
        assert done.stdout == _render(own)


def test_event_option_keeps_only_those_events(cli, mixed_log: Log) -> None:
    """--event (repeated or comma-separated) keeps only the events of those kinds."""
    kinds = {"tool_start", "tool_end", "chain_error"}
    done = cli("tail", "--no-color", "--event", "tool_start,tool_end", "--event", "chain_error",
               "--trace", mixed_log.trace_ids[0], mixed_log.path)
    assert done.returncode == 0, done.stderr
    own = [r for r in mixed_log.records
           if r["trace_id"] == mixed_log.trace_ids[0] and r["event"] in kinds]
    assert own
    assert done.stdout == _render(own)


def test_colour_follows_no_color_force_color_and_the_flag(cli, tmp_path: Path) -> None:
    """Colour is on with FORCE_COLOR, off with NO_COLOR or --no-color, off on a pipe."""
    log = record_log(tmp_path / "c.jsonl", ["lcel_invoke"])
    assert "\x1b[" in cli("tail", log.path, env={"FORCE_COLOR": "1"}).stdout
    assert "\x1b[" not in cli("tail", log.path).stdout
    assert "\x1b[" not in cli("tail", log.path, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout
    assert "\x1b[" not in cli("tail", "--no-color", log.path, env={"FORCE_COLOR": "1"}).stdout


def test_stdin_is_read_with_a_dash(cli, tmp_path: Path) -> None:
    """``-`` reads the log from stdin."""
    log = record_log(tmp_path / "s.jsonl", ["lcel_invoke"])
    done = cli("tail", "--no-color", "-", stdin=log.path.read_text())
    assert done.returncode == 0, done.stderr
    assert done.stdout == _render(log.records)


def test_line_style_prints_one_line_per_event(cli, tmp_path: Path) -> None:
    """--style line prints each event, streamed tokens included, as one line."""
    log = record_log(tmp_path / "l.jsonl", ["lcel_stream"])
    done = cli("tail", "--no-color", "--style", "line", log.path)
    assert done.returncode == 0, done.stderr
    formatter = ConsoleFormatter("line", ansi=False)
    assert done.stdout.splitlines() == [formatter(event_from_record(r)) for r in log.records]
    assert any(line.startswith("token ") for line in done.stdout.splitlines())


def test_a_failure_shows_the_end_of_its_traceback_as_the_console_does(
        cli, tmp_path: Path) -> None:
    """A failing chain's records: under each error line the end of its traceback (the frame
    that raised), rendered by the detailed console's own formatter."""
    log = record_log(tmp_path / "err.jsonl", ["error_chain"])
    done = cli("tail", "--no-color", log.path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == _render(log.records)
    assert "        raise ValueError(ERROR_MESSAGE)\n      ValueError: boom\n" in done.stdout
    assert done.stdout.rstrip("\n").endswith("traceback: as above")
