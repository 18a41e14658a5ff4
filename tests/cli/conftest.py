"""Fixtures for the CLI tests: logs of real runs on fake models, and the CLI as a real process."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ._support import MIXED, Log, record_log, run_cli


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[Any]]:
    """``cli(*args, **kw)`` runs the CLI in a fresh process with ``tmp_path`` as its cwd."""

    def call(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        kwargs.setdefault("cwd", tmp_path)
        return run_cli(*args, **kwargs)

    return call


@pytest.fixture(scope="session")
def mixed_log(tmp_path_factory: pytest.TempPathFactory) -> Log:
    """The log of :data:`MIXED`, written once per session."""
    return record_log(tmp_path_factory.mktemp("logs") / "mixed.jsonl", MIXED)


@pytest.fixture(scope="session")
def concurrent_log(tmp_path_factory: pytest.TempPathFactory) -> Log:
    """Twenty concurrent async streams and a threaded batch: interleaved traces with usage."""
    return record_log(tmp_path_factory.mktemp("logs") / "concurrent.jsonl",
                      ["astream_concurrent", "batch_threaded", "lcel_invoke", "retriever_chain"])
