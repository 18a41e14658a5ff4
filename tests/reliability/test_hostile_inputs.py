"""Any Python value in any argument of any callback, to every handler and format.

Properties checked for every handler: no exception escapes a callback, ``close()`` or
``flush()``; every JSONL line chainsink writes is valid UTF-8 JSON with the schema's keys (and
under 1 MB with the default processors); the console never raises; a ``SecretStr`` and values
under secret keys never reach any output. Big values (multi-MB strings, thousands-deep
nesting) are explicit examples; the rest are hypothesis draws.
"""

from __future__ import annotations

import logging
import subprocess
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chaos
import pytest
import targets
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.language_models import FakeListLLM, GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from langchain_core.runnables import RunnableLambda
from loguru import logger as loguru_logger
from targets import BY_NAME, TARGETS, capturing, check_output

from chainsink import (
    CallbackHandler,
    FileCallbackHandler,
    LoggingCallbackHandler,
    LoguruCallbackHandler,
)
from chainsink.formatters import JsonlFormatter

GROUP = "hostile inputs"

# -- driving every callback ----------------------------------------------------------------

maybe_uuid = st.one_of(st.uuids(), st.uuids(), st.uuids(), chaos.values)
parents = st.one_of(st.none(), st.uuids(), chaos.values)
tags = st.one_of(st.none(), st.lists(chaos.strings, max_size=3), chaos.names_values)
metadata = st.one_of(st.none(), st.dictionaries(chaos.strings, chaos.values, max_size=3),
                     st.dictionaries(chaos.hashables, chaos.values, max_size=3), chaos.values)
colors = st.one_of(st.none(), st.sampled_from(["green", "blue", "red", "pink", "yellow"]),
                   chaos.values)
errors = st.one_of(chaos.exceptions, chaos.names_values)  # str(error) is not scanned for keys

Call = tuple[str, tuple[Any, ...], dict[str, Any]]


# LangChain's own shapes for the run's identity, with hostile payloads everywhere else
shaped_ids = st.uuids()
shaped_parents = st.one_of(st.none(), st.uuids())
shaped_tags = st.one_of(st.none(), st.lists(chaos.strings, max_size=3))
shaped_metadata = st.one_of(st.none(), st.dictionaries(chaos.strings, chaos.values, max_size=3))
shaped_names = st.one_of(st.none(), chaos.strings)
shaped_serialized = st.one_of(
    st.sampled_from([None, {}, {"id": []}, {"name": None}, {"name": ""}, {"id": None}]),
    st.fixed_dictionaries({"name": chaos.strings}),
    st.fixed_dictionaries({"lc": st.just(1), "type": st.just("constructor"),
                           "id": st.lists(chaos.strings, max_size=3), "kwargs": chaos.values}))
shaped_colors = st.one_of(st.none(), st.sampled_from(["green", "blue", "red", "pink", "yellow"]),
                          chaos.strings)


