"""chainsink's classic console and text/ANSI files match langchain-core byte for byte.

Each workload is run with langchain-core's handler and with chainsink's, and the outputs
are compared exactly (stdout captured with ``capsys``; files read after the handlers closed).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from langchain_core.callbacks import FileCallbackHandler as CoreFileCallbackHandler
from langchain_core.callbacks import StdOutCallbackHandler as CoreStdOutCallbackHandler
from workloads import SYNC_WORKLOADS, VERBOSE_WORKLOADS

import chainsink

ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")

# The threaded batch prints from 8 worker threads: the interleaving of identical lines
# differs from run to run, so its console/file bytes cannot be compared between two runs.
NONDETERMINISTIC_ORDER = {"batch_threaded"}

ORDERED_WORKLOADS = {
    name: fn for name, fn in SYNC_WORKLOADS.items() if name not in NONDETERMINISTIC_ORDER
}
ALL_ORDERED = {**ORDERED_WORKLOADS, **VERBOSE_WORKLOADS}

# Workloads whose langchain-core *file* output contains ANSI escapes (LLMChain's colored
# "Prompt after formatting", the agent's colored action/finish logs).
ANSI_IN_FILE = {
    "llm_chain_request",
    "llm_chain_constructor",
    "agent_executor",
    "llm_chain_verbose",
    "agent_executor_verbose",
}


def _first_difference(expected: str, got: str) -> str:
    """Human-readable description of where two outputs first differ."""
    for i, (a, b) in enumerate(zip(expected, got, strict=False)):
        if a != b:
            return (
                f"first difference at index {i}: expected {expected[i:i + 60]!r} "
                f"got {got[i:i + 60]!r}"
            )
    return f"lengths differ: expected {len(expected)} chars, got {len(got)} chars"


def _assert_same(expected: str, got: str) -> None:
    assert got == expected, _first_difference(expected, got)


# --------------------------------------------------------------------------- #
# stdout, style="classic"
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("name", list(ORDERED_WORKLOADS))
def test_classic_stdout_matches_langchain_core(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """chainsink.StdOutCallbackHandler(style="classic") prints exactly what langchain-core's
    handler prints."""
    workload = ORDERED_WORKLOADS[name]
    capsys.readouterr()
    workload([CoreStdOutCallbackHandler()])
    expected = capsys.readouterr().out
    workload([chainsink.StdOutCallbackHandler(style="classic")])
    got = capsys.readouterr().out
    assert expected.strip(), f"langchain-core printed nothing for {name}"
    _assert_same(expected, got)


@pytest.mark.parametrize("name", ["llm_chain_request", "agent_executor"])
@pytest.mark.parametrize("color", ["green", "pink"])
def test_classic_stdout_default_color_matches(
    name: str, color: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """With a default color, chainsink's classic console colors text exactly as langchain-core
    does."""
    workload = ORDERED_WORKLOADS[name]
    capsys.readouterr()
    workload([CoreStdOutCallbackHandler(color=color)])
    expected = capsys.readouterr().out
    workload([chainsink.StdOutCallbackHandler(color=color)])
    got = capsys.readouterr().out
    assert "\x1b[" in expected
    _assert_same(expected, got)


def test_classic_handler_is_a_langchain_stdout_handler() -> None:
    """chainsink.StdOutCallbackHandler subclasses langchain-core's StdOutCallbackHandler (so
    verbose=True does not double-print)."""
    handler = chainsink.StdOutCallbackHandler()
    assert isinstance(handler, CoreStdOutCallbackHandler)


@pytest.mark.parametrize("name", list(VERBOSE_WORKLOADS))
def test_classic_stdout_under_verbose_matches(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under verbose=True, chainsink's classic handler prints what langchain-core's handler
    prints there (no double print)."""
    workload = VERBOSE_WORKLOADS[name]
    capsys.readouterr()
    workload([])  # LangChain injects its own (non-inheritable) StdOutCallbackHandler
    langchain_verbose = capsys.readouterr().out
    workload([CoreStdOutCallbackHandler()])  # a StdOutCallbackHandler present: no injection
    expected = capsys.readouterr().out
    workload([chainsink.StdOutCallbackHandler(style="classic")])
    got = capsys.readouterr().out
    assert "Entering new" in langchain_verbose, f"verbose=True printed nothing for {name}"
    # If LangChain also injected its handler next to chainsink's, the chain's own lines
    # would be printed twice and differ from ``expected``.
    assert got.count("> Finished chain.") == expected.count("> Finished chain.")
    _assert_same(expected, got)


