"""loguru, structlog and stdlib logging receive every run as structured records."""

from __future__ import annotations

import io
import json
import logging
import logging.handlers
import queue
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import structlog
import workloads
from langchain_core.tracers.run_collector import RunCollectorCallbackHandler
from loguru import logger as loguru_logger

from chainsink import (
    Event,
    LoggingCallbackHandler,
    LoguruCallbackHandler,
    StructlogCallbackHandler,
)

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
    assert errors[0]["extra"]["error"] == {"type": "ValueError", "message": "boom"}


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
