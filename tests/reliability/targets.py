"""The handlers under test, each with a way to read back what it wrote and check it.

Every handler chainsink ships, in every format: the console (classic and detailed, stdout
captured), files (text, ansi, jsonl), a rotating file, loguru (serialize=True, to a file),
structlog (JSONRenderer), stdlib logging (a JSON formatter) and the bare handler without
processors.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import chaos
import structlog
from loguru import logger as loguru_logger

from chainsink import (
    CallbackHandler,
    FileCallbackHandler,
    LoggingCallbackHandler,
    LoguruCallbackHandler,
    RotatingFileCallbackHandler,
    StdOutCallbackHandler,
    StructlogCallbackHandler,
)
from chainsink.formatters import JsonlFormatter


class StdlibJson(logging.Formatter):
    """A typical stdlib JSON formatter: the message and chainsink's record attributes."""

    FIELDS = ("event", "run_id", "trace_id", "parent_run_id", "run_name", "run_type", "tags",
              "metadata", "inputs", "outputs", "error")

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: getattr(record, k, None) for k in self.FIELDS}
        return json.dumps({"message": record.getMessage(), "level": record.levelname,
                           **fields}, default=repr)


@dataclasses.dataclass
class Target:
    """A handler under test: how to build it, read its output, and what that output must be."""

    name: str
    build: Callable[[Path], tuple[Any, Callable[[], str]]]
    jsonl: bool = False  # the output is chainsink JSONL records
    capped: bool = True  # default processors: lines stay under chaos.LINE_CAP
    stdout: bool = False  # writes to sys.stdout


def _file(fmt: str) -> Callable[[Path], tuple[Any, Callable[[], str]]]:
    def build(tmp: Path) -> tuple[Any, Callable[[], str]]:
        path = tmp / f"run-{uuid.uuid4().hex}.{fmt}"
        handler = FileCallbackHandler(path, format=fmt)

        def read() -> str:
            handler.close()
            return path.read_bytes().decode("utf-8") if path.exists() else ""  # strict
        return handler, read
    return build


def _rotating(tmp: Path) -> tuple[Any, Callable[[], str]]:
    path = tmp / f"rot-{uuid.uuid4().hex}.jsonl"
    handler = RotatingFileCallbackHandler(path, max_bytes=4096, backup_count=10_000)

    def read() -> str:
        handler.close()
        parts = []
        for name in chaos.log_files(path):
            data = Path(name).read_bytes()
            for line in data.splitlines():  # rotation never splits a record
                assert len(line) < 4096 or data == line + b"\n", "an oversized record shares"
            parts.append(data.decode("utf-8"))
        return "".join(parts)
    return handler, read


def _stdout(style: str) -> Callable[[Path], tuple[Any, Callable[[], str]]]:
    def build(tmp: Path) -> tuple[Any, Callable[[], str]]:
        out = io.StringIO()
        handler = StdOutCallbackHandler(style=style)
        handler.chaos_stdout = out  # type: ignore[attr-defined]
        return handler, out.getvalue
    return build


def _loguru(tmp: Path) -> tuple[Any, Callable[[], str]]:
    path = tmp / f"loguru-{uuid.uuid4().hex}.jsonl"
    token = uuid.uuid4().hex
    sink_id = loguru_logger.add(path, serialize=True, level="TRACE", catch=False,
                                filter=lambda r: r["extra"].get("chaos") == token)
    handler = LoguruCallbackHandler(loguru_logger.bind(chaos=token))

    def read() -> str:
        loguru_logger.remove(sink_id)
        return path.read_bytes().decode("utf-8") if path.exists() else ""
    return handler, read


def _structlog(tmp: Path) -> tuple[Any, Callable[[], str]]:
    out = io.StringIO()
    logger = structlog.wrap_logger(structlog.PrintLogger(out), processors=[
        structlog.processors.add_log_level, structlog.processors.JSONRenderer()])
    return StructlogCallbackHandler(logger), out.getvalue


def _logging(tmp: Path) -> tuple[Any, Callable[[], str]]:
    out = io.StringIO()
    logger = logging.getLogger(f"chaos.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    target = logging.StreamHandler(out)
    target.setFormatter(StdlibJson())
    logger.addHandler(target)
    return LoggingCallbackHandler(logger), out.getvalue


def _raw(tmp: Path) -> tuple[Any, Callable[[], str]]:
    lines: list[str] = []
    handler = CallbackHandler(lines.append, JsonlFormatter(), processors=())
    return handler, lambda: "".join(lines)


TARGETS = [
    Target("stdout-classic", _stdout("classic"), stdout=True),
    Target("stdout-detailed", _stdout("detailed"), stdout=True),
    Target("file-text", _file("text")),
    Target("file-ansi", _file("ansi")),
    Target("file-jsonl", _file("jsonl"), jsonl=True),
    Target("rotating-jsonl", _rotating, jsonl=True),
    Target("loguru-serialize", _loguru),
    Target("structlog-json", _structlog),
    Target("logging-json", _logging),
    Target("raw-jsonl-no-processors", _raw, jsonl=True, capped=False),
]
BY_NAME = {t.name: t for t in TARGETS}


@contextlib.contextmanager
def capturing(handler: Any) -> Iterator[None]:
    """Send sys.stdout to the handler's capture buffer, if it writes to stdout."""
    out = getattr(handler, "chaos_stdout", None)
    if out is None:
        yield
    else:
        with contextlib.redirect_stdout(out):
            yield


def check_output(target: Target, text: str, *, secrets: tuple[str, ...] = (chaos.SECRET,)
                 ) -> int:
    """Validate one handler's output; return how many records/lines it holds."""
    if target.capped:  # the default processors run: secrets are masked
        for secret in secrets:
            assert secret not in text, f"{target.name} leaked a secret"
    if target.jsonl:
        records = chaos.parse_jsonl(text.encode("utf-8"),
                                    cap=chaos.LINE_CAP if target.capped else None)
        return len(records)
    if target.name in ("loguru-serialize", "structlog-json", "logging-json"):
        lines = text.split("\n")[:-1]  # not splitlines(): U+2028 inside a line is fine
        for line in lines:
            assert isinstance(json.loads(line), dict)
        return len(lines)
    text.encode("utf-8", "surrogatepass")  # console text is text
    return text.count("\n")


@contextlib.contextmanager
def quiet_loguru() -> Iterator[None]:
    """loguru's default stderr sink stays out of the way while targets add their own sinks."""
    loguru_logger.remove()
    try:
        yield
    finally:
        loguru_logger.remove()
        loguru_logger.add(sys.stderr)
