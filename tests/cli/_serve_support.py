"""Helpers for the ``chainsink serve`` tests: the server as a real child process, raw HTTP,
and runs appended to a log by another real process."""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ._support import PipeReader, cli_env, ctrl_c

WAIT = 30.0  # seconds: a bound for a slow machine, never a measure
_URL = re.compile(r"at (http://\S+/) \(Ctrl-C")


class Serve:
    """A ``chainsink serve --port 0 ARGS`` child process, its URL and its stderr.

    ``nofile`` sets the child's descriptor limit (``ulimit -n``) before it starts.
    """

    def __init__(self, *args: Any, nofile: int | None = None) -> None:
        def limit() -> None:
            import resource

            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chainsink", "serve", "--port", "0", *map(str, args)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=cli_env(),
            # setrlimit only, before exec: safe although the tests run threads
            preexec_fn=None if nofile is None else limit)  # noqa: PLW1509
        assert self.proc.stderr is not None
        self.err = PipeReader(self.proc.stderr, errors="replace")
        found = self.wait_for_stderr(_URL)
        assert found is not None, f"no URL announced; stderr: {self.stderr()}"
        self.url = found.group(1)
        address = self.url.removeprefix("http://").rstrip("/")
        self.host, _, port = address.rpartition(":")
        self.port = int(port)

    def stderr(self) -> str:
        """What the server has written on stderr so far."""
        return self.err.text()

    def wait_for_stderr(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        """Wait (bounded) until ``pattern`` shows on stderr."""
        found: re.Match[str] | None = self.err.wait(pattern.search, self.proc, WAIT)
        return found

    def get(self, path: str, headers: dict[str, str] | None = None
            ) -> tuple[int, dict[str, str], bytes]:
        """``GET path`` with http.client (the path is sent as given)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=WAIT)
        try:
            conn.request("GET", path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def json(self, path: str) -> Any:
        """``GET path``, which must answer 200 with JSON."""
        status, headers, body = self.get(path)
        assert status == 200, (status, body[:300])
        assert headers["content-type"] == "application/json"
        return json.loads(body)

    def raw(self, request_line: str, host: str | None = None) -> tuple[int, bytes]:
        """Send a request line byte for byte over a socket; the status and the whole answer."""
        host = host if host is not None else f"{self.host}:{self.port}"
        with socket.create_connection((self.host, self.port), timeout=WAIT) as sock:
            sock.sendall(f"{request_line}\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                         .encode("latin-1"))
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
        return status, answer

    def interrupt(self) -> tuple[int, str]:
        """Press Ctrl-C; return the exit code and stderr."""
        code = ctrl_c(self.proc, WAIT)
        self.err.join(WAIT)
        return code, self.stderr()


class Events:
    """The server's event stream, read in a thread: every trace entry it has sent."""

    def __init__(self, serve: Serve, since: int = 0) -> None:
        self.conn = http.client.HTTPConnection(serve.host, serve.port, timeout=WAIT * 4)
        self.conn.request("GET", f"/events?since={since}")
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200
        assert self.resp.getheader("Content-Type", "").startswith("text/event-stream")
        self.entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for line in self.resp:
                if line.startswith(b"data: "):
                    with self._lock:
                        self.entries.extend(json.loads(line[6:]))
        except (OSError, ValueError):
            return

    def wait_for(self, name: str) -> dict[str, Any] | None:
        """Wait (bounded) for an entry of a trace called ``name``; the latest such entry."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            with self._lock:
                found = [e for e in self.entries if e["name"] == name]
            if found:
                return found[-1]
            time.sleep(0.05)
        return None

    def wait_for_ids(self, ids: list[str]) -> bool:
        """Wait (bounded) until an entry of each trace in ``ids`` has been sent."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            with self._lock:
                if set(ids) <= {e["id"] for e in self.entries}:
                    return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self.conn.close()


#: A child process that runs one LangChain runnable, logging it with chainsink's
#: FileCallbackHandler (or RotatingFileCallbackHandler) into argv[1].
CHILD = r"""
import sys
import chainsink
from langchain_core.runnables import RunnableLambda

path, name, kind = sys.argv[1], sys.argv[2], sys.argv[3]
if kind == "rotating":
    handler = chainsink.RotatingFileCallbackHandler(path, max_bytes=600, backup_count=3)
else:
    handler = chainsink.FileCallbackHandler(path, format="jsonl")
inner = RunnableLambda(lambda x: x + "!", name=name + "_inner")
RunnableLambda(lambda x: inner.invoke(x), name=name).invoke("hello",
                                                             config={"callbacks": [handler]})
handler.close()
"""


def append_run(log: Path, name: str, kind: str = "file") -> None:
    """Another real process appends one run called ``name`` (with one child run) to ``log``."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(log), name, kind],
                          env=cli_env(), capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
