"""Log lines: everything one call to the user's logger needs, decided from an event.

loguru's split between deciding and writing: its handler picks the level and formats, its sinks
only write. Here :class:`LogFormatter` decides (the level an event logs at, its brief message, its
structured fields) and the logger sinks in :mod:`chainsink.sinks` only hand a :class:`LogLine`
to loguru, structlog or ``logging``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

import orjson

from chainsink._jsonable import clean_text, dumps
from chainsink._schema import ERROR_KINDS, EVENT_KINDS, PLACEHOLDER_INPUTS, Event
from chainsink.formatters._console import ConsoleFormatter, _took
from chainsink.formatters._jsonl import JsonlFormatter, json_record
from chainsink.formatters._styles import inert

#: LogRecord attributes an ``extra`` key may not overwrite: a record key among them gets an
#: ``lc_`` prefix, except ``name``, which becomes ``run_name``.
_LOGRECORD_KEYS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime"}
LOGRECORD_RENAMES = {key: "run_name" if key == "name" else "lc_" + key
                     for key in _LOGRECORD_KEYS}

Level = int | str
"""A level in the logger's own terms: ``logging.INFO``, loguru's ``"INFO"``, structlog's
``"info"``."""

#: How many characters of a run's content (an answer, a tool's output, a chain's inputs or
#: outputs) a message shows before ``...``.
CLIP = 100


class LogLine(str):
    """One call to a logger: the brief message (the string itself), its level and fields.

    A ``str``, as loguru hands its sinks a ``Message`` string carrying the record: the logger
    sinks read :attr:`level` and :attr:`fields` besides the text. It has no line end (a
    logger adds its own), so it is meant for those sinks, not for streams or files.

    Attributes:
        level: The level to log at, in the logger's own terms.
        fields: The event's JSONL record as plain JSON values (keys the logger reserves
            renamed), or None for a message without fields.
    """

    __slots__ = ("fields", "level")

    level: Level
    fields: dict[str, Any] | None

    def __new__(cls, message: str, level: Level = logging.INFO,
                fields: dict[str, Any] | None = None) -> LogLine:
        """A line saying ``message`` at ``level`` with ``fields``."""
        line = super().__new__(cls, message)
        line.level = level
        line.fields = fields
        return line

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str.__str__(self), self.level, self.fields)


class LogFormatter:
    """Turn each event into a :class:`LogLine`: what the user's logger is called with.

    The logger handlers (``LoguruCallbackHandler``, ``StructlogCallbackHandler``,
    ``LoggingCallbackHandler``) pair one with the matching logger sink; the sink only writes.

    - The level: an error event at ``error``, except a run that stopped without failing (its
      record flagged ``interrupted`` or ``aborted``: cancelled, interrupted, its stream
      closed, closed at exit) at ``warning``, and a LangGraph handoff at ``level``, so that
      alerting on ERROR does not fire for them; a streamed token at ``token``; any other
      event at ``level``.
    - The message says what happened in brief: the event's one line of the detailed console
      (``ConsoleFormatter("line")``: the run, what it did, its duration and token usage),
      then, clipped to :data:`CLIP` characters, the content that says the most: the model's
      answer (or the tools it calls), a tool's input and output, the inputs and outputs of a
      trace's root chain (not of the steps inside it), an agent's tool input and return
      values, a retriever's query. For example
      ``> ChatModel finished (12.0 ms) [gpt-x] tokens: 5 in, 10 out, 15 total -> "The
      answer is..."``. The message is one line (a newline in a name or an error message is
      shown as ``\\n``, so no record can pass for two); the run's text never controls a
      terminal (see :func:`~chainsink.formatters.inert`).
    - The fields: the event's JSONL record as plain JSON values (``v``, ``ts``, ``event``,
      ``run_id``, ``trace_id``, ``name``, ... and the event's own), so structured output
      (loguru's ``serialize=True``, structlog's ``JSONRenderer``, a JSON ``logging``
      formatter) gets the whole record.

    Args:
        level: The level of ordinary events, in the logger's terms (``logging.INFO``,
            ``"INFO"`` for loguru, ``"info"`` for structlog).
        error: The level of a failed run's error event.
        warning: The level of a run that stopped without failing.
        token: The level of a streamed token.
        rename: Record keys the logger reserves, with the names they take instead: stdlib
            ``logging`` reserves its LogRecord attributes (``name`` becomes ``run_name``),
            structlog its ``event`` (the message; the kind becomes ``lc_event``).

    >>> from chainsink.formatters import LogFormatter
    >>> lines = LogFormatter("INFO", error="ERROR", warning="WARNING", token="TRACE")
    >>> lines.level_for("tool_error"), lines.level_for("llm_new_token")
    ('ERROR', 'TRACE')
    """

    #: Renders every kind (the logger's level decides what is kept).
    kinds = frozenset(EVENT_KINDS)

    def __init__(self, level: Level = logging.INFO, *, error: Level = logging.ERROR,
                 warning: Level = logging.WARNING, token: Level = logging.DEBUG,
                 rename: Mapping[str, str] | None = None) -> None:
        for name, value in (("level", level), ("error", error), ("warning", warning),
                            ("token", token)):
            if type(value) not in (int, str):
                raise TypeError(f"{name} must be a level name or number, not {value!r}")
        self.level = level
        self.error = error
        self.warning = warning
        self.token = token
        self.rename: dict[str, str] = dict(rename or {})
        # a few names (structlog's one) are looked up in the record; many (LogRecord's) the
        # other way round
        self._few_renames = len(self.rename) <= 4
        self._renamed_keys = self.rename.keys()
        self._line = ConsoleFormatter("line", ansi=False)
        # the records' JSON, each open run's keys serialized once (see _record)
        self._jsonl = JsonlFormatter()
        # the console lines of runs by kind, run name and type (see _message)
        self._heads: dict[tuple[str, str, str], str | None] = {}
        self._by_kind = {kind: error if kind in ERROR_KINDS else
                         token if kind == "llm_new_token" else level for kind in EVENT_KINDS}

    @classmethod
    def for_loguru(cls, level: Level = "INFO") -> LogFormatter:
        """Lines in loguru's terms (``"ERROR"``, ``"WARNING"``, tokens at ``"TRACE"``)."""
        return cls(level, error="ERROR", warning="WARNING", token="TRACE")

    @classmethod
    def for_structlog(cls, level: str = "info") -> LogFormatter:
        """Lines in structlog's terms (method names; the callback kind as ``lc_event``,
        since ``event`` is structlog's message)."""
        return cls(level, error="error", warning="warning", token="debug",
                   rename={"event": "lc_event"})

    @classmethod
    def for_logging(cls, level: int = logging.INFO) -> LogFormatter:
        """Lines in stdlib ``logging``'s terms (level numbers; record keys that are LogRecord
        attributes renamed: ``name`` to ``run_name``, the others with an ``lc_`` prefix)."""
        return cls(level, error=logging.ERROR, warning=logging.WARNING, token=logging.DEBUG,
                   rename=LOGRECORD_RENAMES)

    def line(self, event: Event, message: str) -> LogLine:
        """``message`` (another formatter's text for ``event``) as a line at the event's level,
        with its record as fields: how a logger sink logs what a formatter other than this one
        rendered."""
        return LogLine(clean_text(message), self.level_of(event),
                       self._renamed(self._record(event)))

    def _renamed(self, fields: dict[str, Any]) -> dict[str, Any]:
        rename = self.rename
        if rename:
            if self._few_renames:
                for key in rename:
                    if key in fields and key in rename:
                        fields[rename[key]] = fields.pop(key)
                return fields
            found = self._renamed_keys & fields.keys()  # in C; usually just "name"
            if len(found) == 1:
                key = found.pop()
                fields[rename[key]] = fields.pop(key)
            elif found:  # in the record's order
                for key in list(fields):
                    if key in fields and key in rename:
                        fields[rename[key]] = fields.pop(key)
        return fields

    def _record(self, event: Event) -> dict[str, Any]:
        """:func:`~chainsink.formatters.json_record` of ``event``: the same dict, read back
        from :meth:`JsonlFormatter.render_bytes` (the run's keys serialized once per run, the
        event's data as the processors already serialized it)."""
        if (event.event not in self._by_kind or type(event.run_id) is not UUID
                or type(event.data) is not dict):
            return json_record(event)  # not one of ours: no shortcuts
        fields: dict[str, Any] = orjson.loads(self._jsonl.render_bytes(event))
        return fields

    def _message(self, event: Event) -> str:
        """The event's console line (``ConsoleFormatter("line")``), rendered from the data
        its line reads: the body the detailed console shows under it, which the line leaves
        out, is not built (inputs, prompts, messages, answers, tracebacks). A line that only
        names the run (a start), or names it and adds its duration (a chain's or a tool's
        end), is rendered once per kind, run name and run type."""
        kind = event.event
        keys = _LINE_KEYS.get(kind)
        data = event.data
        if keys is None or type(data) is not dict:
            return self._line(event)
        name, run_type = event.name, event.run_type
        if type(name) is str and type(run_type) is str and (
                not keys or (kind in _TIMED and type(data.get("duration_ms")) is float)):
            try:
                head = self._heads[kind, name, run_type]
            except KeyError:
                head = self._head(event)
            if head is not None:
                return head + _took(self._line.styles, event) if keys else head
        thin = {key: data[key] for key in keys if key in data}
        error = thin.get("error")
        if type(error) is dict and "traceback" in error:
            thin["error"] = {key: value for key, value in error.items() if key != "traceback"}
        return self._line(_new_tuple(Event, (*event[:-1], thin)))

    def _head(self, event: Event) -> str | None:
        """Render and keep the console line of the runs of ``event``'s kind, name and type,
        without a duration. For an end, only if its line is that plus its duration (checked
        on this event); else None: such lines are rendered each time."""
        line = self._line(_new_tuple(Event, (*event[:-1], {})))
        head: str | None = line
        if event.event in _TIMED and self._line(_new_tuple(
                Event, (*event[:-1], {"duration_ms": event.data["duration_ms"]}))) != (
                line + _took(self._line.styles, event)):
            head = None
        heads = self._heads
        if len(heads) >= _MAX_HEADS:
            heads.clear()
        heads[event.event, event.name, event.run_type] = head
        return head

    def level_for(self, kind: str) -> Level:
        """The level events of ``kind`` log at, before their data is known (an error kind at
        ``error``): a sink asks it once per kind to tell a handler which kinds its logger
        would drop, so that these cost (almost) nothing."""
        return self._by_kind.get(kind, self.level)

    def level_of(self, event: Event) -> Level:
        """The level ``event`` logs at (see the class docstring)."""
        kind = event.event
        if kind in ERROR_KINDS:
            data = event.data
            if data.get("interrupted") is True or data.get("aborted") is True:
                return self.level if data.get("interrupt") == "handoff" else self.warning
            return self.error
        return self._by_kind.get(kind, self.level)

    def __call__(self, event: Event) -> LogLine:
        """The line for ``event`` (empty when the console line is: nothing is logged)."""
        message = self._message(event)
        if not message:
            return LogLine("", self.level, None)
        fields = self._record(event)
        kind = event.event
        shown = _SHOWN.get(kind)
        if shown is not None and (event.depth == 0 or not shown[2]):
            gist = shown[1](fields)
            if gist:
                # JSON escaped the content's C0 controls; DEL and C1 ones (or a tool's name)
                # are shown as text, on the message's line (a cheap check first: inert() is
                # a regex substitution)
                if not (gist.isascii() and gist.isprintable()) and _CONTROLS.search(gist):
                    gist = inert(gist).replace("\n", "\\n")
                message = message + shown[0] + gist
        fields = self._renamed(fields)
        if "\n" in message:  # a name or error message over lines: one record, one line
            message = message.replace("\n", "\\n")
        if not message.isascii():  # lone surrogates escaped (ASCII has none)
            message = clean_text(message)
        line = _new_str(LogLine, message)  # LogLine(...) minus a Python call
        line.level = self._by_kind.get(kind, self.level) if kind not in ERROR_KINDS else (
            self.level_of(event))
        line.fields = fields
        return line


