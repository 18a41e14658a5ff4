"""The CLI's shape: one module per subcommand, registered in one list, sharing helpers instead
of importing each other."""

from __future__ import annotations

import ast
import inspect
import types

from chainsink.cli import _main

from ._support import run_main


def _command_modules() -> list[types.ModuleType]:
    return [module for module in _main.COMMANDS if isinstance(module, types.ModuleType)]


def test_every_command_is_a_module_with_the_three_functions() -> None:
    """Each registered command is a ``chainsink.cli._<name>`` module with ``add_parser``,
    ``check`` and ``run``."""
    modules = _command_modules()
    assert len(modules) == len(_main.COMMANDS)
    for module in modules:
        assert module.__name__.startswith("chainsink.cli._"), module.__name__
        for name in ("add_parser", "check", "run"):
            assert callable(getattr(module, name, None)), (module.__name__, name)


def test_help_lists_the_commands_in_their_registered_order() -> None:
    """``chainsink --help`` lists the subcommands in the order of ``COMMANDS``."""
    code, out, _ = run_main(["--help"])
    assert code == 0
    names = [m.__name__.rpartition("._")[2] for m in _command_modules()]
    where = [out.find(f"\n    {name} ") for name in names]
    assert -1 not in where and where == sorted(where), (names, out)


def test_no_command_imports_another() -> None:
    """A subcommand module imports shared helpers (``_common``, ``_inputs``, ...), never another
    subcommand."""
    commands = {m.__name__ for m in _command_modules()}
    for module in _command_modules():
        tree = ast.parse(inspect.getsource(module))
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
                imported |= {f"{node.module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
        assert not (imported & commands) - {module.__name__}, module.__name__
