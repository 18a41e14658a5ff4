"""Ships ``chainsink-startup.pth`` into site-packages (everything else is in pyproject.toml).

The ``.pth`` file is how ``CHAINSINK_LOG=path`` records a process that never imports
chainsink, the way coverage measures subprocesses.
"""

from __future__ import annotations

import os

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = "chainsink-startup.pth"


class BuildWithStartupHook(build_py):
    """``build_py`` that also places the start-up ``.pth`` at the root of the wheel."""

    def run(self) -> None:
        super().run()
        here = os.path.dirname(os.path.abspath(__file__))
        self.copy_file(os.path.join(here, PTH), os.path.join(self.build_lib, PTH))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), os.path.join(self.build_lib, PTH)]


setup(cmdclass={"build_py": BuildWithStartupHook})
