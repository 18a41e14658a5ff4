"""loguru, structlog and stdlib logging receive every run as structured records."""

from __future__ import annotations

import io
import json
import logging
import logging.handlers
import queue
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import structlog
import workloads
from langchain_core.runnables import RunnableLambda
from langchain_core.tracers.run_collector import RunCollectorCallbackHandler
from loguru import logger as loguru_logger

from chainsink import (
    CallbackHandler,
    Event,
    LoggingCallbackHandler,
    LoguruCallbackHandler,
    StructlogCallbackHandler,
)
from chainsink.formatters import ConsoleFormatter, JsonlFormatter, LogFormatter, strip_ansi
from chainsink.sinks import LoggingSink, LoguruSink

WORKLOADS: dict[str, Callable[[list[Any]], Any]] = {
    "retriever_chain": workloads.retriever_chain,
    "agent_executor": workloads.agent_executor,
    "create_agent": workloads.create_agent_workload,
}


def collected_runs(collector: RunCollectorCallbackHandler) -> dict[str, Any]:
    """Every run the collector saw, by id, walking child runs."""
    runs: dict[str, Any] = {}
    stack = list(collector.traced_runs)
    while stack:
        run = stack.pop()
        runs[str(run.id)] = run
        stack.extend(run.child_runs)
    return runs


def check_runs(records: list[dict[str, Any]], collector: RunCollectorCallbackHandler,
               kind_key: str = "event") -> None:
    """Every collector run has a start and an end/error record with run and trace ids."""
    runs = collected_runs(collector)
    assert runs
    by_run: dict[str, list[str]] = {}
    for rec in records:
        by_run.setdefault(rec["run_id"], []).append(rec[kind_key])
        run = runs[rec["run_id"]]
        assert rec["trace_id"] == str(run.trace_id)
    assert set(by_run) == set(runs)
    for run_id, kinds in by_run.items():
        assert sum(k.endswith("_start") for k in kinds) == 1, (run_id, kinds)
        assert sum(k.endswith(("_end", "_error")) for k in kinds) == 1, (run_id, kinds)


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_loguru_serialize(workload: str, tmp_path: Path) -> None:
    """loguru with serialize=True writes every run, with run_id/trace_id in record.extra."""
    path = tmp_path / "loguru.jsonl"
    sink_id = loguru_logger.add(path, serialize=True, level="TRACE", enqueue=True)
    try:
        collector = RunCollectorCallbackHandler()
        WORKLOADS[workload]([collector, LoguruCallbackHandler()])
        loguru_logger.complete()
    finally:
        loguru_logger.remove(sink_id)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    records = [line["record"]["extra"] for line in lines]
    check_runs(records, collector)
    levels = {line["record"]["extra"]["event"]: line["record"]["level"]["name"] for line in lines}
    assert levels.get("chain_start") == "INFO"
    messages = [line["record"]["message"] for line in lines]
    assert any(m.startswith("> Entering new") for m in messages)


def test_loguru_errors_log_at_error(tmp_path: Path) -> None:
    """A failing chain's error record is logged at ERROR with its error fields."""
    path = tmp_path / "loguru.jsonl"
    sink_id = loguru_logger.add(path, serialize=True, level="DEBUG")
    try:
        workloads.error_chain([LoguruCallbackHandler()])
    finally:
        loguru_logger.remove(sink_id)
    lines = [json.loads(line)["record"] for line in path.read_text().splitlines()]
    errors = [r for r in lines if r["extra"]["event"] == "chain_error"]
    assert errors and all(r["level"]["name"] == "ERROR" for r in errors)
    error = errors[0]["extra"]["error"]
    assert {k: error[k] for k in ("type", "message")} == {"type": "ValueError", "message": "boom"}
    assert error["traceback"].endswith("ValueError: boom\n")


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_structlog_json_renderer(workload: str) -> None:
    """structlog with its JSONRenderer gets every run as key-values; event is the message."""
    out = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(out),
        processors=[structlog.processors.add_log_level, structlog.processors.JSONRenderer()],
    )
    collector = RunCollectorCallbackHandler()
    WORKLOADS[workload]([collector, StructlogCallbackHandler(logger)])
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    check_runs(records, collector, kind_key="lc_event")
    assert any(r["event"].startswith("> Entering new") for r in records)
    assert {r["level"] for r in records} <= {"info", "error", "debug"}