@st.composite
def scripts(draw: st.DrawFn, shaped: bool = False) -> list[Call]:
    """One run tree's callbacks, every argument drawn from hostile values.

    With ``shaped`` the run's identity (ids, tags, metadata keys, name) has the types LangChain
    always passes; payloads (inputs, outputs, messages, errors, metadata values, ...) are still
    anything.
    """
    v = chaos.values
    ids, any_parent = (shaped_ids, shaped_parents) if shaped else (maybe_uuid, parents)
    color = shaped_colors if shaped else colors
    ser = shaped_serialized if shaped else chaos.serialized
    agent = chaos.agent_like_shaped if shaped else chaos.agent_like
    params = st.dictionaries(chaos.strings, v, max_size=3) if shaped else v
    text = chaos.strings if shaped else v
    root = draw(ids)

    def common(parent: Any) -> dict[str, Any]:
        kw: dict[str, Any] = {"parent_run_id": parent,
                              "tags": draw(shaped_tags if shaped else tags),
                              "metadata": draw(shaped_metadata if shaped else metadata)}
        if draw(st.booleans()):
            kw["name"] = draw(shaped_names if shaped else chaos.names)
        return kw

    calls: list[Call] = [("on_chain_start", (draw(ser), draw(v)), {
        "run_id": root, **common(draw(any_parent)),
        "run_type": draw(st.one_of(st.none(), st.just("prompt"), st.just("parser")) if shaped
                         else st.one_of(st.none(), st.just("prompt"), chaos.names_values))})]
    chat, llm, tool, retr = (draw(ids) for _ in range(4))
    calls.append(("on_chat_model_start", (draw(ser), draw(chaos.messages_value)),
                  {"run_id": chat, **common(root), "invocation_params": draw(params)}))
    for token in draw(st.lists(v, max_size=3)):
        calls.append(("on_llm_new_token", (token,), {"run_id": chat, "parent_run_id": root,
                                                     "chunk": draw(v)}))
    calls.append(("on_llm_end", (draw(chaos.llm_result),), {"run_id": chat,
                                                              "parent_run_id": root}))
    calls.append(("on_llm_start", (draw(ser), draw(v)), {
        "run_id": llm, **common(root), "invocation_params": draw(params)}))
    if draw(st.booleans()):
        calls.append(("on_llm_end", (draw(chaos.llm_result),), {"run_id": llm}))
    else:
        calls.append(("on_llm_error", (draw(errors),), {"run_id": llm, "parent_run_id": root}))
    calls.append(("on_agent_action", (draw(agent),), {
        "run_id": root, "parent_run_id": draw(any_parent), "color": draw(color)}))
    calls.append(("on_tool_start", (draw(ser), draw(v)), {
        "run_id": tool, **common(root), "inputs": draw(v), "color": draw(color)}))
    calls.append(("on_text", (draw(v),), {"run_id": tool, "parent_run_id": root,
                                          "color": draw(color), "end": draw(text)}))
    if draw(st.booleans()):
        calls.append(("on_tool_end", (draw(v),), {
            "run_id": tool, "parent_run_id": root, "color": draw(color),
            "observation_prefix": draw(v), "llm_prefix": draw(v)}))
    else:
        calls.append(("on_tool_error", (draw(errors),), {"run_id": tool}))
    calls.append(("on_retriever_start", (draw(ser), draw(v)), {
        "run_id": retr, **common(root)}))
    if draw(st.booleans()):
        calls.append(("on_retriever_end", (draw(v),), {"run_id": retr, "parent_run_id": root}))
    else:
        calls.append(("on_retriever_error", (draw(errors),), {"run_id": retr}))
    retry = chaos.retry_state_shaped if shaped else chaos.retry_state
    calls.append(("on_retry", (draw(retry),), {"run_id": root}))
    calls.append(("on_custom_event", (draw(v), draw(v)), {
        "run_id": root, "tags": draw(shaped_tags if shaped else tags),
        "metadata": draw(shaped_metadata if shaped else metadata)}))
    calls.append(("on_agent_finish", (draw(agent),), {
        "run_id": root, "color": draw(color)}))
    if draw(st.booleans()):
        end: Call = ("on_chain_end", (draw(v),), {"run_id": root, "inputs": draw(v)})
    else:
        end = ("on_chain_error", (draw(errors),), {"run_id": root, "parent_run_id": None})
    calls.append(end)
    return calls


def drive(handler: Any, calls: list[Call]) -> None:
    """Deliver every call as LangChain would; any exception escaping fails the test."""
    with capturing(handler):
        for method, args, kwargs in calls:
            getattr(handler, method)(*args, **kwargs)
        handler.flush()


@pytest.fixture(autouse=True)
def _quiet_loguru() -> Iterator[None]:
    """loguru's default stderr sink stays out of the way; each target adds its own file sink."""
    with targets.quiet_loguru():
        yield


