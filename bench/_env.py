"""What a benchmark ran on: interpreter, machine, package versions, the repository's state."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def versions(*dists: str) -> dict[str, str]:
    """Python, platform, CPU count and the versions of ``dists`` ("-" when not installed)."""
    found = {"python": platform.python_version(), "platform": platform.platform(),
             "cpus": str(os.cpu_count())}
    for dist in dists:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "-"
    found["chainsink_source"] = git_state()
    return found


def git_state() -> str:
    """``<commit>`` or ``<commit> + uncommitted changes in chainsink/``: what was measured."""
    try:
        head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "chainsink"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{head} + uncommitted changes in chainsink/" if dirty else head
