"""The live viewer's HTTP server: three fixed routes over a :class:`~chainsink.cli._live.LiveIndex`.

It is the standard library's :class:`http.server.ThreadingHTTPServer`: the viewer serves one
person's browser on their own machine (a page, a stream of changes, a trace at a time), which
a thread per connection handles with no new dependency to install, audit or keep up to date;
an asyncio or WSGI stack would add one and gain nothing at this load.

Routes (nothing else is served; no part of a request ever names a file):

- ``GET /``: the report page (:func:`chainsink.report.render_html`) of what is indexed so far,
  with the live script (:data:`~chainsink.cli._live_script.LIVE_SCRIPT`) as its second script;
- ``GET /events?since=N``: server-sent events, each a JSON list of the trace entries changed
  after version ``N`` (the event id is the version reached; ``Last-Event-ID`` resumes);
- ``GET /trace?id=ID``: one trace with its rows, as JSON; the id is looked up in the index.

Every response carries the report's Content-Security-Policy (the page has it as a ``<meta>``
too), ``X-Content-Type-Options: nosniff`` and no caching. A request whose ``Host`` is not this
server's own name (DNS rebinding: a hostile page's name pointed at 127.0.0.1) is refused.
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chainsink.cli._live import LiveIndex, dumps
from chainsink.cli._live_script import LIVE_SCRIPT
from chainsink.report import content_security_policy, render_html

#: Seconds between two keep-alive comments on an idle event stream.
HEARTBEAT = 15.0
#: Seconds a page may spend making the entries of traces indexed but not yet listed (while
#: a large log is indexed; the rest follow on the event stream).
PAGE_BUDGET = 0.25
#: Event streams served at once (each holds a thread); more are refused with 503.
MAX_STREAMS = 32
#: Seconds a client may take to send a request, or to read what it was sent.
CLIENT_TIMEOUT = 60.0


#: The page's Content-Security-Policy (the report's, with the live script's hash and
#: ``connect-src 'self'``), sent as a header too.
CSP = content_security_policy(LIVE_SCRIPT)
_SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)


def loopback(host: str) -> bool:
    """Whether ``host`` (an address) is a loopback address."""
    try:
        return ipaddress.ip_address(host.split("%", maxsplit=1)[0]).is_loopback
    except ValueError:
        return False


class LiveServer(ThreadingHTTPServer):
    """The viewer's server: the index, the page's title, and the names it answers to."""

    daemon_threads = True  # an open event stream never holds Ctrl-C up
    block_on_close = False

    def __init__(self, host: str, port: int, index: LiveIndex, *, title: str) -> None:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        self.address_family = family
        super().__init__((str(address[0]), int(address[1])), LiveHandler)
        self.index = index
        self.title = title
        self.boot = secrets.token_hex(4)  # tells this server's event ids from an earlier one's
        self.streams = threading.BoundedSemaphore(MAX_STREAMS)
        self.hosts = self._own_names(host)

    @property
    def host(self) -> str:
        """The address listened on."""
        return str(self.server_address[0])

    @property
    def url(self) -> str:
        """The page's URL."""
        host = self.host
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.server_port}/"

    def _own_names(self, asked: str) -> set[str]:
        names = {asked.lower(), self.host.lower()}
        if loopback(self.host) or self.host in ("0.0.0.0", "::"):
            names |= {"localhost", "127.0.0.1", "::1"}
        if self.host in ("0.0.0.0", "::"):
            with contextlib.suppress(OSError):
                names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        return names

    def own_host(self, header: str | None) -> bool:
        """Whether a request's ``Host`` header names this server (and its port)."""
        if not header:
            return False
        header = header.strip().lower()
        if header.startswith("["):
            host, _, rest = header[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else ""
        else:
            host, _, port = header.rpartition(":") if ":" in header else (header, "", "")
        if port and port != str(self.server_port):
            return False
        if host in self.hosts:
            return True
        # bound to every address: any address literal of this machine reaches it; a DNS
        # rebinding attack needs a name, which is refused
        return self.host in ("0.0.0.0", "::") and _address(host)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away is no error worth a traceback."""


def _address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class LiveHandler(BaseHTTPRequestHandler):
    """Answers the three routes; everything else is 404."""

    server: LiveServer
    server_version = "chainsink"
    sys_version = ""

    def version_string(self) -> str:
        """The Server header: the name alone."""
        return self.server_version
    timeout = CLIENT_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Requests are not logged (the terminal is the operator's)."""

    def do_GET(self) -> None:
        """Route a GET by its exact path."""
        if not self.server.own_host(self.headers.get("Host")):
            self._send_json(HTTPStatus.FORBIDDEN, {"error": "unexpected Host header"})
            return
        parts = urlsplit(self.path)
        route = {"/": self._page, "/events": self._events, "/trace": self._trace}.get(
            parts.path if self.path.startswith("/") else "")
        if route is None:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": "not found"})
            return
        query = parse_qs(parts.query, max_num_fields=8)
        route(query)

    def _headers(self, status: HTTPStatus, content_type: str, length: int | None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def end_headers(self) -> None:
        """Every response, errors that http.server sends itself included, carries the page's
        Content-Security-Policy, nosniff and no caching."""
        for name, value in _SECURITY_HEADERS:
            self.send_header(name, value)
        super().end_headers()

    def _send_json(self, status: HTTPStatus, value: Any) -> None:
        body = dumps(value)
        self._headers(status, "application/json", len(body))
        with contextlib.suppress(OSError):
            self.wfile.write(body)

    def _page(self, _: dict[str, list[str]]) -> None:
        index = self.server.index
        index.flush(budget=PAGE_BUDGET)
        with index.lock:  # the page's data and cards as one moment of the index
            page = "".join(render_html(index.summary, index.entries(), title=self.server.title,
                                       sources=index.sources, extra_script=LIVE_SCRIPT))
        body = page.encode("utf-8")
        self._headers(HTTPStatus.OK, "text/html; charset=utf-8", len(body))
        with contextlib.suppress(OSError):
            self.wfile.write(body)

    def _trace(self, query: dict[str, list[str]]) -> None:
        ids = query.get("id")
        found = self.server.index.trace(ids[0]) if ids and len(ids) == 1 else None
        if found is None:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": "no such trace"})
            return
        self._send_json(HTTPStatus.OK, found)

    def _since(self, query: dict[str, list[str]]) -> int:
        """The version the page holds: ``Last-Event-ID`` (``boot-version``) of this server, or
        the ``since`` it asked for."""
        last = self.headers.get("Last-Event-ID", "")
        boot, _, ver = last.partition("-")
        if boot == self.server.boot and ver.isdigit():
            return int(ver)
        asked = (query.get("since") or ["0"])[0]
        return int(asked) if asked.isdigit() and len(asked) < 19 else 0

    def _events(self, query: dict[str, list[str]]) -> None:
        if not self.server.streams.acquire(blocking=False):
            self._send_json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "too many viewers"})
            return
        try:
            self._stream(self._since(query))
        except OSError:  # the page went away
            pass
        finally:
            self.server.streams.release()
            self.close_connection = True

    def _stream(self, since: int) -> None:
        index = self.server.index
        self._headers(HTTPStatus.OK, "text/event-stream; charset=utf-8", None)
        self.wfile.write(b"retry: 2000\n\n")
        self.wfile.flush()
        while True:
            with index.changed:
                if not index.stopped and index.version <= since:
                    index.changed.wait(HEARTBEAT)
                if index.stopped:
                    return
            entries, upto = index.changes(since)
            if entries or upto != since:
                event = (b"id: " + f"{self.server.boot}-{upto}".encode() + b"\ndata: "
                         + dumps(entries) + b"\n\n")
                self.wfile.write(event)
                since = upto
            else:
                self.wfile.write(b": idle\n\n")
            self.wfile.flush()
