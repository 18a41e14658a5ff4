"""Turning anything a chain passes into JSON, without ever raising.

The fast path is one ``orjson.dumps`` call whose ``default`` knows LangChain's types. Anything
orjson refuses (cycles, non-string keys, lone surrogates, huge ints, nesting past its limit, an
object whose ``repr`` raises) falls back to :func:`to_jsonable`, a careful walk that always
returns plain JSON values.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import threading
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import PurePath
from typing import Any
from uuid import UUID

import orjson
from langchain_core.agents import AgentAction, AgentFinish
from langchain_core.documents import Document
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, Generation, LLMResult
from langchain_core.prompt_values import ChatPromptValue, StringPromptValue

_MAX_DEPTH = 100
_local = threading.local()
_SCALARS = (str, int, float, bool, type(None))


def dumps(value: Any) -> bytes:
    """Serialize ``value`` to compact JSON bytes; never raises."""
    try:  # not contextlib.suppress: this is the hottest call, and try costs nothing
        return orjson.dumps(value, default=_default)
    except Exception:  # noqa: BLE001, S110 - any refusal goes to the careful path
        pass
    try:
        return orjson.dumps(to_jsonable(value))
    except Exception as exc:  # noqa: BLE001 - last resort, keep the line valid JSON
        return orjson.dumps({"unserializable": _safe_repr(exc)})


def data_json(event: Any) -> bytes:
    """An event's ``data`` as JSON bytes, serialized once per event per thread.

    Processors decide from these bytes, in C-speed scans, whether an event needs their slow
    path, and the JSONL formatter writes them as the record's own fields: an event that
    passes the processors unchanged is serialized once.
    """
    cached = getattr(_local, "last", None)
    if cached is not None and cached[0] is event:
        blob: bytes = cached[1]
        return blob
    blob = dumps(event.data)
    _local.last = (event, blob)
    return blob


def to_jsonable(value: Any) -> Any:
    """Return ``value`` as plain JSON types (dict with str keys, list, str, int, float, bool, None).

    Cycles become ``"<cycle>"``, nesting past 100 levels ``"<max depth>"``, and objects whose
    ``repr`` raises ``"<unrepresentable TypeName>"``. Never raises.
    """
    try:
        return _walk(value, 0, set())
    except Exception:  # noqa: BLE001 - e.g. RecursionError from a hostile __eq__
        return _safe_repr(value)


def _default(obj: Any) -> Any:
    """orjson's ``default``: one level of conversion; orjson recurses into the result."""
    converted = _convert(obj)
    if converted is obj:
        raise TypeError  # not ours: the careful path will repr it
    return converted


def _message(msg: BaseMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"type": msg.type, "content": msg.content}
    # pydantic keeps fields in __dict__; getattr of a field a message type lacks would go
    # through pydantic's slow __getattr__ and an AttributeError
    fields = getattr(msg, "__dict__", None) or {}
    for key in ("name", "id", "tool_call_id", "tool_calls", "invalid_tool_calls",
                "usage_metadata", "additional_kwargs", "response_metadata"):
        value = fields.get(key)
        if value:
            out[key] = value
    return out


def _generation(gen: Generation) -> dict[str, Any]:
    out: dict[str, Any] = {"text": gen.text}
    if isinstance(gen, ChatGeneration):
        out["message"] = gen.message
    if gen.generation_info:
        out["generation_info"] = gen.generation_info
    return out


def _convert(obj: Any) -> Any:
    """Convert one non-JSON object into JSON-able containers; return ``obj`` if unknown."""
    if isinstance(obj, BaseMessage):
        return _message(obj)
    if isinstance(obj, Document):
        doc: dict[str, Any] = {"page_content": obj.page_content, "metadata": obj.metadata}
        if obj.id:
            doc["id"] = obj.id
        return doc
    if isinstance(obj, Generation):
        return _generation(obj)
    if isinstance(obj, LLMResult):
        return {"generations": obj.generations, "llm_output": obj.llm_output}
    if isinstance(obj, ChatPromptValue):
        return {"messages": obj.messages}
    if isinstance(obj, StringPromptValue):
        return {"text": obj.text}
    if isinstance(obj, (AgentAction, AgentFinish)):
        return {k: v for k, v in obj.__dict__.items() if k != "type"}
    if isinstance(obj, BaseException):
        return {"type": type(obj).__name__, "message": _safe_str(obj)}
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj).decode("utf-8", "backslashreplace")
    if isinstance(obj, (Decimal, PurePath, timedelta)):
        return str(obj)
    if hasattr(obj, "model_dump") and hasattr(type(obj), "model_fields"):
        # pydantic v2 model: one shallow level, so nested LangChain types use _convert too
        return {k: getattr(obj, k, None) for k in type(obj).model_fields}
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, type):
        return f"{obj.__module__}.{obj.__qualname__}"
    return obj


def _walk(value: Any, depth: int, active: set[int]) -> Any:
    if isinstance(value, str):
        return _clean_str(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return _walk(value.value, depth, active)
    if depth >= _MAX_DEPTH:
        return "<max depth>"
    ident = id(value)
    if ident in active:
        return "<cycle>"
    active.add(ident)
    try:
        if isinstance(value, dict):
            return {_key(k): _walk(v, depth + 1, active) for k, v in list(value.items())}
        if isinstance(value, (list, tuple)):
            return [_walk(v, depth + 1, active) for v in list(value)]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
            return _walk(fields, depth + 1, active)
        converted = _convert(value)
        if converted is value:
            return _safe_repr(value)
        return _walk(converted, depth + 1, active)
    except Exception:  # noqa: BLE001 - an attribute or items() that raises
        return _safe_repr(value)
    finally:
        active.discard(ident)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return _clean_str(key)
    if isinstance(key, (int, float, bool, UUID)) or key is None:
        return str(key)
    return _clean_str(_safe_repr(key))


def clean_text(text: str) -> str:
    """``text`` with lone surrogates escaped, so any UTF-8 writer accepts it."""
    return _clean_str(text)


def _clean_str(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _safe_str(obj: Any) -> str:
    try:
        return _clean_str(str(obj))
    except Exception:  # noqa: BLE001
        return _safe_repr(obj)


def _safe_repr(obj: Any) -> str:
    try:
        return _clean_str(repr(obj))
    except Exception:  # noqa: BLE001
        try:
            return f"<unrepresentable {type(obj).__name__}>"
        except Exception:  # noqa: BLE001
            return "<unrepresentable>"