# -- the content a message shows, from the record's plain JSON fields -------------------------

_new_str = str.__new__
_new_tuple = tuple.__new__

#: Console lines of runs kept at most (one per kind, run name and run type).
_MAX_HEADS = 1_000
#: Ends whose console line is the run's line plus its duration (``_took`` in ``_console.py``).
_TIMED = frozenset({"chain_end", "tool_end"})

#: The data keys each kind's console line reads (the head of its detailed rendering; an error's
#: without its traceback); kinds not here are rendered from all their data (their line is the
#: first line of their body, or their body is small). Keep in step with the heads in
#: ``_console.py``: tests check the message starts with ``ConsoleFormatter("line")``'s line.
_LINE_KEYS: dict[str, tuple[str, ...]] = {
    "chain_start": (),
    "llm_start": (),
    "chat_model_start": (),
    "tool_start": (),
    "retriever_start": (),
    "chain_end": ("duration_ms",),
    "llm_end": ("duration_ms", "usage", "model"),
    "tool_end": ("duration_ms",),
    "agent_action": ("tool",),
    "agent_finish": (),
    **{kind: ("error", "duration_ms", "interrupted", "interrupt", "aborted")
       for kind in ERROR_KINDS},
}

#: Characters :func:`~chainsink.formatters.inert` shows as text.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


