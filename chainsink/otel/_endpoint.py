"""OTLP/HTTP endpoints, as the OpenTelemetry environment variables spell them (no OTel import)."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

#: OTLP/HTTP's path for traces, appended to a base URL (``OTEL_EXPORTER_OTLP_ENDPOINT``).
TRACES_PATH = "v1/traces"
#: The OTLP/HTTP default base URL.
DEFAULT_BASE = "http://localhost:4318"


def url_problem(url: str) -> str | None:
    """Why ``url`` is not an OTLP/HTTP base URL, or None if it is one."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError as exc:  # "http://[::1", "http://host:99999"
        return f"{url!r} is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an http(s) URL (e.g. {DEFAULT_BASE})"
    return None


def traces_endpoint(url: str) -> str:
    """The traces endpoint of a base URL, as ``OTEL_EXPORTER_OTLP_ENDPOINT`` is read:
    ``http://host:4318`` -> ``http://host:4318/v1/traces``."""
    return url.rstrip("/") + "/" + TRACES_PATH


def env_traces_endpoint() -> str:
    """Where the OTLP/HTTP exporter sends traces when given no endpoint."""
    traces = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if traces:
        return traces
    return traces_endpoint(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or DEFAULT_BASE)
