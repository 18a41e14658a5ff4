"""The layering rules of issue 16 that a test can check.

1. LangChain stays at the edge: importing the reading side, and running the CLI's reading
   commands, loads no ``langchain_core`` module (each checked in a fresh interpreter).
2. A subpackage's private modules are its own: no module outside ``chainsink.<sub>`` imports
   ``chainsink.<sub>._private`` (checked by parsing every module's imports).

Both check the package under ``$CHAINSINK_TEST_ROOT`` (a directory holding ``chainsink/``) when
it is set, else this checkout's; pointing it at a scratch copy with a deliberate violation
shows each test failing.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import workloads

import chainsink

ROOT = Path(os.environ.get("CHAINSINK_TEST_ROOT") or Path(__file__).resolve().parents[1])
PACKAGE = ROOT / "chainsink"

# --------------------------------------------------------------------------------------------
# 1. No langchain_core on the reading side
# --------------------------------------------------------------------------------------------

#: The reading side: everything ``chainsink tail``/``stats``/``html`` needs.
READING_SIDE = ("chainsink.formatters", "chainsink.sinks", "chainsink.processors",
                "chainsink.report", "chainsink.read")

#: Run in a fresh interpreter: import modules (``import``) or run ``chainsink.cli.main(argv)``
#: (``cli``), then write what was loaded to a JSON file. A finder that finds nothing notes the
#: Python stack at the first ``langchain_core`` import, for the failure message.
_CHILD = r"""
import json, sys, traceback

out_path, mode, payload = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])


class _Watch:
    stack = None

    def find_spec(self, name, path=None, target=None):
        if _Watch.stack is None and name.split(".")[0] == "langchain_core":
            _Watch.stack = [f"{f.filename}:{f.lineno} in {f.name}: {f.line}"
                            for f in traceback.extract_stack()[:-1]
                            if not f.filename.startswith("<frozen")]
        return None


sys.meta_path.insert(0, _Watch())
code = None
try:
    if mode == "import":
        for name in payload:
            __import__(name)
    else:
        from chainsink.cli import main

        code = main(payload)
finally:
    import chainsink

    loaded = sorted(m for m in sys.modules
                    if m == "langchain_core" or m.startswith("langchain_core."))
    with open(out_path, "w") as out:
        json.dump({"code": code, "chainsink": chainsink.__file__, "langchain_core": loaded,
                   "stack": _Watch.stack}, out)
"""


def _child_env() -> dict[str, str]:
    """This environment, with the package under test first on the path and no start-up hook."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("CHAINSINK_LOG", "CHAINSINK_OTLP", "CHAINSINK_DEBUG", "FORCE_COLOR")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["NO_COLOR"] = "1"
    return env


def import_chain(importtime: str) -> list[str]:
    """The modules from the outermost import down to the first ``langchain_core`` module, read
    from ``-X importtime`` output (which lists each module after its imports, indented by
    depth); empty when no ``langchain_core`` module was imported."""
    rows: list[tuple[int, str]] = []
    for line in importtime.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3:
            continue
        field = parts[2].rstrip()
        name = field.strip()
        if name != "imported package":
            rows.append(((len(field) - len(field.lstrip(" ")) - 1) // 2, name))
    first = next((i for i, (_, name) in enumerate(rows)
                  if name.split(".")[0] == "langchain_core"), None)
    if first is None:
        return []
    chain, depth = [rows[first][1]], rows[first][0]
    for later_depth, name in rows[first + 1:]:  # an importer is listed after what it imported
        if later_depth < depth:
            chain.append(name)
            depth = later_depth
    chain.reverse()
    # importing a.b._c imports package a.b inside a.b._c's entry: keep a name's innermost entry
    chain = [name for i, name in enumerate(chain) if name not in chain[i + 1:]]
    top_langchain = next(i for i, name in enumerate(chain)
                         if name.split(".")[0] == "langchain_core")
    return chain[:top_langchain + 1]


def run_child(mode: str, payload: list[str], cwd: Path) -> tuple[dict[str, Any], str]:
    """Run :data:`_CHILD` under ``-X importtime``; its report and its stderr."""
    out = cwd / f"loaded-{os.getpid()}.json"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _CHILD, str(out), mode, json.dumps(payload)],
        cwd=cwd, env=_child_env(), capture_output=True, text=True, timeout=120, check=False)
    if not out.exists():
        pytest.fail(f"the child wrote no report (exit {proc.returncode}):\n{_stderr(proc.stderr)}")
    report = json.loads(out.read_text())
    out.unlink()
    return report, proc.stderr


