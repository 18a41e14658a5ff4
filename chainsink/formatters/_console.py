"""Console text: LangChain's classic output byte for byte, or a detailed view of every event."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any
from uuid import UUID

from chainsink._jsonable import to_jsonable
from chainsink._schema import PLACEHOLDER_INPUTS, Event
from chainsink.formatters._payload import (
    as_text,
    generation_lines,
    get,
    message_lines,
    show,
    tool_output,
)
from chainsink.formatters._styles import (
    ANSI,
    LANGCHAIN_COLORS,
    PLAIN,
    STYLE_CODES,
    Styles,
    inert,
    strip_ansi,
)
from chainsink.formatters._tags import TraceTags

STYLES = ("classic", "detailed", "line")
LIKE = ("stdout", "file")

#: How much of an inner chain step's inputs or outputs it shows, on one line.
NESTED_LIMIT = 200
#: Most traceback lines the detailed console shows under a failure: from the frame that raised
#: on (its source line, the exception); the record keeps the whole traceback.
TRACEBACK_LINES = 8
#: How LangChain's LLMChain announces the prompt it formatted (its ``on_text``), for consoles
#: that show no model starts.
LLMCHAIN_PROMPT = "Prompt after formatting:\n"
#: Runs whose announced prompts the detailed console remembers at most (each until its model
#: starts or the run ends).
_MAX_PROMPT_RUNS = 256


class ConsoleFormatter:
    """Render an event as console text.

    ``style="classic"`` prints what langchain-core's own handlers print, byte for byte:
    ``like="stdout"`` reproduces ``StdOutCallbackHandler`` (bold chain lines), ``like="file"``
    reproduces ``FileCallbackHandler`` (no bold, uncoloured tool output). Events LangChain's
    handlers do not print render as ``""``.

    ``style="detailed"`` prints every event except streamed tokens, indented by run depth:
    inputs and outputs, prompts and generations, tool and retriever I/O, durations, token usage,
    errors in red (with the end of their traceback, dimmed) and custom events. A prompt shows
    in full once, where the model receives it: an inner prompt template's output is left to the
    model's start, and a model start repeating what LLMChain just printed as "Prompt after
    formatting" says so in one line.

    ``style="line"`` renders each event (tokens included) as the one line that heads it in the
    detailed style, with no indentation and no trailing newline: a log message.

    Whatever the style, the run's content never controls the terminal: its control characters
    show as text (``\\x1b``, ``\\x9b``, a lone ``\\r`` as ``\\r``) and its SGR colour codes are
    dropped, except LangChain's own palette codes in coloured output (LLMChain and agents put
    them in their text). So ``classic`` is langchain-core's output byte for byte for any
    content without control characters (see :func:`~chainsink.formatters._styles.inert`).

    Args:
        style: ``"classic"``, ``"detailed"`` or ``"line"``.
        color: LangChain's default text colour name (``"green"``, ``"blue"``, ...), used where a
            callback gives none, as ``StdOutCallbackHandler(color=...)`` does.
        ansi: Emit ANSI escape codes. With False the output has none at all, including any
            that came inside the run's own text.
        like: Which LangChain handler the classic style reproduces: ``"stdout"`` or ``"file"``.
        trace_tags: Once traces interleave (one starts while another is still open), start
            every line with a ``[tag]`` of its trace, the last 8 hex digits of its id, as
            ``chainsink tail`` does (see :attr:`tags`).
    """

    def __init__(self, style: str = "classic", *, color: str | None = None, ansi: bool = True,
                 like: str = "stdout", trace_tags: bool = False) -> None:
        if style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, not {style!r}")
        if like not in LIKE:
            raise ValueError(f"like must be one of {LIKE}, not {like!r}")
        if color is not None and (not isinstance(color, str) or color not in LANGCHAIN_COLORS):
            raise ValueError(f"color must be None or one of {sorted(LANGCHAIN_COLORS)}, "
                             f"not {color!r} (use ansi=False to turn colour off)")
        self.style = style
        self.color = color
        self.ansi = ansi
        self.like = like
        self.styles = ANSI if ansi else PLAIN
        self._keep = STYLE_CODES if ansi else frozenset()
        self._render: dict[str, Callable[[ConsoleFormatter, Event], str]] = {
            "classic": _CLASSIC, "detailed": _DETAILED, "line": _LINE}[style]
        #: The event kinds this formatter renders; handlers skip the others early.
        self.kinds = frozenset(self._render)
        self.trace_tags = bool(trace_tags)
        #: The ``[tag]`` prefixes of this console's lines: applied by the formatter itself with
        #: ``trace_tags=True``; a reader deciding otherwise (``chainsink tail``) applies them.
        self.tags = TraceTags(self.styles)
        #: What the detailed style has shown (LLMChain's prompts, the last traceback), so as
        #: not to show it twice.
        self.shown = Shown()

    def __call__(self, event: Event) -> str:
        """Return the text for ``event`` (``""`` when this style prints nothing for it)."""
        if self.trace_tags:
            trace = str(event.trace_id)
            self.tags.note(trace, event.is_root_end)
        render = self._render.get(event.event)
        if render is None:
            return ""
        try:
            text = render(self, event)
        except Exception:  # noqa: BLE001 - a value refusing str(), == or bool(): show its JSON
            text = render(self, event.replace(data=to_jsonable(event.data)))
        # content and chainsink's own codes are made inert together: only STYLE_CODES survive
        text = inert(text, self._keep)
        # the tags after: their colours are not content's to keep
        return self.tags.apply(text, trace) if self.trace_tags else text

    def color_for(self, event: Event) -> str | None:
        """The LangChain colour for an event: the callback's own, else the default."""
        display = event.data.get("display")
        color = display.get("color") if isinstance(display, dict) else None
        return color if isinstance(color, str) and color else self.color


