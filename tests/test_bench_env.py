"""What the benchmarks say they measured (bench/_env.py): the chainsink ``import chainsink``
finds, in real git checkouts made here, not the checkout the benchmark script sits in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import _env


def _checkout(root: Path) -> str:
    (root / "chainsink").mkdir(parents=True)
    (root / "chainsink" / "__init__.py").write_text("")
    (root / "README.md").write_text("x\n")
    for args in (["init", "-q"], ["add", "."],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)
    return subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                          check=True, capture_output=True, text=True).stdout.strip()


def test_the_imported_package_is_named_with_its_own_checkout(tmp_path: Path) -> None:
    """Another clone's package: its commit and where it was imported from; its uncommitted
    changes in chainsink/ are said, a change elsewhere in that clone is not."""
    other = tmp_path / "other"
    head = _checkout(other)
    package = str(other / "chainsink")
    assert _env.git_state(package) == (
        f"{head} (imported from {other}, not this benchmark's checkout {_env.REPO})")
    (other / "README.md").write_text("y\n")
    assert _env.git_state(package).startswith(f"{head} (imported")
    (other / "chainsink" / "__init__.py").write_text("X = 1\n")
    assert _env.git_state(package).startswith(f"{head} + uncommitted changes in chainsink/ (")


def test_a_package_outside_any_checkout_says_so(tmp_path: Path) -> None:
    (tmp_path / "site" / "chainsink").mkdir(parents=True)
    package = str(tmp_path / "site" / "chainsink")
    assert _env.git_state(package) == f"unknown (imported from {package}, not a git checkout)"


def test_by_default_it_names_what_import_chainsink_finds() -> None:
    import chainsink

    state = _env.git_state()
    root = str(Path(chainsink.__file__).resolve().parent.parent)
    if Path(root).resolve() == Path(_env.REPO).resolve():
        assert "imported from" not in state or state.startswith("unknown")
    else:
        assert f"imported from {root}" in state


def test_a_child_python_m_chainsink_names_its_own_package(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI benchmarks' commands are ``python -m chainsink`` children: the directory they
    import is asked of a child, here one with a fake chainsink first on PYTHONPATH, and then
    one run from a directory holding another (``-m`` and ``-c`` put it first)."""
    fake = tmp_path / "fake"
    (fake / "chainsink").mkdir(parents=True)
    (fake / "chainsink" / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(fake)}
    assert _env.child_package_dir(env) == str(fake / "chainsink")
    here = tmp_path / "here"
    (here / "chainsink").mkdir(parents=True)
    (here / "chainsink" / "__init__.py").write_text("")
    monkeypatch.chdir(here)
    assert _env.child_package_dir(env) == str(here / "chainsink")
    assert _env.versions(package_dir=str(fake / "chainsink"))["chainsink_source"] == (
        f"unknown (imported from {fake / 'chainsink'}, not a git checkout)")
