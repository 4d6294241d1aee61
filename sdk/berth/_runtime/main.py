"""Entry point of the in-container runner: wires the socket, the user's code and the server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from berth._wire.frames import CALLER_STREAM_BASE, FrameWriter, WireError, read_frame
from berth.v1 import bus_pb2, stream_pb2

from . import call_client, hooks, loader
from .lifespan import Lifespan, LifespanFailed
from .proxy import PortTimeout
from .server import Server

DEFAULT_GRACE_SECONDS = 10.0
LIFESPAN_SHUTDOWN_SECONDS = 10.0
_USER_FACING = (loader.LoadError, LifespanFailed, PortTimeout)


def _read_boot(path: str) -> bus_pb2.BootOrder:
    order = bus_pb2.BootOrder()
    with open(path, "rb") as f:
        order.ParseFromString(f.read())
    return order


def _tracing_wrap() -> Callable[[stream_pb2.RequestHead, Any], Any] | None:
    """A per-request span factory when OTLP export is configured; None (and no import) otherwise."""
    if not (
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        return None
    from berth import _tracing

    # Never report export failures here: this process's stderr is the user's log.
    tracer = _tracing.setup("runner", report_failures=False)

    @contextlib.contextmanager
    def span(head: stream_pb2.RequestHead, scope: Any) -> Iterator[None]:
        with tracer.start_as_current_span(
            "runner.handle",
            context=_tracing.from_traceparent(head.traceparent),
            attributes={"http.method": head.method, "url.path": head.path},
        ):
            # Framework middleware (OpenTelemetry's ASGI/FastAPI instrumentation) parents its span
            # on the request's `traceparent` header, not on the current context: give it ours.
            scope["headers"] = _tracing.with_trace_headers(scope["headers"])
            yield

    return span


def _shutdown_tracing() -> None:
    if "berth._tracing" in sys.modules:
        sys.modules["berth._tracing"].shutdown()


class Runner:
    """One container's life: start-up, serving frames, shutdown."""

    def __init__(self, order: bus_pb2.BootOrder, socket_path: str, code_dir: str) -> None:
        self.order = order
        self.socket_path = socket_path
        self.code_dir = code_dir
        self.stop = asyncio.Event()
        self.grace = DEFAULT_GRACE_SECONDS

    def request_stop(self, grace: float | None = None) -> None:
        if grace is not None and grace > 0:
            self.grace = grace
        self.stop.set()

    async def _read_loop(self, reader: asyncio.StreamReader, server: Server) -> None:
        try:
            while (frame := await read_frame(reader)) is not None:
                if frame.stream >= CALLER_STREAM_BASE:
                    call_client.dispatch(frame)  # the answer to a call this container made
                elif frame.stream != 0:
                    server.dispatch(frame)
                elif frame.WhichOneof("kind") == "shutdown":
                    self.request_stop(frame.shutdown.grace_seconds)
        except (WireError, ConnectionError) as exc:
            print(f"berth: agent connection failed: {exc}", file=sys.stderr)
        call_client.close()
        self.request_stop()

    async def run(self) -> int:
        reader, writer = await asyncio.open_unix_connection(self.socket_path)
        frames = FrameWriter(writer)
        try:
            loaded = await loader.load(self.order, self.code_dir)
            lifespan = Lifespan(loaded.app)
            await lifespan.startup()
        except BaseException as exc:  # anything failing start-up is reported to the agent
            traceback.print_exception(exc, file=sys.stderr)
            message = str(exc) if isinstance(exc, _USER_FACING) else loader.describe(exc, self.code_dir)
            frames.send(stream_pb2.Frame(stream=0, failed=stream_pb2.RunnerFailed(message=message)))
            await frames.close()
            return 1
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        server = Server(loaded.app, frames, state=lifespan.state, wrap=_tracing_wrap(), call_app=loaded.call)
        call_client.install(frames, loop, self.order.pool.app)
        frames.send(stream_pb2.Frame(stream=0, ready=stream_pb2.RunnerReady(pid=os.getpid())))
        read_task = asyncio.create_task(self._read_loop(reader, server))
        await self.stop.wait()
        await server.drain(self.grace)
        await lifespan.shutdown(LIFESPAN_SHUTDOWN_SECONDS)
        if loaded.instance is not None:
            try:
                await hooks.run_hooks(loaded.instance, loaded.exit_methods)
            except Exception as exc:
                print(f"berth: @exit hook failed: {type(exc).__name__}: {exc}", file=sys.stderr)
                traceback.print_exception(exc, file=sys.stderr)
        sys.stdout.flush()
        _shutdown_tracing()
        read_task.cancel()
        await frames.close()
        return 0


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when the image has it (fastapi[standard] brings it): it roughly halves the event
    loop's share of each request. The standard loop otherwise; user code sees no difference."""
    if os.environ.get("BERTH_RUNNER_LOOP", "auto") == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main() -> int:
    try:
        boot, socket_path, code_dir = (
            os.environ["BERTH_BOOT"],
            os.environ["BERTH_SOCKET"],
            os.environ["BERTH_CODE_DIR"],
        )
    except KeyError as exc:
        print(f"berth runner: environment variable {exc.args[0]} is not set", file=sys.stderr)
        return 2
    order = _read_boot(boot)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        code = runner.run(Runner(order, socket_path, code_dir).run())
    sys.stdout.flush()
    sys.stderr.flush()
    return code