# -- classic: langchain_core.callbacks.stdout / file, reproduced -------------------------------


def _classic_chain_start(f: ConsoleFormatter, e: Event) -> str:
    if f.like == "file":
        return f"\n\n> Entering new {e.name} chain...\n"
    s = f.styles
    return f"\n\n{s.bold}> Entering new {e.name} chain...{s.reset}\n"


def _classic_chain_end(f: ConsoleFormatter, e: Event) -> str:
    if f.like == "file":
        return "\n> Finished chain.\n"
    s = f.styles
    return f"\n{s.bold}> Finished chain.{s.reset}\n"


def _classic_agent_action(f: ConsoleFormatter, e: Event) -> str:
    return f.styles.colored(as_text(e.data.get("log", "")), f.color_for(e))


def _classic_agent_finish(f: ConsoleFormatter, e: Event) -> str:
    return f.styles.colored(as_text(e.data.get("log", "")), f.color_for(e)) + "\n"


def _classic_text(f: ConsoleFormatter, e: Event) -> str:
    display = e.data.get("display") or {}
    end = display.get("end")
    return f.styles.colored(as_text(e.data.get("text", "")), f.color_for(e)) + (end or "")


def _classic_tool_end(f: ConsoleFormatter, e: Event) -> str:
    display = e.data.get("display") or {}
    out = []
    prefix = display.get("observation_prefix")
    if prefix is not None:
        out.append(f"\n{prefix}")
    output = as_text(e.data.get("outputs"))
    # FileCallbackHandler writes tool output uncoloured; StdOutCallbackHandler colours it
    out.append(output if f.like == "file" else f.styles.colored(output, f.color_for(e)))
    suffix = display.get("llm_prefix")
    if suffix is not None:
        out.append(f"\n{suffix}")
    return "".join(out)


_CLASSIC: dict[str, Callable[[ConsoleFormatter, Event], str]] = {
    "chain_start": _classic_chain_start,
    "chain_end": _classic_chain_end,
    "agent_action": _classic_agent_action,
    "agent_finish": _classic_agent_finish,
    "text": _classic_text,
    "tool_end": _classic_tool_end,
}


# -- detailed -----------------------------------------------------------------------------------


def _blank(value: Any) -> bool:
    """Whether a chain's inputs or outputs are ``{}`` or LangChain's placeholder.

    Asked without ``==`` or ``bool()`` on the value: a numpy array or a pandas frame answers
    those with something that is not a bool, other objects raise.
    """
    if not isinstance(value, dict):
        return False
    try:
        if len(value) == 0:
            return True
        given = dict.get(value, "input")  # the placeholder's one key, without dict ==
        return (len(value) == len(PLACEHOLDER_INPUTS) and type(given) is str
                and given == PLACEHOLDER_INPUTS["input"])
    except Exception:  # noqa: BLE001 - a dict subclass refusing len() or lookups
        return False


