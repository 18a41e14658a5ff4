"""Events built by hand, for testing formatters as the pure functions they are."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from chainsink import Event

RUN = uuid.UUID(int=7)
ROOT = uuid.UUID(int=1)


def make(kind: str, depth: int = 1, **data: Any) -> Event:
    """An event of ``kind`` about the run RUN (in the trace ROOT), carrying ``data``."""
    return Event(kind, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp(), RUN, ROOT, ROOT,
                 depth, "thing", "chain", ["t"], {"k": "v"}, data)