# --------------------------------------------------------------------------- #
# files: format="ansi" and format="text"
# --------------------------------------------------------------------------- #


def _run_with_files(name: str, tmp_path: Path) -> tuple[str, str, str]:
    """Run ``name`` once with core's file handler and chainsink's ansi + text handlers."""
    workload = ALL_ORDERED[name]
    core_path = tmp_path / "core.log"
    ansi_path = tmp_path / "chainsink.ansi.log"
    text_path = tmp_path / "chainsink.text.log"
    with (
        CoreFileCallbackHandler(str(core_path), mode="w") as core,
        chainsink.FileCallbackHandler(str(ansi_path), mode="w", format="ansi") as ansi,
        chainsink.FileCallbackHandler(str(text_path), mode="w", format="text") as text,
    ):
        workload([core, ansi, text])
    return (
        core_path.read_bytes().decode("utf-8"),
        ansi_path.read_bytes().decode("utf-8"),
        text_path.read_bytes().decode("utf-8"),
    )


@pytest.mark.parametrize("name", list(ALL_ORDERED))
def test_ansi_file_matches_langchain_core_file(name: str, tmp_path: Path) -> None:
    """FileCallbackHandler(format="ansi") writes exactly langchain-core's FileCallbackHandler
    file."""
    core, ansi, _ = _run_with_files(name, tmp_path)
    assert core.strip(), f"langchain-core wrote nothing for {name}"
    if name in ANSI_IN_FILE:
        assert "\x1b[" in core, f"expected ANSI codes in langchain-core's file for {name}"
    _assert_same(core, ansi)


@pytest.mark.parametrize("name", list(ALL_ORDERED))
def test_text_file_is_langchain_core_file_without_ansi(name: str, tmp_path: Path) -> None:
    """FileCallbackHandler(format="text") writes langchain-core's file with every ANSI escape
    removed."""
    core, _, text = _run_with_files(name, tmp_path)
    expected = ANSI_RE.sub("", core)
    assert expected.strip(), f"langchain-core wrote nothing for {name}"
    if name in ANSI_IN_FILE:
        assert expected != core, "test premise: this workload's file has ANSI codes to strip"
    assert "\x1b" not in text
    _assert_same(expected, text)


def test_text_is_the_default_file_format(tmp_path: Path) -> None:
    """FileCallbackHandler without format= writes the ANSI-free text format."""
    core_path = tmp_path / "core.log"
    default_path = tmp_path / "default.log"
    with (
        CoreFileCallbackHandler(str(core_path), mode="w") as core,
        chainsink.FileCallbackHandler(str(default_path), mode="w") as default,
    ):
        ALL_ORDERED["agent_executor"]([core, default])
    expected = ANSI_RE.sub("", core_path.read_text(encoding="utf-8"))
    assert "\x1b" in core_path.read_text(encoding="utf-8")
    _assert_same(expected, default_path.read_text(encoding="utf-8"))


def test_default_mode_appends_like_langchain_core(tmp_path: Path) -> None:
    """With the default mode "a", two handlers on one file append, as langchain-core's do."""
    core_path = tmp_path / "core.log"
    ansi_path = tmp_path / "chainsink.log"
    for _ in range(2):
        with (
            CoreFileCallbackHandler(str(core_path)) as core,
            chainsink.FileCallbackHandler(str(ansi_path), format="ansi") as ansi,
        ):
            ALL_ORDERED["llm_chain_request"]([core, ansi])
    core_text = core_path.read_text(encoding="utf-8")
    half = len(core_text) // 2
    assert core_text[:half] == core_text[half:]  # premise: core appended
    _assert_same(core_text, ansi_path.read_text(encoding="utf-8"))


def test_file_handler_close_is_idempotent(tmp_path: Path) -> None:
    """close() may be called twice and the file holds the full run afterwards."""
    path = tmp_path / "closed.log"
    handler = chainsink.FileCallbackHandler(str(path), mode="w", format="text")
    ALL_ORDERED["llm_chain_request"]([handler])
    handler.close()
    handler.close()
    content = path.read_text(encoding="utf-8")
    assert "> Entering new LLMChain chain..." in content
    assert content.rstrip().endswith("> Finished chain.")