def _truthy(value: Any) -> bool:
    """``bool(value)``, or True for a value that will not say (a numpy array, a frame)."""
    try:
        return bool(value)
    except Exception:  # noqa: BLE001 - ambiguous or refused truth: it has something to show
        return True


def _io(e: Event, label: str, value: Any) -> list[str]:
    """A chain's inputs or outputs: in full at the root, one short line for inner steps."""
    if value is None or _blank(value):
        return []
    if isinstance(value, str) and str.__len__(value) == 0:
        return [f'{label}: ""']
    if e.depth == 0:
        return [f"{label}: {show(value)}"]
    text = show(value, NESTED_LIMIT).replace("\r", "\\r").replace("\n", "\\n")
    return [f"{label}: {text}"]


def _block(indent: str, text: str) -> str:
    """Indent every line of ``text`` under a header."""
    pad = indent + "    "
    return pad + text.replace("\n", "\n" + pad) + "\n"


def _took(s: Styles, e: Event) -> str:
    ms = e.data.get("duration_ms")
    return "" if ms is None else f" {s.dim}({ms:.1f} ms){s.reset}"


Part = tuple[str, str]
"""A detailed rendering: a one-line head (styled) and a body of plain lines (may be empty)."""


def _detailed_start(f: ConsoleFormatter, e: Event) -> Part:
    s = f.styles
    kind = e.event
    if kind == "chain_start":
        inputs = [] if e.data.get("defers_inputs") else _io(e, "inputs", e.data.get("inputs"))
        return f"{s.bold}> Entering new {e.name} {_kind_word(e)}...{s.reset}", "\n".join(inputs)
    if kind == "chat_model_start":
        return (f"{s.bold}> Chat model {e.name} started{s.reset}",
                message_lines(e.data.get("messages")))
    if kind == "llm_start":
        prompts = e.data.get("prompts") or ()
        if f.shown.announced(e.parent_run_id, prompts):
            return (f"{s.bold}> LLM {e.name} started{s.reset}",
                    f"{s.dim}prompt: as formatted above{s.reset}")
        return f"{s.bold}> LLM {e.name} started{s.reset}", "\n".join(show(p) for p in prompts)
    if kind == "tool_start":
        return (f"{s.bold}> Tool {e.name} started{s.reset}",
                "input: " + show(e.data.get("input_str")))
    return f"{s.bold}> Retriever {e.name} started{s.reset}", "query: " + show(e.data.get("query"))


def _prompt_key(text: str) -> str:
    """A prompt as compared between LLMChain's text and its model's start: no colour codes
    (LLMChain prints it green), no line ends around it."""
    return strip_ansi(text).strip("\n")


class Shown:
    """What the detailed console has shown, so that it does not show it again.

    The prompts LLMChain printed ("Prompt after formatting"), by its run, until the run's
    model starts (and shows "as formatted above" instead of the prompt again) or the run ends:
    at most :data:`_MAX_PROMPT_RUNS` runs are remembered (the oldest are forgotten), and a run
    whose model was never seen (callbacks given to the LLMChain only) is forgotten at its end.
    And the last traceback shown, with its trace: the same exception failing each enclosing
    run shows its traceback once.
    """

    __slots__ = ("_runs", "_traceback")

    def __init__(self) -> None:
        self._runs: dict[UUID, list[str]] = {}
        self._traceback: tuple[UUID, str] | None = None

    def repeats_traceback(self, trace_id: UUID, text: str) -> bool:
        """Whether ``text`` (the end of a traceback) was the last one shown, in the same
        trace; it is the last one shown from now on."""
        last, self._traceback = self._traceback, (trace_id, text)
        return last == (trace_id, text)

    def remember_prompt(self, run_id: UUID, text: str) -> None:
        """Note the prompt in LLMChain's ``text`` (after :data:`LLMCHAIN_PROMPT`)."""
        runs = self._runs
        known = runs.get(run_id)
        if known is None:
            if len(runs) >= _MAX_PROMPT_RUNS:
                with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                    del runs[next(iter(runs))]  # another thread may get there first
            known = runs[run_id] = []
        known.append(_prompt_key(text[len(LLMCHAIN_PROMPT):]))

    def announced(self, parent: UUID | None, prompts: Any) -> bool:
        """Whether the parent run (an LLMChain) printed every one of a model's ``prompts``;
        if so they are used up."""
        if parent is None or not isinstance(prompts, (list, tuple)) or not prompts:
            return False
        known = self._runs.get(parent)
        if not known:
            return False
        left = list(known)
        for prompt in prompts:
            key = _prompt_key(as_text(prompt))
            if key not in left:
                return False
            left.remove(key)
        if left:
            self._runs[parent] = left
        else:
            self._runs.pop(parent, None)
        return True

    def forget(self, run_id: UUID) -> None:
        """The run ended: forget what it printed."""
        if self._runs:
            self._runs.pop(run_id, None)


