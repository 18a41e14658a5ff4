"""What a benchmark ran on: interpreter, machine, package versions, the repository's state."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def versions(*dists: str, package_dir: str | None = None) -> dict[str, str]:
    """Python, platform, CPU count, the versions of ``dists`` ("-" when not installed) and the
    chainsink measured (:func:`git_state` of ``package_dir``)."""
    found = {"python": platform.python_version(), "platform": platform.platform(),
             "cpus": str(os.cpu_count())}
    for dist in dists:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "-"
    found["chainsink_source"] = git_state(package_dir)
    return found


def child_package_dir(env: dict[str, str] | None = None) -> str | None:
    """The chainsink directory a child ``python -m chainsink`` imports (run from this working
    directory, with ``env``): where the CLI benchmarks' commands get it, which may not be
    where this process got it (``-m`` puts the working directory first). None if it fails."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", "import chainsink, os; "
             "print(os.path.dirname(os.path.abspath(chainsink.__file__)))"],
            capture_output=True, text=True, check=True, env=env, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def git_state(package_dir: str | None = None) -> str:
    """What was measured: the chainsink that ``import chainsink`` finds (``package_dir``, its
    directory, by default), as ``<commit>`` or ``<commit> + uncommitted changes in chainsink/``
    of the checkout it lives in, with that checkout's path when it is not this benchmark's own
    (an editable install of another clone wins over the bench's checkout unless PYTHONPATH
    names it); an installed copy outside any checkout says so."""
    if package_dir is None:
        try:
            import chainsink
        except ImportError:
            return "unknown (chainsink does not import)"
        package_dir = os.path.dirname(os.path.abspath(chainsink.__file__))
    root = os.path.dirname(package_dir)
    try:
        top = subprocess.run(["git", "-C", root, "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, check=True).stdout.strip()
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", package_dir],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"unknown (imported from {package_dir}, not a git checkout)"
    if os.path.realpath(top) != os.path.realpath(root):
        return f"unknown (imported from {package_dir}, inside {top} but not its package)"
    state = f"{head} + uncommitted changes in chainsink/" if dirty else head
    if os.path.realpath(root) != os.path.realpath(REPO):
        state += f" (imported from {root}, not this benchmark's checkout {REPO})"
    return state
