"""A real OTLP/HTTP trace receiver on 127.0.0.1, decoding requests with opentelemetry-proto."""

from __future__ import annotations

import dataclasses
import gzip
import socket
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


@dataclasses.dataclass
class ReceivedSpan:
    """One span as it arrived: ids as ints, times in ns, attributes decoded."""

    trace_id: int
    span_id: int
    parent_span_id: int | None
    name: str
    kind: int
    start_ns: int
    end_ns: int
    status_code: int  # 0 unset, 1 ok, 2 error
    status_message: str
    attributes: dict[str, Any]
    events: list[tuple[str, int, dict[str, Any]]]
    resource: dict[str, Any]
    scope: str


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, which) if which else None


def _attrs(items: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in items}


class Receiver:
    """An OTLP/HTTP endpoint: POST /v1/traces with protobuf bodies (gzip or deflate too).

    ``status`` makes it refuse every request with that HTTP status instead of accepting.
    """

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests = 0
        self.headers: list[dict[str, str]] = []
        self.spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                with receiver._lock:
                    receiver.requests += 1
                    receiver.headers.append(dict(self.headers.items()))
                if self.path != "/v1/traces" or receiver.status != 200:
                    self.send_response(404 if self.path != "/v1/traces" else receiver.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                request = ExportTraceServiceRequest.FromString(body)
                got = []
                for rs in request.resource_spans:
                    resource = _attrs(rs.resource.attributes)
                    for ss in rs.scope_spans:
                        for s in ss.spans:
                            got.append(ReceivedSpan(
                                int.from_bytes(s.trace_id, "big"),
                                int.from_bytes(s.span_id, "big"),
                                int.from_bytes(s.parent_span_id, "big") or None,
                                s.name, s.kind, s.start_time_unix_nano, s.end_time_unix_nano,
                                s.status.code, s.status.message, _attrs(s.attributes),
                                [(e.name, e.time_unix_nano, _attrs(e.attributes))
                                 for e in s.events],
                                resource, ss.scope.name))
                with receiver._lock:
                    receiver.spans.extend(got)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def take(self) -> list[ReceivedSpan]:
        """The spans received so far, forgotten here."""
        with self._lock:
            spans, self.spans = self.spans, []
        return spans


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