def _kind_word(e: Event) -> str:
    return "chain" if e.run_type in ("chain", "") else e.run_type


def _detailed_end(f: ConsoleFormatter, e: Event) -> Part:
    s = f.styles
    kind = e.event
    took = _took(s, e)
    if kind == "chain_end":
        f.shown.forget(e.run_id)
        # a streamed chain's inputs arrive with its end; an inner prompt template's output is
        # shown where it goes, in full where a model receives it
        lines = _io(e, "inputs", e.data.get("inputs"))
        if e.run_type != "prompt" or e.depth == 0:
            lines += _io(e, "outputs", e.data.get("outputs"))
        for model, use in (e.data.get("usage_by_model") or {}).items():
            lines.append(f"tokens [{as_text(model)}]: {get(use, 'input_tokens')} in, "
                         f"{get(use, 'output_tokens')} out, {get(use, 'total_tokens')} total "
                         f"in {get(use, 'calls')} calls")
        return f"{s.bold}> Finished {e.name} {_kind_word(e)}.{s.reset}{took}", "\n".join(lines)
    if kind == "llm_end":
        usage = e.data.get("usage")
        model = e.data.get("model")
        extra = f" [{as_text(model)}]" if model else ""
        if usage:
            extra += (f" tokens: {usage.get('input_tokens', 0)} in,"
                      f" {usage.get('output_tokens', 0)} out,"
                      f" {usage.get('total_tokens', 0)} total")
        return (f"{s.bold}> {e.name} finished{s.reset}{took}{extra}",
                generation_lines(e.data.get("outputs")))
    if kind == "tool_end":
        return (f"{s.bold}> Tool {e.name} finished{s.reset}{took}",
                "output: " + show(tool_output(e.data.get("outputs"))))
    docs = get(e.data.get("outputs") or {}, "documents")
    docs = docs if isinstance(docs, (list, tuple)) else []
    lines = []
    for i, doc in enumerate(docs, 1):
        content = get(doc, "page_content", doc)
        meta = get(doc, "metadata")
        lines.append(f"[{i}] {show(content)}" + (f" {show(meta)}" if _truthy(meta) else ""))
    return (f"{s.bold}> Retriever {e.name} returned {len(docs)} documents{s.reset}{took}",
            "\n".join(lines))


#: How the console words a run stopped without failing, by its record's ``interrupt``.
_STOPPED = {"cancelled": "cancelled", "stream_closed": "stopped (stream closed)",
            "handoff": "handed off", "drained": "drained"}


#: A traceback line naming a frame (in an exception group too: ``  |   File "..."``).
_FRAME_LINE = re.compile(r'[ |+\-]*File "')


def traceback_tail(traceback: Any, limit: int = TRACEBACK_LINES) -> tuple[str, list[str]]:
    """The end of a record's ``error.traceback`` as the detailed console shows it: a heading
    that counts the lines left out, and the last frame (the one that raised: its file and
    line, its source) with the exception, at most ``limit`` lines. ``("", [])`` for none."""
    if not isinstance(traceback, str) or not traceback.strip():
        return "", []
    lines = traceback.rstrip("\n").split("\n")
    start = max(0, len(lines) - limit)
    for i in range(len(lines) - 1, -1, -1):
        if _FRAME_LINE.match(lines[i]):
            start = i
            break
    shown = [show(line) for line in lines[start:start + limit]]
    after = len(lines) - start - len(shown)
    note = f"{start} earlier lines not shown" if start else ""
    if after:
        note += f"{', ' if note else ''}{after} later lines not shown"
    return (f"traceback ({note}):" if note else "traceback:"), shown