def test_hostile_callbacks_never_raise_and_lines_stay_valid(tmp_path: Path) -> None:
    """Every callback with hostile arguments, to every handler: nothing raises, lines stay valid."""

    @chaos.examples(60)
    @given(calls=scripts())
    def run(calls: list[Call]) -> None:
        for target in TARGETS:
            handler, read = target.build(tmp_path)
            drive(handler, calls)
            handler.close()
            handler.close()  # twice is fine
            check_output(target, read())
            chaos.count(GROUP, inputs=1, records=len(calls))

    run()


def test_hostile_payloads_give_one_record_per_callback() -> None:
    """With LangChain-shaped run ids, tags and metadata, every hostile payload is recorded."""

    @chaos.examples(150)
    @given(calls=scripts(shaped=True))
    def run(calls: list[Call]) -> None:
        lines: list[str] = []
        handler = CallbackHandler(lines.append, JsonlFormatter(), processors=())
        drive(handler, calls)
        records = chaos.parse_jsonl("".join(lines).encode("utf-8"))
        assert [r["event"] for r in records] == [m.removeprefix("on_") for m, _, _ in calls]
        chaos.count(GROUP, inputs=1, records=len(calls))

    run()


# -- big values, explicitly ---------------------------------------------------------------


def big_value_calls(value: Any) -> list[Call]:
    """A run tree carrying ``value`` as inputs, prompt, token, metadata value, output, error."""
    root, llm, tool = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    return [
        ("on_chain_start", ({"name": "Big"}, {"big": value}),
         {"run_id": root, "metadata": {"big": value}, "tags": ["t"]}),
        ("on_llm_start", ({"name": "LLM"}, [value]), {"run_id": llm, "parent_run_id": root}),
        ("on_llm_new_token", (value,), {"run_id": llm, "parent_run_id": root}),
        ("on_llm_end", (value,), {"run_id": llm, "parent_run_id": root}),
        ("on_tool_start", ({"name": "T"}, value), {"run_id": tool, "parent_run_id": root}),
        ("on_tool_error", (ValueError(value),), {"run_id": tool, "parent_run_id": root}),
        ("on_text", (value,), {"run_id": root}),
        ("on_custom_event", ("big", value), {"run_id": root}),
        ("on_chain_end", ({"out": value},), {"run_id": root}),
    ]


BIG = chaos.big_values()


@pytest.mark.parametrize("label", sorted(BIG))
def test_big_values_to_every_handler(label: str, tmp_path: Path) -> None:
    """Multi-MB strings and thousands-deep nesting: nothing raises, JSONL stays under 1 MB."""
    value = BIG[label]
    root = uuid.uuid4()
    start: list[Call] = [
        ("on_chain_start", ({"name": "Big"}, {"big": value}), {"run_id": root, "tags": ["t"]}),
        ("on_chain_end", ("ok",), {"run_id": root})]
    for target in TARGETS:
        handler, read = target.build(tmp_path)
        drive(handler, start)
        handler.close()
        n = check_output(target, read())
        if target.jsonl:
            assert n == 2, f"{target.name}: {n} records for 2 callbacks"
        chaos.count(GROUP, inputs=1, records=2)
    # every callback position, without processors (every value kept whole): valid JSON lines
    calls = big_value_calls(value)
    handler, read = BY_NAME["raw-jsonl-no-processors"].build(tmp_path)
    drive(handler, calls)
    assert check_output(BY_NAME["raw-jsonl-no-processors"], read()) == len(calls)
    chaos.count(GROUP, inputs=1, records=len(calls))


def close_and_check(target: Any, handler: Any, read: Any) -> list[dict[str, Any]] | None:
    """Close ``handler``, check its output and count the input; for a JSONL target, its
    records (every run closed), else None."""
    handler.close()
    check_output(target, read())
    chaos.count(GROUP, inputs=1)
    if not target.jsonl:
        return None
    records: list[dict[str, Any]] = chaos.parse_jsonl(read().encode("utf-8"))
    chaos.assert_runs_closed(records)
    return records


