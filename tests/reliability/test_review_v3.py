"""Review of 12af22f / 04c2d31 / 2ac4b07 (issue 17's speed-ups): defects those commits
introduced, each test failing on 12af22f and passing on c17e4c6 and after its fix."""

from __future__ import annotations

import pathlib
from typing import Any

from langchain_core.runnables import RunnableLambda

from chainsink.formatters import JsonlFormatter
from chainsink.handlers import CallbackHandler
from chainsink.sinks import FileSink

#: A secret the built-in rules do not know (an internal database credential): a user who
#: knows about it masks it in their own formatter or sink, the building blocks the product
#: lets them pair.
_INTERNAL = "dbpw=Zq7-internal-K3y"
_SCRUBBED = "dbpw=<scrubbed>"


def _run_through(handler: CallbackHandler) -> None:
    chain = RunnableLambda(lambda text: f"echo {text}") | RunnableLambda(lambda s: s.upper())
    chain.invoke(f"connect with {_INTERNAL}", config={"callbacks": [handler]})
    handler.close()


class _ScrubbingFormatter(JsonlFormatter):
    """A user's JSONL formatter that masks one more kind of secret in every line."""

    def __call__(self, event: Any) -> str:
        return super().__call__(event).replace(_INTERNAL, _SCRUBBED)


class _ScrubbingFileSink(FileSink):
    """A user's file sink that masks one more kind of secret before it is queued."""

    def write(self, text: str, event: Any = None) -> None:
        super().write(text.replace(_INTERNAL, _SCRUBBED), event)


def test_jsonl_formatter_subclass_call_is_bypassed_for_file_sinks(tmp_path: pathlib.Path) -> None:
    """12af22f: ``Pipeline`` now writes ``formatter.render_bytes(event)`` straight to a file
    sink whenever the formatter has ``render_bytes``. A subclass of ``JsonlFormatter`` that
    overrides ``__call__`` (here: to mask an internal credential) inherits ``render_bytes``, so
    its ``__call__`` is never called for chain/tool/LLM records: the credential it masks
    reaches the JSONL file in clear. Before (c17e4c6) every record went through
    ``formatter(event)`` and the file held only ``dbpw=<scrubbed>``."""
    path = tmp_path / "run.jsonl"
    _run_through(CallbackHandler(FileSink(str(path)), _ScrubbingFormatter()))
    text = path.read_text()
    assert '"event":"chain_start"' in text
    assert _INTERNAL not in text, "the user's formatter was bypassed: the secret is in the file"
    assert _SCRUBBED in text


def test_file_sink_subclass_write_is_bypassed_for_jsonl_records(tmp_path: pathlib.Path) -> None:
    """12af22f: with a ``JsonlFormatter``, ``Pipeline._write`` calls the sink's
    ``write_bytes`` directly for every record, never ``Sink.write(text, event)`` (the Sink
    contract). A ``FileSink`` subclass that overrides ``write`` to mask an internal credential
    is skipped for every chain record, and the credential reaches the file. Before
    (c17e4c6) records went through ``sink.write(text, event)``."""
    path = tmp_path / "run.jsonl"
    _run_through(CallbackHandler(_ScrubbingFileSink(str(path)), JsonlFormatter()))
    text = path.read_text()
    assert '"event":"chain_start"' in text
    assert _INTERNAL not in text, "the user's sink.write was bypassed: the secret is in the file"
    assert _SCRUBBED in text


def test_truncator_caps_lowered_later_still_apply_to_known_metadata() -> None:
    """12af22f (minor): ``RunVerdicts`` now keeps each run blob's verdict by its bytes for the
    life of the processor. ``Truncator``'s caps are public attributes read at every check
    (``_small`` reads ``self.max_chars``), but once a run's ``[tags, metadata]`` has been
    judged small, every later run with the same metadata reuses that verdict: after
    ``truncator.max_chars = 50`` a 300-character metadata value still reaches the sink whole.
    Before (c17e4c6) each new run was judged again and the value was cut to 50 characters."""
    from chainsink.processors import Truncator
    from chainsink.testing import capture_events

    truncator = Truncator(max_chars=1000)
    meta = {"note": "x" * 300}
    with capture_events(processors=[truncator]) as records:
        RunnableLambda(lambda x: x).invoke("a", config={"metadata": meta})
        truncator.max_chars = 50
        RunnableLambda(lambda x: x).invoke("b", config={"metadata": meta})
    later = [r for r in records if r["inputs" if r["event"] == "chain_start" else "outputs"] == "b"]
    assert later, records
    for rec in later:
        assert len(rec["metadata"]["note"]) < 300, "metadata over the lowered cap went uncut"