def _detailed_error(f: ConsoleFormatter, e: Event) -> Part:
    s = f.styles
    err = e.data.get("error") or {}
    what = e.event.split("_")[0]
    f.shown.forget(e.run_id)
    if e.data.get("interrupted") or e.data.get("aborted"):
        kind = e.data.get("interrupt")
        how = "aborted" if e.data.get("aborted") else _STOPPED.get(
            kind if isinstance(kind, str) else "", "interrupted")
        return (s.colored(f"|| {what} {e.name} {how}", "yellow") + _took(s, e)
                + f": {as_text(get(err, 'type'))}: {as_text(get(err, 'message'))}", "")
    line = (f"{s.red}! {what} {e.name} failed{_took(s, e)}{s.red}:"
            f" {as_text(get(err, 'type'))}: {as_text(get(err, 'message'))}{s.reset}")
    head, lines = traceback_tail(get(err, "traceback"))
    # noted last, once nothing can fail: a render that raises is done again from JSON
    if lines and f.shown.repeats_traceback(e.trace_id, "\n".join(lines)):
        head, lines = "traceback: as above", []  # an enclosing run, failing with its child
    return line, "\n".join(s.wrap(s.dim, part) for part in (head, *lines)) if head else ""


def _detailed_agent(f: ConsoleFormatter, e: Event) -> Part:
    log = as_text(e.data.get("log", "")).strip("\n")
    label = (f"Agent action: {as_text(e.data.get('tool'))}" if e.event == "agent_action"
             else "Agent finish")
    return (f"{f.styles.bold}> {label}{f.styles.reset}",
            f.styles.colored(log, f.color_for(e) or "green"))


def _detailed_text(f: ConsoleFormatter, e: Event) -> Part:
    text = as_text(e.data.get("text", "")).strip("\n")
    body = f.styles.colored(text, f.color_for(e)) if text else ""
    if text.startswith(LLMCHAIN_PROMPT):
        # shown here, where LLMChain formatted it; its model's start then points back to it
        # (the model's start is not seen with callbacks given to the LLMChain only)
        f.shown.remember_prompt(e.run_id, text)
    return "", body


def _detailed_retry(f: ConsoleFormatter, e: Event) -> Part:
    s = f.styles
    err = e.data.get("error") or {}
    why = f": {as_text(get(err, 'type'))}: {as_text(get(err, 'message'))}" if err else ""
    return f"{s.colored('~ retry', 'yellow')} {e.name} attempt {e.data.get('attempt')}{why}", ""


def _detailed_custom(f: ConsoleFormatter, e: Event) -> Part:
    name = f.styles.colored(as_text(e.data.get("event_name")), "pink")
    return "", f"{name} {show(e.data.get('data'))}"


def _detailed_token(f: ConsoleFormatter, e: Event) -> Part:
    return f"token {show(e.data.get('token'))}", ""


def _detailed(render: Callable[[ConsoleFormatter, Event], Part]
              ) -> Callable[[ConsoleFormatter, Event], str]:
    """Lay a head and body out as console lines, indented by the run's depth."""

    def layout(f: ConsoleFormatter, e: Event) -> str:
        head, body = render(f, e)
        ind = "  " * e.depth
        text = f"{ind}{head}\n" if head else ""
        return text + _block(ind, body) if body else text

    return layout


def _line(render: Callable[[ConsoleFormatter, Event], Part]
          ) -> Callable[[ConsoleFormatter, Event], str]:
    """One line per event: the head, or the body's first line when there is no head."""

    def line(f: ConsoleFormatter, e: Event) -> str:
        head, body = render(f, e)
        return head or body.split("\n", 1)[0]

    return line


_PARTS: dict[str, Callable[[ConsoleFormatter, Event], Part]] = {
    "chain_start": _detailed_start,
    "llm_start": _detailed_start,
    "chat_model_start": _detailed_start,
    "tool_start": _detailed_start,
    "retriever_start": _detailed_start,
    "chain_end": _detailed_end,
    "llm_end": _detailed_end,
    "tool_end": _detailed_end,
    "retriever_end": _detailed_end,
    "chain_error": _detailed_error,
    "llm_error": _detailed_error,
    "tool_error": _detailed_error,
    "retriever_error": _detailed_error,
    "agent_action": _detailed_agent,
    "agent_finish": _detailed_agent,
    "text": _detailed_text,
    "retry": _detailed_retry,
    "custom_event": _detailed_custom,
}

# streamed tokens would drown the console; the llm end shows the whole output instead
_DETAILED = {kind: _detailed(render) for kind, render in _PARTS.items()}
_LINE = {kind: _line(render) for kind, render in {**_PARTS,
                                                   "llm_new_token": _detailed_token}.items()}