# -- real chains with hostile inputs, metadata and model output ------------------------------

HOSTILE_PAYLOADS: dict[str, Any] = {
    "uuid and tuple keys": {uuid.UUID(int=1): "u", (1, "t"): "tuple", None: 0, 2.5: [1]},
    "raising repr": {"obj": chaos.RaisingRepr(), "hostile": chaos.Hostile()},
    "surrogates, NUL, CR, ANSI, HTML": {"q": "\ud800\x00\r\x1b[31m<script>alert(1)</script>"},
    "cycle": chaos._cycle_dict("loop"),
    "bytes, sets, Decimal, NaN": {"b": b"\xff\x00", "s": {1, 2}, "d": __import__(
        "decimal").Decimal("NaN"), "f": float("nan"), "i": float("-inf")},
    "secret keys": {"api_key": chaos.SECRET, "nested": {"password": chaos.SECRET},
                    "SecretStr": __import__("pydantic").SecretStr(chaos.SECRET)},
}

HOSTILE_MODEL_OUTPUT = "Thought: \ud800\x1b]0;pwn\x07<script>alert(1)</script>\x00\r\n" \
                       "Action: calculator\nAction Input: 2 + 2"


@pytest.mark.parametrize("label", sorted(HOSTILE_PAYLOADS))
def test_real_chains_with_hostile_inputs_and_metadata(label: str, tmp_path: Path) -> None:
    """LCEL invoke/stream/batch with hostile inputs, metadata and tags: results unchanged."""
    payload = HOSTILE_PAYLOADS[label]
    for target in TARGETS:
        handler, read = target.build(tmp_path)
        config: Any = {"callbacks": [handler], "tags": ["\ud800tag", "<b>"],
                       "metadata": {"payload": payload, uuid.UUID(int=3): "uuid-key",
                                    ("a", 1): "tuple-key"}}
        chain = RunnableLambda(lambda x: {"q": "ok"}, name="\x1b[31mstep\ud800") | \
            PromptTemplate.from_template("say {q}") | FakeListLLM(responses=["fine"] * 4)
        with capturing(handler):
            assert chain.invoke(payload, config=config) == "fine"
            assert "".join(chain.stream(payload, config=config)) == "fine"
            assert chain.batch([payload, payload], config=config) == ["fine", "fine"]
        records = close_and_check(target, handler, read)
        if records is not None:
            assert len({r["trace_id"] for r in records}) == 4
            chaos.count(GROUP, records=len(records))


def test_agent_with_hostile_model_output(tmp_path: Path) -> None:
    """An AgentExecutor whose model emits surrogates, ANSI, HTML and NUL: every handler copes."""
    import workloads
    from langchain_classic.agents import AgentExecutor, create_react_agent

    for target in TARGETS:
        handler, read = target.build(tmp_path)
        llm = FakeListLLM(responses=[HOSTILE_MODEL_OUTPUT, "Final Answer: \ud800 4 \x1bc"])
        prompt = PromptTemplate.from_template(workloads.REACT_PROMPT)
        agent = create_react_agent(llm, [workloads.calculator], prompt)
        executor = AgentExecutor(agent=agent, tools=[workloads.calculator])
        with capturing(handler):
            result = executor.invoke({"input": "\ud800?"}, config={"callbacks": [handler]})
        assert result["output"] == "\ud800 4 \x1bc"
        records = close_and_check(target, handler, read)
        if records is not None:
            assert [r["tool"] for r in records if r["event"] == "agent_action"] == ["calculator"]


def test_chat_model_streaming_hostile_tokens(tmp_path: Path) -> None:
    """A chat model streaming surrogate, NUL and escape-code tokens: every handler copes."""
    for target in TARGETS:
        handler, read = target.build(tmp_path)
        model = GenericFakeChatModel(messages=iter([AIMessage(
            content="\ud800 \x00 \x1b[2J <script>x</script> \u2028 end")]))
        chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()
        with capturing(handler):
            out = "".join(chain.stream({"q": "\udfff"}, config={"callbacks": [handler]}))
        assert out.endswith(" end")
        handler.close()
        check_output(target, read())
        chaos.count(GROUP, inputs=1)


