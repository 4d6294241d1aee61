"""Access lines: one per request the edge answers for an app, into that app's logs.

Each request gets an id here, before anything else runs: the container sees it in the
`x-berth-request-id` request header (a client's own header of that name is dropped, so the
container can trust it), a failure's details are filed under it (failures.py), and the access
line carries it with the method, path, status the client got, duration, function, parameter set
and container. Once the response has gone out the line joins its app's batch (log_batches.py),
which a flusher task publishes as one message every ~100 ms or 200 lines: a warm request pays no
encode and no bus message of its own. Lines still waiting are published on `close` (the edge's
stop). Requests that reach no app (unknown host, the edge's own /healthz) have no app log to go
to and get no line.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client

from berth.v1 import control_pb2, state_pb2
from services.common import loglines, logs, subjects
from services.edge.log_batches import Added, Batch, LogBatcher

log = logging.getLogger("berth.edge")

REQUEST_ID_HEADER = b"x-berth-request-id"
# How long the edge's stop waits for the last batches to reach the bus.
CLOSE_TIMEOUT = 5
_SCOPE_KEY = "berth.access"
_current: contextvars.ContextVar[str] = contextvars.ContextVar("berth_request_id", default="")

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def current_request_id() -> str:
    """The id of the request this task serves ("" outside one)."""
    return _current.get()


def new_request_id() -> str:
    """64 random bits in hex: unguessable, and short enough to quote in a support request."""
    return secrets.token_hex(8)


@dataclass
class Entry:
    """What the edge learns about one request as it goes; `status` 0 until a response starts."""

    request_id: str
    started: float
    route: state_pb2.Route | None = None
    params: str = ""
    container_id: str = ""
    status: int = 0


def routed(scope: dict[str, Any], route: state_pb2.Route) -> None:
    """The request is for `route`'s app: it gets an access line."""
    entry = scope.get(_SCOPE_KEY)
    if entry is not None:
        entry.route = route


def leased(scope: dict[str, Any], params: str, container_id: str) -> None:
    """The request goes to `container_id`, of the pool for parameter set `params`."""
    entry = scope.get(_SCOPE_KEY)
    if entry is not None:
        entry.params = params
        entry.container_id = container_id


def with_request_id(headers: list[tuple[bytes, bytes]], rid: str) -> list[tuple[bytes, bytes]]:
    """`headers` without any client-sent request id, plus the edge's."""
    kept = [h for h in headers if h[0].lower() != REQUEST_ID_HEADER]
    kept.append((REQUEST_ID_HEADER, rid.encode()))
    return kept


def line(entry: Entry, scope: dict[str, Any], edge_id: str, now: float) -> control_pb2.LogLine:
    """The access line for a finished request (`now` from time.perf_counter)."""
    route = entry.route
    assert route is not None
    websocket = scope["type"] == "websocket"
    return control_pb2.LogLine(
        time_ms=int(time.time() * 1000),
        app=route.app,
        function=route.function,
        container_id=entry.container_id or edge_id,
        stream="access",
        params=entry.params,
        request_id=entry.request_id,
        access=control_pb2.AccessEntry(
            method="WS" if websocket else scope.get("method", ""),
            path=scope.get("path", ""),
            status=entry.status,
            duration_us=max(0, int((now - entry.started) * 1_000_000)),
        ),
    )


class AccessLog:
    """Wraps the edge's ASGI app: gives each request its id and batches its access line."""

    def __init__(
        self,
        nc: Client,
        edge_id: str,
        *,
        batcher: LogBatcher | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._nc = nc
        self._edge_id = edge_id
        self._batcher = batcher or LogBatcher()
        self._clock = clock
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False
        self._drops_told = False
        self._failures_told = False

    async def serve(self, app: App, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        entry = Entry(new_request_id(), time.perf_counter())
        scope[_SCOPE_KEY] = entry
        scope["headers"] = with_request_id(scope["headers"], entry.request_id)
        token = _current.set(entry.request_id)

        async def watched(message: dict[str, Any]) -> None:
            if not entry.status:
                kind = message["type"]
                if kind in ("http.response.start", "websocket.http.response.start"):
                    entry.status = message["status"]
                elif kind == "websocket.accept":
                    entry.status = 101
            await send(message)

        try:
            await app(scope, receive, watched)
        finally:
            _current.reset(token)
            if entry.route is not None:
                self._add(entry.route.app, line(entry, scope, self._edge_id, time.perf_counter()))

    def _add(self, app_key: str, access_line: control_pb2.LogLine) -> None:
        added = self._batcher.add(subjects.app_logs(app_key), access_line.SerializeToString(), self._clock())
        if added is Added.DROPPED:
            if not self._drops_told:
                self._drops_told = True
                logs.event(
                    log,
                    "access lines dropped: the bus is not taking them",
                    logging.WARNING,
                    waiting_bytes=self._batcher.pending_bytes,
                )
            return
        if (self._flusher is None or self._flusher.done()) and not self._closing:
            self._flusher = asyncio.create_task(self._flush_loop(), name="berth-access-lines")
        if added is not Added.QUEUED:
            self._wake.set()  # a new deadline, or a full batch to send now

    async def _flush_loop(self) -> None:
        while not self._closing:
            self._wake.clear()
            deadline = self._batcher.deadline()
            if deadline is None:
                await self._wake.wait()
            elif deadline > (now := self._clock()):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), deadline - now)
            for batch in self._batcher.take(self._clock(), everything=self._closing):
                await self._publish(batch)
        for batch in self._batcher.take(self._clock(), everything=True):
            await self._publish(batch)

    async def _publish(self, batch: Batch) -> None:
        try:
            await self._nc.publish(batch.subject, batch.encode(), headers=loglines.BATCH_HEADERS)
        except Exception as exc:  # noqa: BLE001 - the clients have their answers: nothing to fail
            if not self._failures_told:
                self._failures_told = True
                logs.event(log, "access lines lost: publishing failed", logging.WARNING, error=exc)

    @property
    def dropped(self) -> int:
        """Lines dropped since the start because the bus was not taking them."""
        return self._batcher.dropped

    async def close(self) -> None:
        """Publishes every line still waiting, then flushes the connection (the edge's stop)."""
        self._closing = True
        self._wake.set()
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            try:
                await asyncio.wait_for(flusher, CLOSE_TIMEOUT)
            except TimeoutError:
                logs.event(log, "access lines lost at stop: the bus took too long", logging.WARNING)
        for batch in self._batcher.take(self._clock(), everything=True):
            await self._publish(batch)
        if not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await self._nc.flush(timeout=CLOSE_TIMEOUT)
