"""The OpenTelemetry candidates: chainsink's OtelCallbackHandler and OpenInference's LangChain
tracer, each on its own SDK TracerProvider with a BatchSpanProcessor into an in-memory exporter
(so the cost is building and ending spans, as a service with a collector pays it, and no
network). Both are optional: a missing package skips its candidates with a note.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

#: (name, group, title, opener) of each candidate that can run here.
Spec = tuple[str, str, str, Callable[[Path], contextlib.AbstractContextManager[list[Any]]]]

GROUP = "opentelemetry"
#: The OpenTelemetry peer chainsink's JSONL must cost less than.
PEER = "oi_langchain"


@contextlib.contextmanager
def _provider() -> Iterator[Any]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    try:
        yield provider
        provider.force_flush()  # inside the timed block, as the file candidates' close is
        if not exporter.get_finished_spans():
            raise RuntimeError("no span reached the exporter")
    finally:
        provider.shutdown()


def _chainsink(**options: Any) -> Callable[[Path], contextlib.AbstractContextManager[list[Any]]]:
    @contextlib.contextmanager
    def opener(_: Path) -> Iterator[list[Any]]:
        from chainsink.otel import OtelCallbackHandler

        with _provider() as provider:
            handler = OtelCallbackHandler(provider, **options)
            yield [handler]
            handler.close()

    return opener


@contextlib.contextmanager
def _openinference(_: Path) -> Iterator[list[Any]]:
    from openinference.instrumentation import OITracer, TraceConfig
    from openinference.instrumentation.langchain import __version__
    from openinference.instrumentation.langchain._tracer import OpenInferenceTracer

    with _provider() as provider:
        # what LangChainInstrumentor().instrument(tracer_provider=...) attaches to every
        # callback manager, passed per request instead of patched in process-wide
        tracer = OITracer(provider.get_tracer("openinference.instrumentation.langchain",
                                              __version__), config=TraceConfig())
        yield [OpenInferenceTracer(tracer, False)]


def _missing(module: str) -> str | None:
    import importlib

    try:
        importlib.import_module(module)
    except ImportError as exc:
        return str(exc)
    return None


def otel_candidates() -> tuple[list[Spec], list[str]]:
    """The candidates whose packages are installed, and a note for each skipped one."""
    specs: list[Spec] = []
    notes: list[str] = []
    sdk = _missing("opentelemetry.sdk.trace")
    if sdk:
        return [], [f"cs_otel, cs_otel_content, {PEER} skipped: {sdk} (pip install "
                    "'chainsink[otel]' openinference-instrumentation-langchain)"]
    specs += [
        ("cs_otel", GROUP, "OtelCallbackHandler -> BatchSpanProcessor -> in-memory exporter "
         "(defaults: GenAI attributes, no content)", _chainsink()),
        ("cs_otel_content", GROUP, "OtelCallbackHandler(capture_content=True, GenAI + "
         "OpenInference): what OpenInference records", _chainsink(
             capture_content=True, conventions=("gen_ai", "openinference"))),
    ]
    oi = _missing("openinference.instrumentation.langchain")
    if oi:
        notes.append(f"{PEER} skipped: {oi} (pip install openinference-instrumentation-langchain)")
    else:
        specs.append((PEER, GROUP, "OpenInference's LangChain tracer (OpenInferenceTracer, as "
                      "LangChainInstrumentor attaches it) -> the same exporter", _openinference))
    return specs, notes