def test_structlog_contextvars_are_merged() -> None:
    """The user's merge_contextvars processor adds their request id to chainsink's records."""
    out = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(out),
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.JSONRenderer()],
    )
    structlog.contextvars.bind_contextvars(request_id="req-42")
    try:
        workloads.invoke_lcel([StructlogCallbackHandler(logger)])
    finally:
        structlog.contextvars.clear_contextvars()
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert records and all(r["request_id"] == "req-42" for r in records)


class JsonFormatter(logging.Formatter):
    """A typical stdlib JSON formatter: the message plus chosen LogRecord attributes."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: getattr(record, k, None) for k in
                  ("event", "run_id", "trace_id", "parent_run_id", "run_name", "run_type")}
        return json.dumps({"message": record.getMessage(), "level": record.levelname, **fields})


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_stdlib_logging_through_queue_handler(workload: str) -> None:
    """stdlib logging through QueueHandler -> QueueListener -> a JSON formatter gets every run."""
    out = io.StringIO()
    target = logging.StreamHandler(out)
    target.setFormatter(JsonFormatter())
    q: queue.Queue[logging.LogRecord] = queue.Queue()
    listener = logging.handlers.QueueListener(q, target)
    logger = logging.getLogger(f"test.chainsink.{workload}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(logging.handlers.QueueHandler(q))
    listener.start()
    try:
        collector = RunCollectorCallbackHandler()
        WORKLOADS[workload]([collector, LoggingCallbackHandler(logger)])
    finally:
        listener.stop()
        logger.handlers.clear()
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    check_runs(records, collector)
    assert all(r["run_name"] for r in records)


def _stdlib_logger(name: str, fmt: str) -> tuple[logging.Logger, io.StringIO]:
    """A non-propagating stdlib logger writing ``fmt`` lines into the returned buffer."""
    out = io.StringIO()
    logger = logging.getLogger(name)
    logger.propagate = False
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter(fmt))
    logger.addHandler(handler)
    return logger, out


def test_stdlib_tokens_only_when_debug_enabled() -> None:
    """Streamed tokens log at DEBUG: absent at INFO, present once the logger allows DEBUG."""
    logger, out = _stdlib_logger("test.chainsink.tokens", "%(levelname)s %(event)s %(message)s")
    try:
        logger.setLevel(logging.INFO)
        workloads.stream_lcel([LoggingCallbackHandler(logger)])
        assert "llm_new_token" not in out.getvalue() and "chain_start" in out.getvalue()
        logger.setLevel(logging.DEBUG)
        workloads.stream_lcel([LoggingCallbackHandler(logger)])
        assert "DEBUG llm_new_token token" in out.getvalue()
    finally:
        logger.handlers.clear()


def _token_spy() -> tuple[list[str], Callable[[Event], Event]]:
    seen: list[str] = []

    def spy(event: Event) -> Event:
        if event.event == "llm_new_token":
            seen.append(event.data["token"])
        return event

    return seen, spy


def test_loggers_build_no_token_event_below_their_level(tmp_path: Path) -> None:
    """At INFO, loguru, structlog and stdlib handlers skip tokens before building an event;
    once the logger takes its token level (TRACE/DEBUG), every token is logged."""
    loguru_path = tmp_path / "loguru.log"
    stdlib, out = _stdlib_logger("test.chainsink.skip", "%(levelname)s %(event)s")
    structlog_out = io.StringIO()
    quiet: dict[str, str] = {}
    try:
        for verbose in (False, True):
            loguru_logger.remove()
            sink_id = loguru_logger.add(loguru_path, level="TRACE" if verbose else "INFO",
                                        format="{level} {extra[event]} {message}")
            stdlib.setLevel(logging.DEBUG if verbose else logging.INFO)
            struct = structlog.wrap_logger(
                structlog.PrintLogger(structlog_out),
                wrapper_class=structlog.make_filtering_bound_logger(
                    logging.DEBUG if verbose else logging.INFO),
                processors=[structlog.processors.JSONRenderer()])
            spies = [_token_spy() for _ in range(3)]
            handlers = [
                LoguruCallbackHandler(processors=[spies[0][1]]),
                StructlogCallbackHandler(struct, processors=[spies[1][1]]),
                LoggingCallbackHandler(stdlib, processors=[spies[2][1]]),
            ]
            answer = workloads.stream_lcel(handlers)
            loguru_logger.remove(sink_id)
            for seen, _ in spies:
                assert ("".join(seen) == answer) if verbose else seen == []
            logged = {"loguru": loguru_path.read_text(), "structlog": structlog_out.getvalue(),
                      "stdlib": out.getvalue()}
            if not verbose:
                quiet = logged
                assert all("chain_start" in text for text in logged.values())
                assert not any("llm_new_token" in text for text in logged.values())
        for name, text in logged.items():  # what the verbose pass added
            assert "llm_new_token" in text[len(quiet[name]):], name
    finally:
        stdlib.handlers.clear()
        loguru_logger.remove()


def test_bad_levels_fail_at_construction() -> None:
    """Unknown levels are refused when the handler is built."""
    with pytest.raises(ValueError):
        LoguruCallbackHandler(level="LOUD")
    with pytest.raises(ValueError):
        StructlogCallbackHandler(level="loud")
    with pytest.raises(ValueError):
        LoggingCallbackHandler(level="LOUD")


# -- with the logger's default configuration: brief messages named after the run ---------------

#: The run keys every record carries (the JSONL record's, after v, ts and event).
RUN_KEYS = ("run_id", "parent_run_id", "trace_id", "depth", "name", "run_type", "tags",
            "metadata")


def reference_records(out: io.StringIO) -> list[dict[str, Any]]:
    """The JSONL records a plain JSONL handler wrote for the same run."""
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_loguru_default_format_names_the_run_and_says_what_happened() -> None:
    """With loguru's default format a line's source is the run (``chainsink:<run>:<depth>``),
    not chainsink's code, and the model's line carries its answer, duration and tokens."""
    out = io.StringIO()
    sink_id = loguru_logger.add(out, level="INFO", colorize=False)  # loguru's default format
    try:
        answer = workloads.invoke_lcel([LoguruCallbackHandler()])
    finally:
        loguru_logger.remove(sink_id)
    lines = out.getvalue().splitlines()
    assert len(lines) == 8
    internals = re.compile(r"chainsink\.(sinks|handlers)|_emit|write")
    assert not [line for line in lines if internals.search(line)]
    assert "| chainsink:RunnableSequence:0 - > Entering new RunnableSequence chain... " \
           '{"topic":"parrots"}' in lines[0]
    (model,) = [line for line in lines if "ScriptedChatModel finished" in line]
    assert "| chainsink:ScriptedChatModel:1 - > ScriptedChatModel finished (" in model
    assert model.endswith(f' ms) [fake-chat-1] tokens: 11 in, 7 out, 18 total -> "{answer}"')


def test_loguru_extra_is_the_whole_record_and_the_source_is_the_run(tmp_path: Path) -> None:
    """``serialize=True`` writes the JSONL record in ``extra``, key for key; the record's
    name, function and line are ``chainsink``, the run's name and its depth."""
    path, reference = tmp_path / "loguru.jsonl", io.StringIO()
    sink_id = loguru_logger.add(path, serialize=True, level="INFO")
    try:
        workloads.invoke_lcel([LoguruCallbackHandler(), CallbackHandler(reference,
                                                                        JsonlFormatter())])
    finally:
        loguru_logger.remove(sink_id)
    records = [json.loads(line)["record"] for line in path.read_text().splitlines()]
    expected = reference_records(reference)
    assert [r["extra"]["event"] for r in records] == [r["event"] for r in expected]
    for record, want in zip(records, expected, strict=True):
        assert list(record["extra"]) == list(want)
        assert {k: record["extra"][k] for k in RUN_KEYS} == {k: want[k] for k in RUN_KEYS}
        assert (record["name"], record["function"], record["line"]) == (
            "chainsink", want["name"], want["depth"])


