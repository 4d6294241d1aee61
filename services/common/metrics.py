"""Prometheus metrics plumbing every service shares: its registry, the `--metrics-port` flag and
the small HTTP server that serves `GET /metrics` on that port.

Each service process has one registry holding the process collector (CPU, memory, open files) and
the platform collector (Python version), plus whatever series the service observes itself
(services/edge/metrics.py, services/scheduler/metrics.py). A registry per service rather than
prometheus_client's global one: tests run several in one interpreter, and a collector reading a
service's state must belong to that service.

The server runs on the service's own event loop (asyncio streams), not in prometheus_client's
thread: collectors read the scheduler's and edge's in-memory state, which only the loop may touch.
It binds to loopback unless told otherwise (`BERTH_METRICS_HOST`): series name apps and functions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from prometheus_client import (
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from services.common import config

log = logging.getLogger("berth.metrics")

# The classic text format, which every Prometheus reads (prometheus_client's "latest" is 1.0.0, for
# UTF-8 names Berth does not use; generate_latest's output is the same for legacy names).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# A scrape is one short GET; anything slower or bigger is not a Prometheus server.
READ_TIMEOUT = 5.0
MAX_HEAD = 8192


def registry() -> CollectorRegistry:
    """A new registry with this process's default collectors (process_*, python_info)."""
    # No `*_created` twin of every counter and histogram: it doubles the series for a timestamp
    # Prometheus does not need (process start is process_start_time_seconds). Process-wide.
    disable_created_metrics()
    reg = CollectorRegistry()
    ProcessCollector(registry=reg)
    PlatformCollector(registry=reg)
    return reg


AUTO = -1  # `--metrics-port auto`: any free port, printed at start


def parse_port(text: str) -> int:
    """A metrics port: a number (0: none), or `auto` for one the OS picks."""
    if text.strip().lower() == "auto":
        return AUTO
    try:
        value = int(text or 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number, 0 (off) or auto") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0: off, or auto)")
    return value


def add_flags(parser: argparse.ArgumentParser, service: str) -> None:
    """`--metrics-port` (env BERTH_<SERVICE>_METRICS_PORT; 0, the default, serves none; `auto`:
    a free port, printed) and `--metrics-host` (env BERTH_METRICS_HOST, default 127.0.0.1)."""
    env = f"BERTH_{service.upper()}_METRICS_PORT"
    parser.add_argument(
        "--metrics-port",
        type=parse_port,
        default=config.env_str(env, "0"),
        help=f"serve Prometheus metrics at http://HOST:PORT/metrics; 0: off; auto: a free port (env {env})",
    )
    parser.add_argument(
        "--metrics-host",
        default=config.env_str("BERTH_METRICS_HOST", "127.0.0.1"),
        help="address the metrics port listens on (env BERTH_METRICS_HOST, default 127.0.0.1)",
    )


def exposition(reg: CollectorRegistry) -> bytes:
    """The registry's series in the Prometheus text format."""
    return generate_latest(reg)


class MetricsServer:
    """`GET /metrics` on a port of its own; every other path is a 404."""

    def __init__(self, reg: CollectorRegistry) -> None:
        self._registry = reg
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._handle, host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        request_line = head[:MAX_HEAD].split(b"\r\n", 1)[0].split(b" ")
        path = request_line[1].split(b"?", 1)[0] if len(request_line) == 3 else b""
        if request_line[0] == b"GET" and path == b"/metrics":
            status, ctype, body = b"200 OK", CONTENT_TYPE.encode(), exposition(self._registry)
        else:
            status, ctype, body = b"404 Not Found", b"text/plain; charset=utf-8", b"only /metrics here\n"
        writer.write(
            b"HTTP/1.1 "
            + status
            + b"\r\ncontent-type: "
            + ctype
            + b"\r\ncontent-length: "
            + str(len(body)).encode()
            + b"\r\nconnection: close\r\n\r\n"
            + body
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()


async def serve(reg: CollectorRegistry, service: str, host: str, port: int) -> MetricsServer | None:
    """Starts the metrics port when one is configured (not 0); says where, on stdout."""
    if port == 0:
        return None
    server = MetricsServer(reg)
    try:
        await server.start(host, max(port, 0))
    except OSError as exc:
        raise SystemExit(f"{service}: cannot serve metrics on {host}:{port}: {exc.strerror}") from None
    print(f"{service} metrics on http://{host}:{server.port}/metrics", flush=True)
    return server