# -- what the properties found, pinned as explicit cases ---------------------------------------


@pytest.mark.parametrize("where", ["name", "run_type", "metadata key", "inputs key"])
def test_every_field_is_capped_under_one_megabyte(where: str, tmp_path: Path) -> None:
    """A 3 MB run name, run_type or dict key still leaves every JSONL line under 1 MB."""
    big = "n" * (3 * 1024 * 1024)
    kwargs: dict[str, Any] = {
        "name": {"name": big}, "run_type": {"run_type": big},
        "metadata key": {"metadata": {big: 1}}, "inputs key": {}}[where]
    inputs = {big: 1} if where == "inputs key" else {}
    path = tmp_path / "big.jsonl"
    with FileCallbackHandler(path, format="jsonl") as handler:
        handler.on_chain_start({}, inputs, run_id=uuid.uuid4(), **kwargs)
    chaos.count(GROUP, inputs=1, records=1)
    assert len(chaos.read_jsonl(path, cap=chaos.LINE_CAP)) == 1


ESCAPES = {
    "CSI colour": "\x1b[31mred\x1b[0m",
    "CSI clear screen": "\x1b[2J\x1b[H",
    "OSC hyperlink": "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\",
    "OSC title": "\x1b]0;title\x1b\\",
}
SURVIVING_ESCAPES = {
    "ESC c (full terminal reset)": "\x1bc",
    "ESC 7 / ESC 8 (cursor save/restore)": "\x1b7x\x1b8",
    "lone ESC": "end\x1b",
    "ESC ESC [": "\x1b\x1b[1m",
}


def _text_log(text: str, tmp_path: Path) -> bytes:
    path = tmp_path / f"{uuid.uuid4().hex}.log"
    with FileCallbackHandler(path, format="text") as handler:
        root = uuid.uuid4()
        handler.on_chain_start({"name": f"chain{text}"}, {}, run_id=root)
        handler.on_text(f"prompt {text}", run_id=root)
        handler.on_agent_action(types_ns(log=f"log {text}", tool="t", tool_input=""),
                                run_id=root)
        handler.on_chain_end({}, run_id=root)
    chaos.count(GROUP, inputs=1, records=4)
    return path.read_bytes()


def types_ns(**fields: Any) -> Any:
    import types

    return types.SimpleNamespace(**fields)


@pytest.mark.parametrize("label", sorted(ESCAPES))
def test_text_format_strips_escape_sequences_from_run_text(label: str, tmp_path: Path) -> None:
    """format="text": colour, screen and hyperlink escapes inside a run's own text are removed."""
    assert b"\x1b" not in _text_log(ESCAPES[label], tmp_path)


@pytest.mark.parametrize("label", sorted(SURVIVING_ESCAPES))
def test_text_format_has_no_escape_byte_at_all(label: str, tmp_path: Path) -> None:
    """format="text" never contains an ESC byte, whatever escape the run's text carried."""
    assert b"\x1b" not in _text_log(SURVIVING_ESCAPES[label], tmp_path)


UNENCODABLE = textwrap.dedent("""
    import sys
    from chainsink import StdOutCallbackHandler
    from langchain_core.language_models import FakeListLLM
    from langchain_core.prompts import PromptTemplate
    handler = StdOutCallbackHandler(style=sys.argv[1])
    chain = PromptTemplate.from_template("say {x}") | FakeListLLM(responses=["ok"] * 10)
    odd = sys.argv[2].encode("ascii").decode("unicode_escape")  # argv cannot carry a surrogate
    for name in ("first-run", odd, "third-run"):
        chain.invoke({"x": 1}, config={"callbacks": [handler], "run_name": name})
    sys.stderr.write("RUN-COMPLETED\\n")
""")