def test_loguru_disable_chainsink_silences_it() -> None:
    """``logger.disable("chainsink")`` drops chainsink's records, as for any library."""
    out = io.StringIO()
    sink_id = loguru_logger.add(out, level="INFO", format="{message}")
    try:
        loguru_logger.disable("chainsink")
        try:
            workloads.invoke_lcel([LoguruCallbackHandler()])
        finally:
            loguru_logger.enable("chainsink")
        assert out.getvalue() == ""
        workloads.invoke_lcel([LoguruCallbackHandler()])
    finally:
        loguru_logger.remove(sink_id)
    assert out.getvalue().count("\n") == 8


@pytest.mark.parametrize("configured", ["default", "wrapped"])
def test_structlog_console_renderer_gets_one_short_line_per_event(
        configured: str, capsys: pytest.CaptureFixture[str]) -> None:
    """With structlog's defaults (ConsoleRenderer), or a logger wrapped with a
    ConsoleRenderer, each event is one readable line: the brief message, no run ids, record
    timestamp, tags or metadata after it."""
    structlog.reset_defaults()
    out, reference = io.StringIO(), io.StringIO()
    logger = None if configured == "default" else structlog.wrap_logger(
        structlog.PrintLogger(out), processors=[structlog.processors.add_log_level,
                                                structlog.dev.ConsoleRenderer(colors=False)])
    try:
        answer = workloads.invoke_lcel([StructlogCallbackHandler(logger),
                                        CallbackHandler(reference, JsonlFormatter())])
    finally:
        structlog.reset_defaults()
    written = capsys.readouterr().out if logger is None else out.getvalue()
    lines = [strip_ansi(line) for line in written.splitlines()]
    assert len(lines) == len(reference_records(reference)) == 8
    for line in lines:
        assert re.search(r"\[info\s*\] > ", line), line
        assert not re.search(r" \w+=", line), line  # no key=value after the message
        assert len(line) < 200, line
    assert lines[-1].endswith(f' ms) -> "{answer}"')