def _stderr(stderr: str) -> str:
    """stderr without the ``-X importtime`` lines."""
    return "\n".join(line for line in stderr.splitlines() if not line.startswith("import time:"))


def assert_no_langchain(what: str, report: dict[str, Any], stderr: str) -> None:
    """Fail naming the langchain_core modules loaded, the import chain and the first importer."""
    assert str(report["chainsink"]).startswith(str(PACKAGE)), (
        f"the child imported {report['chainsink']}, not the package under test in {PACKAGE}")
    loaded = list(report["langchain_core"])
    if not loaded:
        return
    more = f", ... ({len(loaded) - 12} more)" if len(loaded) > 12 else ""
    shown = ", ".join(loaded[:12]) + more
    chain = " -> ".join(import_chain(stderr)) or "(not found in -X importtime output)"
    stack = report["stack"] or ["(not seen)"]
    pytest.fail(
        f"{what} loaded {len(loaded)} langchain_core modules: {shown}\n"
        f"import chain (-X importtime, outermost first): {chain}\n"
        "Python stack at the first langchain_core import (innermost last):\n  "
        + "\n  ".join(stack),
        pytrace=False)


@pytest.fixture(scope="module")
def jsonl_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A JSONL log of real runs (a streamed chain, an invoked one, a failing one), written by
    chainsink's own ``FileCallbackHandler`` in this process."""
    path = tmp_path_factory.mktemp("log") / "runs.jsonl"
    with chainsink.FileCallbackHandler(str(path), format="jsonl") as handler:
        workloads.invoke_lcel([handler])
        workloads.stream_lcel([handler])
        workloads.error_chain([handler])
    assert path.stat().st_size > 0
    return path


def test_reading_side_imports_no_langchain(tmp_path: Path) -> None:
    """Importing formatters, sinks, processors, report and read loads no langchain_core module."""
    report, stderr = run_child("import", list(READING_SIDE), tmp_path)
    assert_no_langchain("import " + ", ".join(READING_SIDE), report, stderr)


#: CLI commands that must not pay for LangChain; ``LOG`` is the log, ``OUT`` a file to write.
CLI_COMMANDS = {
    "help": ["--help"],
    "tail": ["tail", "LOG"],
    "stats": ["stats", "LOG"],
    "html": ["html", "LOG", "-o", "OUT"],
    "export-help": ["export", "--help"],
    "query": ["query", "select count(*) from runs", "LOG"],
    "export-parquet": ["export", "LOG", "--parquet", "OUT"],
    "serve-help": ["serve", "--help"],
}


@pytest.mark.parametrize("command", list(CLI_COMMANDS))
def test_cli_command_loads_no_langchain(command: str, jsonl_log: Path, tmp_path: Path) -> None:
    """``chainsink --help``/``tail``/``stats``/``html``/``query``/``export`` run (exit 0) and
    load no langchain_core module."""
    out = tmp_path / "out.html"
    argv = [{"LOG": str(jsonl_log), "OUT": str(out)}.get(arg, arg)
            for arg in CLI_COMMANDS[command]]
    report, stderr = run_child("cli", argv, tmp_path)
    assert_no_langchain("chainsink " + " ".join(CLI_COMMANDS[command]), report, stderr)
    assert report["code"] == 0, f"chainsink {' '.join(argv)} exited {report['code']}:\n" \
                                f"{_stderr(stderr)}"
    if command == "html":
        assert out.stat().st_size > 0


def test_import_chain_reads_importtime_output() -> None:
    """``import_chain`` finds the modules that led to the first langchain_core import."""
    stderr = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:        10 |         10 | os\n"
        "import time:         5 |          5 |         langchain_core._api\n"
        "import time:         5 |          5 |         langchain_core.load\n"
        "import time:         5 |         15 |       langchain_core\n"
        "import time:         5 |         20 |     chainsink._jsonable\n"
        "import time:         5 |         25 |   chainsink.formatters._jsonl\n"
        "import time:         5 |         30 | chainsink.formatters\n"
        "import time:         5 |          5 | langchain_core.tools\n")
    assert import_chain(stderr) == ["chainsink.formatters", "chainsink.formatters._jsonl",
                                    "chainsink._jsonable", "langchain_core"]
    assert import_chain("import time:  1 |  1 | os\n") == []


# --------------------------------------------------------------------------------------------
# 2. No module reaches into another subpackage's private modules
# --------------------------------------------------------------------------------------------

