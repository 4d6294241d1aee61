"""Serving one HTTP request through a leased container slot.

Bodies are flow-controlled (berth._runtime.flow): the request body waits for the container's
credit once WINDOW bytes are unacknowledged, and the response body is acknowledged to the
container as the client takes it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from berth._runtime.flow import Acknowledger
from berth.v1 import bus_pb2
from services.common import tracing
from services.edge.failures import Failure
from services.edge.leases import Lease
from services.edge.relay import Relay, Stream

Scope = dict[str, Any]
Receive = Any
Send = Any

CHUNK = 256 * 1024


def request_head(scope: Scope, body: bytes, end: bool) -> bus_pb2.RequestHead:
    client = scope.get("client") or ("", 0)
    return bus_pb2.RequestHead(
        method=scope.get("method", "GET"),
        scheme=scope.get("scheme", "http"),
        path=scope["path"],
        raw_path=scope.get("raw_path") or scope["path"].encode(),
        query_string=scope.get("query_string", b""),
        headers=[bus_pb2.Header(name=k, value=v) for k, v in scope["headers"]],
        client_host=client[0] or "",
        client_port=client[1] or 0,
        http_version=scope.get("http_version", "1.1"),
        websocket=scope["type"] == "websocket",
        subprotocols=scope.get("subprotocols", []),
        traceparent=tracing.traceparent(),
        body=body,
        end=end,
    )


async def relay_http(
    scope: Scope, receive: Receive, send: Send, relay: Relay, lease: Lease, timeout: float
) -> Failure | None:
    """Relays one request; returns the failure to answer with if the container's answer was an
    error rather than a response (nothing has been sent to the client then)."""
    stream = relay.open()
    pump: asyncio.Task[None] | None = None
    try:
        first = await receive()
        if first["type"] == "http.disconnect":
            return None
        body = first.get("body", b"")
        more = first.get("more_body", False)
        head, rest = body[:CHUNK], body[CHUNK:]
        split = bool(rest)
        await stream.send(
            lease.data_subject, bus_pb2.Frame(request=request_head(scope, head, not (more or split)))
        )
        stream.window.spend(len(head))
        pump = asyncio.create_task(_pump_body(receive, stream, lease.data_subject, rest, more, timeout))
        return await _answer(send, stream, timeout, lease.data_subject)
    finally:
        if pump is not None:
            pump.cancel()
        stream.close()


async def _pump_body(
    receive: Receive, stream: Stream, subject: str, rest: bytes, more: bool, timeout: float
) -> None:
    """Forwards the rest of the body (`rest`: what did not fit in the head, then whatever the
    client still sends), then tells the container if the client goes away."""
    try:
        if rest:
            await _send_body(stream, subject, rest, more, timeout)
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                await stream.send(subject, bus_pb2.Frame(cancel=bus_pb2.Cancel()))
                return
            if more:
                more = message.get("more_body", False)
                await _send_body(stream, subject, message.get("body", b""), more, timeout)
    except TimeoutError:
        # The app took none of the body for a whole timeout: the request is stuck, give up.
        with contextlib.suppress(Exception):
            await stream.send(subject, bus_pb2.Frame(cancel=bus_pb2.Cancel()))


async def _send_body(stream: Stream, subject: str, data: bytes, more: bool, timeout: float) -> None:
    """Body bytes as Chunk frames, each small enough for one NATS message, never more than the
    flow-control window ahead of what the container has acknowledged."""
    pieces = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
    for index, piece in enumerate(pieces):
        if stream.window.available <= 0:
            async with asyncio.timeout(timeout):
                await stream.window.wait()
        if stream.window.closed:
            return
        end = not more and index == len(pieces) - 1
        stream.window.spend(len(piece))
        await stream.send(subject, bus_pb2.Frame(body=bus_pb2.Chunk(data=piece, end=end)))


async def _answer(send: Send, stream: Stream, timeout: float, subject: str) -> Failure | None:
    try:
        frame = await stream.next(timeout)
    except TimeoutError:
        with contextlib.suppress(Exception):
            await stream.send(subject, bus_pb2.Frame(cancel=bus_pb2.Cancel()))
        return Failure(504, f"the function did not answer within {timeout:.0f}s (its timeout)")
    kind = frame.WhichOneof("kind")
    if kind == "error":
        return Failure(frame.error.status or 502, frame.error.message)
    if kind != "response":
        return Failure(502, f"the container answered with an unexpected {kind} frame")
    head = frame.response
    await send(
        {
            "type": "http.response.start",
            "status": head.status,
            "headers": [(h.name, h.value) for h in head.headers],
        }
    )
    if head.end:
        await send({"type": "http.response.body", "body": head.body})
        return None
    ack = Acknowledger()
    if head.body:
        await send({"type": "http.response.body", "body": head.body, "more_body": True})
        await _acknowledge(stream, subject, ack, len(head.body), end=False)
    while True:
        try:
            frame = await stream.next(timeout)
        except TimeoutError:
            with contextlib.suppress(Exception):
                await stream.send(subject, bus_pb2.Frame(cancel=bus_pb2.Cancel()))
            raise RuntimeError(f"response stalled for {timeout:.0f}s; connection aborted") from None
        kind = frame.WhichOneof("kind")
        if kind == "response_body":
            chunk = frame.response_body
            await send({"type": "http.response.body", "body": chunk.data, "more_body": not chunk.end})
            if chunk.end:
                return None
            # uvicorn's send() returns once the client's connection can take more: acknowledge.
            await _acknowledge(stream, subject, ack, len(chunk.data), end=False)
        elif kind == "error":
            # Headers are out: the only honest signal left is to abort the connection.
            raise RuntimeError(f"response failed midway: {frame.error.message}")


async def _acknowledge(stream: Stream, subject: str, ack: Acknowledger, size: int, *, end: bool) -> None:
    """Grants the container response-body credit once a batch of it reached the client."""
    grant = ack.consumed(size, end=end)
    if grant:
        await stream.send(subject, bus_pb2.Frame(credit=bus_pb2.Credit(bytes=grant)))
