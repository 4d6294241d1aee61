"""Tracing for the services. The implementation lives in `berth._tracing`, because the in-container
runner needs the same set-up and propagation and cannot import `services`."""

from berth._tracing import exporting, extract, from_traceparent, inject, setup, shutdown, traceparent

__all__ = ["exporting", "extract", "from_traceparent", "inject", "setup", "shutdown", "traceparent"]