def _clip(value: Any) -> str:
    """``value`` in brief, on one line: a string quoted (JSON escapes), anything else as compact
    JSON, cut at :data:`CLIP` characters."""
    if isinstance(value, str):
        return dumps(value if len(value) <= CLIP else value[:CLIP] + "...").decode("utf-8")
    text = dumps(value).decode("utf-8")
    return text if len(text) <= CLIP else text[:CLIP] + "..."


def _said(value: Any) -> str:
    """What a message (or a state holding ``messages``) says: its content, or the tools it
    calls (``calculator({"expression":"2 + 2"})``); any other value as it is."""
    if isinstance(value, dict):
        messages = value.get("messages")
        if "content" not in value and isinstance(messages, list) and messages:
            value = messages[-1]
        if isinstance(value, dict) and "content" in value and "type" in value:
            content = value["content"]
            calls = value.get("tool_calls")
            if not content and isinstance(calls, list) and calls:
                text = ", ".join(
                    f"{call.get('name')}({dumps(call.get('args')).decode('utf-8')})"
                    if isinstance(call, dict) else dumps(call).decode("utf-8")
                    for call in calls)
                return text if len(text) <= CLIP else text[:CLIP] + "..."
            return _clip(content)
    return _clip(value)


def _answer(fields: dict[str, Any]) -> str:
    """A model's first generation: its message's content or tool calls, else its text."""
    outputs = fields.get("outputs")
    batches = outputs.get("generations") if isinstance(outputs, dict) else None
    first = batches[0] if isinstance(batches, list) and batches else None
    generation = first[0] if isinstance(first, list) and first else None
    if not isinstance(generation, dict):
        return "" if outputs is None else _clip(outputs)
    message = generation.get("message")
    return _said(message) if isinstance(message, dict) else _clip(generation.get("text"))