_MODULE_STRING = re.compile(r"chainsink(\.\w+)+")


def module_name(path: Path, root: Path) -> str:
    """``chainsink/cli/_main.py`` -> ``chainsink.cli._main``; a package by its own name."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_package(name: str, root: Path) -> bool:
    return (root.joinpath(*name.split(".")) / "__init__.py").is_file()


def _is_module(name: str, root: Path) -> bool:
    path = root.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path, root: Path) -> Iterator[tuple[int, str, str]]:
    """``(line, dotted name, as written)`` for everything a module imports: ``import``
    and ``from ... import`` anywhere (functions, ``TYPE_CHECKING`` blocks), relative imports
    resolved, and string constants naming a chainsink module (lazy imports by name)."""
    module = module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            if node.level == 0:
                base = node.module or ""
            elif node.module:
                base = f"{base}.{node.module}"
            written = "." * node.level + (node.module or "")
            for alias in node.names:
                target = base if alias.name == "*" else f"{base}.{alias.name}"
                yield node.lineno, target, f"from {written} import {alias.name}"
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and _MODULE_STRING.fullmatch(node.value) and _is_module(node.value, root)):
            yield node.lineno, node.value, f"{node.value!r} (a module named in a string)"


def private_owner(target: str, importer: str, root: Path) -> str | None:
    """The package whose private part ``target`` reaches into from outside, or None.

    Each ``_name`` in ``target`` (not dunders) is private to the package holding it: the
    package the name is in, or the package of the module it is in (so modules of one package
    share their private names). ``chainsink._schema`` and other top-level private modules are
    private to ``chainsink``, so every chainsink module may import them.
    """
    parts = target.split(".")
    if parts[0] != "chainsink":
        return None
    for i in range(1, len(parts)):
        name = parts[i]
        if not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
            continue
        owner = ".".join(parts[:i])
        while not _is_package(owner, root) and "." in owner:
            owner = owner.rpartition(".")[0]
        if importer != owner and not importer.startswith(owner + "."):
            return owner
    return None


def private_imports(root: Path) -> list[str]:
    """Every import of a subpackage's private module (or name) from outside that subpackage."""
    found = []
    for path in sorted((root / "chainsink").rglob("*.py")):
        importer = module_name(path, root)
        for line, target, written in sorted(imports_of(path, root)):
            owner = private_owner(target, importer, root)
            if owner is not None:
                found.append(f"{importer} ({path.relative_to(root)}:{line}): {written}"
                             f"  [private to {owner}]")
    return found


def test_no_module_imports_another_subpackages_private_modules() -> None:
    """No chainsink module imports ``chainsink.<sub>._private`` (or ``from chainsink.<sub>
    import _private``) unless it is inside ``chainsink.<sub>``."""
    assert (PACKAGE / "__init__.py").is_file(), f"no chainsink package under {ROOT}"
    found = private_imports(ROOT)
    if found:
        pytest.fail(f"{len(found)} imports reach into another package's private modules:\n  "
                    + "\n  ".join(found), pytrace=False)


def test_private_owner_rules(tmp_path: Path) -> None:
    """The rule itself: top-level privates are shared, a subpackage's are its own (nested
    subpackages by their own path), private names are shared within their module's package."""
    for package in ("chainsink", "chainsink/cli", "chainsink/report", "chainsink/report/_deep"):
        (tmp_path / package).mkdir(parents=True)
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "chainsink/report/_summary.py").write_text("")

    def owner(target: str, importer: str) -> str | None:
        return private_owner(target, importer, tmp_path)

    assert owner("chainsink._schema", "chainsink.cli._tail") is None
    assert owner("chainsink.report", "chainsink.cli._tail") is None
    assert owner("chainsink.report._summary", "chainsink.report._html") is None
    assert owner("chainsink.report._summary", "chainsink.report") is None
    assert owner("chainsink.report._summary._helper", "chainsink.report._html") is None
    assert owner("chainsink.report._summary", "chainsink.cli._tail") == "chainsink.report"
    assert owner("chainsink.report._summary", "chainsink._startup") == "chainsink.report"
    assert owner("chainsink.report._helper", "chainsink.cli") == "chainsink.report"
    assert owner("chainsink.report._deep._x", "chainsink.report._html") == \
        "chainsink.report._deep"
    assert owner("chainsink.report._deep._x", "chainsink.report._deep.y") is None
    assert owner("chainsink.__version__", "chainsink.cli._main") is None
    assert owner("os._exit", "chainsink.cli._main") is None
