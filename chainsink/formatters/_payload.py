"""How payload values read as text: shared by the console formatter and the HTML report.

Each helper takes a value either as LangChain passed it (a message, an LLMResult) or as its
JSON form read back from a log, and renders the same text for both.
"""

from __future__ import annotations

from typing import Any

from chainsink._jsonable import dumps

#: How much of one value the detailed console shows before cutting it.
DETAIL_LIMIT = 2000


def as_text(value: Any) -> str:
    """``str(value)``, except that a string (a ``str`` subclass too) reads as the characters it
    holds: a subclass whose ``__str__`` or ``__format__`` raises still renders.

    Use it (or :func:`show`) wherever a payload value becomes text; an f-string, ``%s`` or
    ``str()`` on a payload value calls the value's own methods.
    """
    if isinstance(value, str):
        return str.__str__(value)  # an exact str, the subclass's own methods not called
    return str(value)


def show(value: Any, limit: int = DETAIL_LIMIT) -> str:
    """A value as one readable string: strings as they are, anything else as compact JSON."""
    text = (str.__str__(value) if isinstance(value, str)
            else dumps(value).decode("utf-8", "replace"))
    if len(text) > limit:
        text = f"{text[:limit]}... [{len(text) - limit} more chars]"
    return text


def get(obj: Any, key: str, default: Any = None) -> Any:
    """An attribute of a LangChain object, or the same key of its JSON form (read from a log)."""
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def message_lines(messages: Any) -> str:
    """Chat messages (or batches of them) as ``[role] content`` lines, tool calls appended."""
    if not isinstance(messages, (list, tuple)):  # a log can hold anything here
        return show(messages)
    lines = []
    for batch in messages:
        for msg in batch if isinstance(batch, (list, tuple)) else (batch,):
            role = get(msg, "type")
            content = get(msg, "content", msg)
            line = f"[{role}] {show(content)}" if role else show(content)
            calls = get(msg, "tool_calls")
            if calls:
                line += " " + show({"tool_calls": calls})
            lines.append(line)
    return "\n".join(lines)


def generation_lines(response: Any) -> str:
    """An LLMResult's generations as lines: messages as :func:`message_lines`, else text."""
    lines = []
    batches = get(response, "generations")
    for batch in batches if isinstance(batches, (list, tuple)) else ():
        for gen in batch if isinstance(batch, (list, tuple)) else (batch,):
            message = get(gen, "message")
            if message is not None:
                lines.append(message_lines([[message]]))
            else:
                lines.append(show(get(gen, "text", gen)))
    return "\n".join(lines)


def tool_output(output: Any) -> Any:
    """What a tool returned as the model sees it: a ToolMessage's content, else the value."""
    content = get(output, "content")  # a ToolMessage: show what the model will see
    return output if content is None else content
