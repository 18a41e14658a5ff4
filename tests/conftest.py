"""Make the in-repo ``chainsink`` package and the ``workloads`` module importable."""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = Path(__file__).resolve().parent
for _path in (_TESTS.parent, _TESTS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from browser import browser  # noqa: E402, F401 - the shared headless Chromium fixture