def _inputs(fields: dict[str, Any]) -> str:
    """A chain's inputs, unless LangChain passed none yet (a streamed chain's come at its
    end) or only its placeholder."""
    inputs = fields.get("inputs")
    if fields.get("defers_inputs") or inputs is None or inputs in ({}, PLACEHOLDER_INPUTS):
        return ""
    return _said(inputs)


def _chain_end(fields: dict[str, Any]) -> str:
    outputs = fields.get("outputs")
    return "" if outputs is None or outputs == {} else _said(outputs)


def _field(key: str) -> Callable[[dict[str, Any]], str]:
    def shown(fields: dict[str, Any]) -> str:
        value = fields.get(key)
        return "" if value is None else _said(value)
    return shown


#: What each kind's message shows after its console line, with which separator (a start shows
#: what went in, an end what came out), and whether only at a trace's root: the inner steps
#: of a chain pass along what its root, its models and tools already show.
_SHOWN: dict[str, tuple[str, Callable[[dict[str, Any]], str], bool]] = {
    "chain_start": (" ", _inputs, True),
    "chain_end": (" -> ", _chain_end, True),
    "llm_end": (" -> ", _answer, False),
    "tool_start": (" ", _field("input_str"), False),
    "tool_end": (" -> ", _field("outputs"), False),
    "retriever_start": (" ", _field("query"), False),
    "agent_action": (" ", _field("tool_input"), False),
    "agent_finish": (" -> ", _field("return_values"), False),
}
