"""``chainsink demo``: a realistic workload on fake models with only the runtime dependencies."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from ._support import cli_env, page_data

#: Runs the CLI with every non-runtime package made unimportable, as after `pip install .`.
ONLY_RUNTIME_DEPS = """
import sys
from importlib.abc import MetaPathFinder

BLOCKED = {"langchain", "langchain_classic", "langgraph", "langchain_text_splitters", "loguru",
           "structlog", "playwright", "pytest", "hypothesis"}

class Block(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (not a runtime dependency)",
                                      name=name)
        return None

sys.meta_path.insert(0, Block())
from chainsink.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_demo_runs_without_the_dev_dependencies_and_says_where_it_wrote(tmp_path: Path) -> None:
    """The demo runs with only runtime dependencies, writes ./chainsink-demo and says so."""
    done = subprocess.run([sys.executable, "-c", ONLY_RUNTIME_DEPS, "demo"], cwd=tmp_path,
                          capture_output=True, text=True, env=cli_env(), timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    out_dir = tmp_path / "chainsink-demo"
    log, report = out_dir / "demo.jsonl", out_dir / "report.html"
    assert log.stat().st_size > 0 and report.stat().st_size > 0
    out = done.stdout
    assert "chainsink-demo/ was created in the current directory" in out
    assert str(Path("chainsink-demo") / "demo.jsonl") in out
    assert str(Path("chainsink-demo") / "report.html") in out
    for expected in ("> Entering new weather_agent chain...", "> Tool get_weather started",
                     "> Retriever KeywordRetriever started", "progress {", "tokens:",
                     "! chain parse_order failed"):
        assert expected in out, expected


def test_demo_log_has_every_kind_of_run_and_concurrent_traces(tmp_path: Path) -> None:
    """The demo logs tools, retrieval, streaming, a failure, custom events and concurrent traces."""
    done = subprocess.run([sys.executable, "-m", "chainsink", "demo", "--out", "here"],
                          cwd=tmp_path, capture_output=True, text=True, env=cli_env(),
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in (tmp_path / "here" / "demo.jsonl").open()]
    kinds = {r["event"] for r in records}
    assert kinds >= {"chain_start", "chain_end", "chain_error", "chat_model_start", "llm_end",
                     "llm_new_token", "tool_start", "tool_end", "retriever_start",
                     "retriever_end", "custom_event"}
    models = {r["model"] for r in records if r["event"] == "llm_end" and r.get("usage")}
    assert len(models) == 2
    spans: dict[str, list[datetime]] = {}
    for r in records:
        spans.setdefault(r["trace_id"], []).append(_ts(r["ts"]))
    windows = sorted((min(v), max(v)) for v in spans.values())
    assert any(b[0] < a[1] for a, b in itertools.pairwise(windows))  # overlapping
    traces = page_data((tmp_path / "here" / "report.html").read_text())["traces"]
    assert len(traces) == len(spans)
    assert traces[0]["status"] == "error"  # failed traces come first
