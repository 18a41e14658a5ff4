"""A real tracing backend: the demo's log exported to Arize Phoenix, read back over its REST API.

Phoenix is heavy and pins its own dependencies, so it lives in its own virtualenv: the test
runs ``$CHAINSINK_PHOENIX`` (``.ci/run`` sets it) or ``phoenix`` on PATH, as a real server on
127.0.0.1 with a temporary working directory and telemetry off. Without Phoenix the test is
skipped, unless ``CHAINSINK_STRICT`` is set (CI), where that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli._support import cli_env, run_cli

from ._receiver import free_port

PROJECT = "chainsink-demo"
#: Bounds: Phoenix's start (migrations on a fresh SQLite database) and its span ingestion.
START_SECONDS = 180
INGEST_SECONDS = 60
SPAN_KINDS = {"llm": "LLM", "tool": "TOOL", "retriever": "RETRIEVER"}


def phoenix_command() -> str:
    found = os.environ.get("CHAINSINK_PHOENIX") or shutil.which("phoenix")
    if not found or not os.access(found, os.X_OK):
        reason = "Arize Phoenix is not installed (set CHAINSINK_PHOENIX or put phoenix on PATH)"
        if os.environ.get("CHAINSINK_STRICT"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def get(url: str) -> tuple[int, Any]:
    """GET ``url``: the status and the JSON body (None when it is not JSON); 0 if unreachable."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (urllib.error.URLError, OSError):
        return 0, None
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Phoenix server on 127.0.0.1; yields its base URL."""
    command = phoenix_command()
    work = tmp_path_factory.mktemp("phoenix")
    port = free_port()
    env = {**os.environ, "PHOENIX_WORKING_DIR": str(work), "PHOENIX_TELEMETRY_ENABLED": "false",
           "PHOENIX_HOST": "127.0.0.1", "PHOENIX_PORT": str(port),
           "PHOENIX_GRPC_PORT": str(free_port())}
    env.pop("PHOENIX_COLLECTOR_ENDPOINT", None)
    output = (work / "server.log").open("wb")
    proc = subprocess.Popen([command, "serve"], env=env, stdout=output,
                            stderr=subprocess.STDOUT, cwd=work)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while get(url + "/healthz")[0] != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (work / "server.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"Phoenix did not start (exit {proc.poll()}):\n{tail}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        output.close()


def test_the_demo_log_in_phoenix(phoenix: str, tmp_path: Path) -> None:
    """Every run of `chainsink demo`'s log, exported with --openinference, is in Phoenix with
    its ids, its parent, its span kind, its status and its token counts."""
    demo = run_cli("demo", "--out", tmp_path / "demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    log = tmp_path / "demo" / "demo.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    runs: dict[str, dict[str, Any]] = {}
    for rec in records:
        run = runs.setdefault(rec["run_id"], {"failed": False, "tokens": None})
        run.update(trace=rec["trace_id"], parent=rec["parent_run_id"], type=rec["run_type"],
                   name=rec["name"])
        if rec["event"].endswith("_error"):
            run["failed"] = True
        if rec["event"] == "llm_end" and rec.get("usage"):
            run["tokens"] = rec["usage"]["input_tokens"]
    assert any(r["failed"] for r in runs.values())

    proc = run_cli("export", log, "--otlp", phoenix, "--openinference", cwd=tmp_path,
                   env=cli_env({"OTEL_RESOURCE_ATTRIBUTES":
                                f"openinference.project.name={PROJECT}"}))
    assert proc.returncode == 0, proc.stderr

    spans: list[dict[str, Any]] = []
    deadline = time.monotonic() + INGEST_SECONDS
    while len(spans) < len(runs) and time.monotonic() < deadline:
        status, body = get(f"{phoenix}/v1/projects/{PROJECT}/spans?limit=1000")
        spans = body["data"] if status == 200 and body else []
        if len(spans) < len(runs):
            time.sleep(0.5)
    by_run = {s["attributes"]["chainsink.run_id"]: s for s in spans}
    assert set(by_run) == set(runs), f"{len(spans)} of {len(runs)} runs arrived"

    def span_id(run_id: str) -> str:
        return run_id.replace("-", "")[16:]

    for run_id, run in runs.items():
        span = by_run[run_id]
        assert span["context"]["span_id"] == span_id(run_id)
        assert span["context"]["trace_id"] == run["trace"].replace("-", "")
        assert span["parent_id"] == (span_id(run["parent"]) if run["parent"] else None)
        assert span["span_kind"] == SPAN_KINDS.get(run["type"], "CHAIN")
        assert span["status_code"] == ("ERROR" if run["failed"] else "UNSET"), run["name"]
        if run["tokens"] is not None:
            assert span["attributes"]["llm.token_count.prompt"] == run["tokens"]
            assert span["attributes"]["gen_ai.usage.input_tokens"] == run["tokens"]