def test_structlog_configured_json_renderer_gets_every_field() -> None:
    """A JSONRenderer configured for structlog (after the handler was made) gets the whole
    record: every JSONL key, the kind as ``lc_event``, the brief message as ``event``."""
    out, reference = io.StringIO(), io.StringIO()
    handler = StructlogCallbackHandler()  # follows structlog's configuration at each call
    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(out))
    try:
        workloads.invoke_lcel([handler, CallbackHandler(reference, JsonlFormatter())])
    finally:
        structlog.reset_defaults()
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    expected = reference_records(reference)
    assert [r["lc_event"] for r in records] == [r["event"] for r in expected]
    for record, want in zip(records, expected, strict=True):
        assert set(record) == set(want) | {"lc_event", "level"}
        assert {k: record[k] for k in RUN_KEYS} == {k: want[k] for k in RUN_KEYS}
        assert record["event"].startswith("> ")


def test_stdlib_message_is_brief_and_fields_are_attributes() -> None:
    """stdlib logging gets the same brief message; every record key is a LogRecord attribute
    (``name`` as ``run_name``)."""
    kept: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record)

    logger = logging.getLogger("test.chainsink.brief")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(Keep())
    reference = io.StringIO()
    try:
        answer = workloads.invoke_lcel([LoggingCallbackHandler(logger),
                                        CallbackHandler(reference, JsonlFormatter())])
    finally:
        logger.handlers.clear()
    expected = reference_records(reference)
    assert [r.event for r in kept] == [r["event"] for r in expected]  # type: ignore[attr-defined]
    for record, want in zip(kept, expected, strict=True):
        for key in want:
            assert hasattr(record, "run_name" if key == "name" else key), key
        assert record.run_name == want["name"]  # type: ignore[attr-defined]
        assert record.run_id == want["run_id"]  # type: ignore[attr-defined]
    model = [r.getMessage() for r in kept if r.event == "llm_end"]  # type: ignore[attr-defined]
    assert model == [model[0]] and model[0].endswith(
        f' ms) [fake-chat-1] tokens: 11 in, 7 out, 18 total -> "{answer}"')


def test_loguru_records_from_an_event_loop_keep_the_run_and_the_caller(tmp_path: Path) -> None:
    """On an event loop loguru records are logged by the sink's writer thread, yet keep the
    run as their source, the caller's thread, and the whole record in ``extra``."""
    import asyncio

    path = tmp_path / "loguru.jsonl"
    sink_id = loguru_logger.add(path, serialize=True, level="INFO")
    handler = LoguruCallbackHandler()
    try:
        asyncio.run(workloads.ainvoke_lcel([handler]))
        handler.close()  # waits for the writer thread
    finally:
        loguru_logger.remove(sink_id)
    records = [json.loads(line)["record"] for line in path.read_text().splitlines()]
    assert len(records) == 8
    for record in records:
        assert (record["name"], record["function"]) == ("chainsink", record["extra"]["name"])
        assert record["thread"]["name"] == "MainThread"
        assert set(RUN_KEYS) <= set(record["extra"])


#: How each kind's message starts, by the run's name.
HEADS = {"chain_start": "> Entering new {} ", "chain_end": "> Finished {} ",
         "chat_model_start": "> Chat model {} started", "llm_end": "> {} finished"}


