"""OpenTelemetry set-up and W3C trace-context propagation, for every service and the in-container runner.

Spans are exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or the traces-specific
variable) is set; otherwise tracing costs a no-op span per operation.

A collector that is down or wrong must not flood anything: the exporter's own retry warnings and
the batch processor's tracebacks are silenced, and a failed export is reported once per process,
with the fix, on the `berth.tracing` logger. The in-container runner reports nothing at all: its
stderr is the user's log, and the agent beside it already says the same once.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, MutableMapping, Sequence

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

_configured = False
log = logging.getLogger("berth.tracing")
# Loggers that would repeat every failed export (retries, tracebacks) into the process's stderr.
_NOISY = (
    "opentelemetry.exporter.otlp",
    "opentelemetry.sdk.trace.export",
    "opentelemetry.sdk._shared_internal",
)


def endpoint() -> str:
    """Where spans go: the traces-specific variable's URL, else OTEL_EXPORTER_OTLP_ENDPOINT's /v1/traces."""
    specific = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if specific:
        return specific
    return os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").rstrip("/") + "/v1/traces"


def failure_message(service: str, detail: str) -> str:
    return (
        f"berth-{service}: cannot export traces to {endpoint()} ({detail}); spans are dropped. "
        "Berth exports OTLP over HTTP (protobuf), a collector's port 4318, not gRPC's 4317: point "
        "OTEL_EXPORTER_OTLP_ENDPOINT (in the environment of `berth up`, or of each service) at "
        "one, e.g. http://127.0.0.1:4318, or unset it to turn tracing off. Said once per process."
    )


class QuietExporter(SpanExporter):
    """Delegates to the OTLP exporter; its first failure is logged once (unless `report` is off),
    later ones and every exception are swallowed: tracing never fails or floods its host."""

    def __init__(self, inner: SpanExporter, service: str, *, report: bool) -> None:
        self._inner = inner
        self._service = service
        self._report = report
        self._lock = threading.Lock()
        self.failures = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self._inner.export(spans)
            detail = "the collector refused or did not answer"
        except Exception as exc:  # noqa: BLE001 - an exporter bug must not reach the host
            result, detail = SpanExportResult.FAILURE, f"{type(exc).__name__}: {exc}"
        if result is not SpanExportResult.SUCCESS:
            with self._lock:
                self.failures += 1
                first = self.failures == 1
            if first and self._report:
                log.warning(failure_message(self._service, detail))
        return result

    def shutdown(self) -> None:
        try:
            self._inner.shutdown()
        except Exception:  # noqa: BLE001, S110 - shutting down; nothing left to tell
            pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        try:
            return self._inner.force_flush(timeout_millis)
        except Exception:  # noqa: BLE001
            return False


def _silence_exporter_logs() -> None:
    for name in _NOISY:
        logger = logging.getLogger(name)
        logger.addHandler(logging.NullHandler())  # also keeps logging.lastResort from printing
        logger.propagate = False


def exporting() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def setup(service: str, *, report_failures: bool = True) -> trace.Tracer:
    """Installs the tracer provider for this process (once) and returns the service's tracer.
    `report_failures=False` (the runner) keeps even the one failed-export warning out of stderr."""
    global _configured
    if not _configured:
        _configured = True
        if exporting():
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            _silence_exporter_logs()
            provider = TracerProvider(resource=Resource.create({"service.name": f"berth-{service}"}))
            exporter = QuietExporter(OTLPSpanExporter(), service, report=report_failures)
            provider.add_span_processor(BatchSpanProcessor(exporter))
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
    """The current span's W3C `traceparent` header value ("" without one)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent", "")


def with_trace_headers(headers: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """ASGI `headers` with the current span's trace context in place of any the client sent."""
    carrier = inject({})
    names = {name.encode() for name in carrier}
    kept = [(name, value) for name, value in headers if name.lower() not in names]
    kept.extend((name.encode(), value.encode()) for name, value in carrier.items())
    return kept


def from_traceparent(value: str) -> context.Context:
    return propagate.extract({"traceparent": value} if value else {})
