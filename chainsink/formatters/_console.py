"""Console text: LangChain's classic output byte for byte, or a detailed view of every event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
from chainsink.formatters._styles import ANSI, LANGCHAIN_COLORS, PLAIN, STYLE_CODES, Styles, inert

STYLES = ("classic", "detailed", "line")
LIKE = ("stdout", "file")

#: How much of an inner chain step's inputs or outputs it shows, on one line.
NESTED_LIMIT = 200
#: What LangChain passes as a streamed chain's inputs before it knows them.


class ConsoleFormatter:
    """Render an event as console text.

    ``style="classic"`` prints what langchain-core's own handlers print, byte for byte:
    ``like="stdout"`` reproduces ``StdOutCallbackHandler`` (bold chain lines), ``like="file"``
    reproduces ``FileCallbackHandler`` (no bold, uncoloured tool output). Events LangChain's
    handlers do not print render as ``""``.

    ``style="detailed"`` prints every event except streamed tokens, indented by run depth:
    inputs and outputs, prompts and generations, tool and retriever I/O, durations, token usage,
    errors in red and custom events.

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
    """

    def __init__(self, style: str = "classic", *, color: str | None = None, ansi: bool = True,
                 like: str = "stdout") -> None:
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

    def __call__(self, event: Event) -> str:
        """Return the text for ``event`` (``""`` when this style prints nothing for it)."""
        render = self._render.get(event.event)
        if render is None:
            return ""
        try:
            text = render(self, event)
        except Exception:  # noqa: BLE001 - a value refusing str(), == or bool(): show its JSON
            text = render(self, event.replace(data=to_jsonable(event.data)))
        # content and chainsink's own codes are made inert together: only STYLE_CODES survive
        return inert(text, self._keep)

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
        return (f"{s.bold}> LLM {e.name} started{s.reset}",
                "\n".join(show(p) for p in e.data.get("prompts") or ()))
    if kind == "tool_start":
        return (f"{s.bold}> Tool {e.name} started{s.reset}",
                "input: " + show(e.data.get("input_str")))
    return f"{s.bold}> Retriever {e.name} started{s.reset}", "query: " + show(e.data.get("query"))


def _kind_word(e: Event) -> str:
    return "chain" if e.run_type in ("chain", "") else e.run_type


def _detailed_end(f: ConsoleFormatter, e: Event) -> Part:
    s = f.styles
    kind = e.event
    took = _took(s, e)
    if kind == "chain_end":
        # a streamed chain's inputs arrive with its end
        lines = _io(e, "inputs", e.data.get("inputs")) + _io(e, "outputs", e.data.get("outputs"))
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


def _detailed_error(f: ConsoleFormatter, e: Event) -> Part:
    s = f.styles
    err = e.data.get("error") or {}
    what = e.event.split("_")[0]
    if e.data.get("interrupted") or e.data.get("aborted"):
        kind = e.data.get("interrupt")
        how = "aborted" if e.data.get("aborted") else _STOPPED.get(
            kind if isinstance(kind, str) else "", "interrupted")
        return (s.colored(f"|| {what} {e.name} {how}", "yellow") + _took(s, e)
                + f": {as_text(get(err, 'type'))}: {as_text(get(err, 'message'))}", "")
    return (f"{s.red}! {what} {e.name} failed{_took(s, e)}{s.red}:"
            f" {as_text(get(err, 'type'))}: {as_text(get(err, 'message'))}{s.reset}", "")


def _detailed_agent(f: ConsoleFormatter, e: Event) -> Part:
    log = as_text(e.data.get("log", "")).strip("\n")
    label = (f"Agent action: {as_text(e.data.get('tool'))}" if e.event == "agent_action"
             else "Agent finish")
    return (f"{f.styles.bold}> {label}{f.styles.reset}",
            f.styles.colored(log, f.color_for(e) or "green"))


def _detailed_text(f: ConsoleFormatter, e: Event) -> Part:
    text = as_text(e.data.get("text", "")).strip("\n")
    return "", f.styles.colored(text, f.color_for(e)) if text else ""


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