def test_loguru_records_from_many_threads_keep_their_own_fields(tmp_path: Path) -> None:
    """Eight threads logging through one handler at once, switching as often as they can:
    each record carries its own event's fields, message and source, none another's."""
    path, reference = tmp_path / "loguru.jsonl", io.StringIO()
    sink_id = loguru_logger.add(path, serialize=True, level="INFO")
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workloads.batch_lcel_threaded([LoguruCallbackHandler(),
                                       CallbackHandler(reference, JsonlFormatter())])
    finally:
        sys.setswitchinterval(switch)
        loguru_logger.remove(sink_id)
    records = [json.loads(line)["record"] for line in path.read_text().splitlines()]
    expected = {(r["run_id"], r["event"]): r for r in reference_records(reference)}
    assert sorted((r["extra"]["run_id"], r["extra"]["event"]) for r in records) == sorted(
        expected)
    assert len(records) == 8 * workloads.N_BATCH
    for record in records:
        extra = record["extra"]
        want = expected[extra["run_id"], extra["event"]]
        assert {k: extra[k] for k in RUN_KEYS} == {k: want[k] for k in RUN_KEYS}
        assert (record["function"], record["line"]) == (want["name"], want["depth"])
        assert record["message"].startswith(HEADS[want["event"]].format(want["name"]))


HOSTILE_NAME = "evil\x1b[2J\x9b31m\x07\rFORGED\nline"


@pytest.mark.parametrize("colorize", [False, True])
def test_loguru_default_format_shows_a_hostile_run_name_as_text(colorize: bool) -> None:
    """A run name full of terminal controls and line breaks reaches loguru's default format
    (``{function}`` is printed raw) and the message as text: one record, one line, no
    control character (but the colours loguru adds itself)."""
    out = io.StringIO()
    sink_id = loguru_logger.add(out, level="INFO", colorize=colorize)
    try:
        RunnableLambda(lambda x: x).invoke(1, {"callbacks": [LoguruCallbackHandler()],
                                               "run_name": HOSTILE_NAME})
    finally:
        loguru_logger.remove(sink_id)
    text = out.getvalue()
    lines = text.splitlines()
    assert len(lines) == 2, lines
    plain = strip_ansi(text) if colorize else text
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", plain), repr(plain)
    assert "chainsink:evil\\x1b[2J\\x9b31m\\x07\\rFORGED\\nline:0 - " in plain


def test_logger_sinks_paired_with_another_formatter_keep_levels_and_fields() -> None:
    """A logger sink given another formatter's text logs it as the logger handlers would: a
    failure at ERROR with the record's fields."""
    got: list[Any] = []
    sink_id = loguru_logger.add(lambda message: got.append(message.record), level="TRACE")

    def boom(_: Any) -> Any:
        raise ValueError("no")

    stdlib = logging.getLogger("chainsink.test.pairing")
    stdlib.setLevel(logging.DEBUG)
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    stdlib.addHandler(Keep())
    handlers = [CallbackHandler(LoguruSink(), ConsoleFormatter("detailed", ansi=False)),
                CallbackHandler(LoggingSink(stdlib), ConsoleFormatter("detailed", ansi=False))]
    try:
        with pytest.raises(ValueError, match="no"):
            RunnableLambda(boom).invoke(1, {"callbacks": handlers})
    finally:
        loguru_logger.remove(sink_id)
    assert [r["level"].name for r in got] == ["INFO", "ERROR"]
    assert got[1]["extra"]["event"] == "chain_error"
    assert got[1]["extra"]["error"]["message"] == "no"
    assert [r.levelno for r in seen] == [logging.INFO, logging.ERROR]
    assert seen[1].error["type"] == "ValueError"  # type: ignore[attr-defined]


# -- what the handlers save per event must not change what they log -----------------------------

#: Workloads covering every kind a logger handler logs at INFO: chains, chat models and LLMs,
#: tools, agents (actions, finishes, LLMChain's text), retrievers, failures.
MESSAGE_WORKLOADS: dict[str, Callable[[list[Any]], Any]] = {
    **WORKLOADS, "llm_chain_verbose": workloads.llm_chain_verbose,
    "error_chain": workloads.error_chain, "batch": workloads.batch_lcel_threaded}


