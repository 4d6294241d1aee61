"""A collector that is down: each service says so once, with the fix; the runner says nothing.

Each case runs in a fresh interpreter (tracing is set up once per process) that exports two
batches over real HTTP to a port nobody listens on, and its stderr is what a log would hold.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import logging, sys
    logging.basicConfig(level=logging.WARNING)
    from berth import _tracing
    tracer = _tracing.setup("edge", report_failures=sys.argv[1] == "report")
    provider = _tracing.trace.get_tracer_provider()
    for batch in range(2):
        with tracer.start_as_current_span(f"batch-{batch}"):
            pass
        provider.force_flush()
    _tracing.shutdown()
    print("done", file=sys.stderr)
    """
)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(mode: str) -> str:
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{closed_port()}",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_a_service_logs_one_failure_with_the_fix() -> None:
    err = run("report")
    lines = [line for line in err.splitlines() if line.strip() and line != "done"]
    assert len(lines) == 1, err
    assert "berth-edge: cannot export traces to http://127.0.0.1:" in lines[0]
    assert "/v1/traces" in lines[0] and "OTLP over HTTP" in lines[0] and "4318" in lines[0]
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in lines[0]


def test_the_runner_prints_nothing_about_exports() -> None:
    assert run("quiet").strip() == "done"
