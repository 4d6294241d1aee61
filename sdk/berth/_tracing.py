"""OpenTelemetry set-up and W3C trace-context propagation, for every service and the in-container runner.

Spans are exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or the traces-specific
variable) is set; otherwise tracing costs a no-op span per operation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_configured = False


def exporting() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def setup(service: str) -> trace.Tracer:
    """Installs the tracer provider for this process (once) and returns the service's tracer."""
    global _configured
    if not _configured:
        _configured = True
        if exporting():
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider = TracerProvider(resource=Resource.create({"service.name": f"berth-{service}"}))
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            trace.set_tracer_provider(provider)
    return trace.get_tracer(f"berth.{service}")


def shutdown() -> None:
    """Flushes spans still buffered; call before the process exits."""
    provider = trace.get_tracer_provider()
    flush = getattr(provider, "shutdown", None)
    if flush is not None:
        flush()


def inject(carrier: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Writes the current span's `traceparent` into a header map (NATS headers, gRPC metadata)."""
    propagate.inject(carrier)
    return carrier


def extract(carrier: Mapping[str, str] | None) -> context.Context:
    """The trace context carried by a header map, to parent the receiver's span on."""
    return propagate.extract(dict(carrier or {}))


def traceparent() -> str:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent", "")


def from_traceparent(value: str) -> context.Context:
    return propagate.extract({"traceparent": value} if value else {})