class EventsKept(CallbackHandler):
    """A handler keeping the events it would write (after the default processors)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        super().__init__(lambda _: None, lambda event: self.events.append(event) or "x")


@pytest.mark.parametrize("workload", sorted(MESSAGE_WORKLOADS))
def test_messages_start_with_the_console_line_of_their_event(workload: str) -> None:
    """The message of every event of a real run starts with the event's detailed console line
    (the part a logger handler renders once per run name, or from the few fields the line
    reads) and the level, message and fields of a line do not depend on the lines before."""
    kept = EventsKept()
    MESSAGE_WORKLOADS[workload]([kept])
    assert kept.events
    console = ConsoleFormatter("line", ansi=False)
    for make in (LogFormatter.for_loguru, LogFormatter.for_structlog, LogFormatter.for_logging):
        lines, fresh = make(), make
        for event in kept.events:
            line = lines(event)
            once = fresh()(event)  # a formatter that saw nothing before
            assert (line, line.level, line.fields) == (once, once.level, once.fields)
            if line:
                head = console(event).replace("\n", "\\n")
                assert line.startswith(head.encode("utf-8", "backslashreplace").decode()), (
                    line, head)


def test_structlog_lazy_proxy_is_assembled_once_per_event() -> None:
    """structlog assembles a lazy proxy's logger from its configuration at each call; the
    handler has it do that once per event (the level check and the record share it), and a
    configuration changed between runs still takes effect."""
    made: list[Any] = []
    outs = [io.StringIO(), io.StringIO()]

    def factory(*_: Any) -> Any:
        made.append(None)
        return structlog.PrintLogger(outs[0])

    handler = StructlogCallbackHandler()
    structlog.configure(
        processors=[structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=factory, cache_logger_on_first_use=False)
    try:
        workloads.invoke_lcel([handler])
        records = [json.loads(line) for line in outs[0].getvalue().splitlines()]
        assert len(records) == 8 and len(made) == len(records)
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(outs[1]))
        workloads.invoke_lcel([handler])
    finally:
        structlog.reset_defaults()
    assert len(outs[1].getvalue().splitlines()) == 8
    assert len(outs[0].getvalue().splitlines()) == 8


def _structlog_records(handlers: Callable[[], list[Any]]) -> tuple[list[Any], Callable[[], Any]]:
    out = io.StringIO()
    logger = structlog.wrap_logger(structlog.PrintLogger(out),
                                   processors=[structlog.processors.JSONRenderer()])
    return [StructlogCallbackHandler(logger)], lambda: [
        {**r, "event": r.pop("lc_event"), "message": r["event"]}
        for r in map(json.loads, out.getvalue().splitlines())]


def _logging_records(handlers: Callable[[], list[Any]]) -> tuple[list[Any], Callable[[], Any]]:
    kept: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record)

    logger = logging.getLogger("test.chainsink.threads")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.handlers[:] = [Keep()]
    return [LoggingCallbackHandler(logger)], lambda: [
        {**{k: getattr(r, k) for k in (*RUN_KEYS, "event") if k != "name"},
         "name": r.run_name, "message": r.getMessage()}  # type: ignore[attr-defined]
        for r in kept]


@pytest.mark.parametrize("records", [_structlog_records, _logging_records])
def test_records_from_many_threads_keep_their_own_fields(
        records: Callable[..., tuple[list[Any], Callable[[], Any]]]) -> None:
    """Eight threads logging through one structlog or stdlib handler at once: each record
    carries its own run's keys and its own message, none another's."""
    handlers, read = records(list)
    reference = io.StringIO()
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workloads.batch_lcel_threaded([*handlers, CallbackHandler(reference, JsonlFormatter())])
    finally:
        sys.setswitchinterval(switch)
    expected = {(r["run_id"], r["event"]): r for r in reference_records(reference)}
    got = read()
    assert sorted((r["run_id"], r["event"]) for r in got) == sorted(expected)
    for record in got:
        want = expected[record["run_id"], record["event"]]
        assert {k: record[k] for k in RUN_KEYS} == {k: want[k] for k in RUN_KEYS}
        assert record["message"].startswith(HEADS[want["event"]].format(want["name"]))


def test_a_run_key_changed_during_the_run_is_in_the_next_record() -> None:
    """A processor changing a run's metadata for one event: that record carries the new
    metadata, the run's other records their own (run keys are serialized once per run
    while they stay the same)."""
    kept: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record)

    def relabel(event: Event) -> Event:
        if event.event == "chain_end":
            return event.replace(metadata={**event.metadata, "stage": "end"}, tags=["done"])
        return event

    logger = logging.getLogger("test.chainsink.relabel")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.handlers[:] = [Keep()]
    workloads.invoke_lcel([LoggingCallbackHandler(logger, processors=[relabel])])
    for record in kept:
        ends = record.event == "chain_end"  # type: ignore[attr-defined]
        assert (record.metadata.get("stage") == "end") is ends  # type: ignore[attr-defined]
        assert (record.tags == ["done"]) is ends  # type: ignore[attr-defined]