@pytest.mark.parametrize("style", ["classic", "detailed"])
@pytest.mark.parametrize("name,encoding", [("lone\ud800surrogate", "utf-8"),
                                           ("caf\u00e9", "ascii")])
def test_unencodable_text_does_not_silence_stdout(style: str, name: str, encoding: str) -> None:
    """A run name stdout cannot encode is shown escaped; later runs still print."""
    escaped = name.encode("unicode_escape").decode("ascii")
    proc = subprocess.run([chaos.PY, "-c", UNENCODABLE, style, escaped], capture_output=True,
                          env=chaos.python_env(PYTHONIOENCODING=f"{encoding}:strict"),
                          timeout=60, check=False)
    chaos.count(GROUP, inputs=1)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0 and "RUN-COMPLETED" in err, err
    assert b"first-run" in proc.stdout
    assert b"third-run" in proc.stdout, err


@pytest.mark.parametrize("backend", ["loguru", "logging"])
def test_lone_surrogates_reach_user_log_files(backend: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A run named with a lone surrogate is written by the user's UTF-8 file sinks, no error."""
    path = tmp_path / "app.log"
    chain = PromptTemplate.from_template("say {x}") | FakeListLLM(responses=["ok"] * 3)
    config: Any = {"run_name": "bad\ud800name"}
    if backend == "loguru":
        sink_id = loguru_logger.add(path, serialize=True, level="INFO")  # loguru's defaults
        try:
            chain.invoke({"x": "\ud800"}, config={**config,
                                                  "callbacks": [LoguruCallbackHandler()]})
            loguru_logger.complete()
        finally:
            loguru_logger.remove(sink_id)
    else:
        logger = logging.getLogger(f"chaos.surrogates.{uuid.uuid4().hex}")
        logger.propagate, logger.level = False, logging.INFO
        target = logging.FileHandler(path, encoding="utf-8")
        target.setFormatter(logging.Formatter("%(levelname)s %(run_id)s %(message)s"))
        logger.addHandler(target)
        chain.invoke({"x": "\ud800"}, config={**config,
                                              "callbacks": [LoggingCallbackHandler(logger)]})
        target.close()
    chaos.count(GROUP, inputs=1, records=6)
    lines = path.read_text(encoding="utf-8").splitlines()
    err = capsys.readouterr().err
    assert "Logging error" not in err and "Traceback" not in err
    assert len(lines) == 6  # chain, prompt and llm: a start and an end each


SECRET_PLACES = {
    "key named token in inputs": ({"token": chaos.SECRET}, None),
    "key named token in metadata": ({}, {"token": chaos.SECRET}),
    "secret key with an escaped character": ({"db\npassword": chaos.SECRET}, None),
    "secret key inside a list of dicts": ({"rows": [{"x": 1}, {"Api-Key": chaos.SECRET}]}, None),
    "bearer token in a tag-like value": ({"h": f"Authorization: Bearer {chaos.SECRET}"}, None),
}


@pytest.mark.parametrize("label", [*sorted(SECRET_PLACES),
    "credential used as a dict key"])
def test_secret_keys_are_masked_wherever_they_are(label: str, tmp_path: Path) -> None:
    """A secret under a key named token (in inputs or metadata), an odd key, or as a key."""
    inputs, metadata = SECRET_PLACES.get(label) or ({f"sk-proj-{chaos.SECRET}abcdef": 1}, None)
    path = tmp_path / "r.jsonl"
    with FileCallbackHandler(path, format="jsonl") as handler:
        run = uuid.uuid4()
        handler.on_chain_start({"name": "c"}, inputs, run_id=run, metadata=metadata)
        handler.on_chain_end({}, run_id=run)
    chaos.count(GROUP, inputs=1, records=2)
    assert chaos.SECRET not in path.read_text(encoding="utf-8")
