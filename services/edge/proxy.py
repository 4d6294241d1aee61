"""Serving one HTTP request through a leased container slot."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from berth.v1 import bus_pb2
from services.common import tracing
from services.edge.leases import Lease
from services.edge.relay import Relay, Stream

Scope = dict[str, Any]
Receive = Any
Send = Any

CHUNK = 256 * 1024


async def plain(send: Send, status: int, text: str, *, kind: str = "http.response") -> None:
    """A short text/plain answer. `kind="websocket.http.response"` sends it as the denial response
    of a WebSocket handshake."""
    body = (text.rstrip("\n") + "\n").encode()
    await send(
        {
            "type": f"{kind}.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": f"{kind}.body", "body": body})


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
) -> None:
    stream = relay.open()
    pump: asyncio.Task[None] | None = None
    try:
        first = await receive()
        if first["type"] == "http.disconnect":
            return
        body = first.get("body", b"")
        more = first.get("more_body", False)
        head, rest = body[:CHUNK], body[CHUNK:]
        split = bool(rest)
        await stream.send(
            lease.data_subject, bus_pb2.Frame(request=request_head(scope, head, not (more or split)))
        )
        if split:
            await _send_body(stream, lease.data_subject, rest, more)
        pump = asyncio.create_task(_pump_body(receive, stream, lease.data_subject, more))
        await _answer(send, stream, timeout, lease.data_subject)
    finally:
        if pump is not None:
            pump.cancel()
        stream.close()


async def _pump_body(receive: Receive, stream: Stream, subject: str, more: bool) -> None:
    """Forwards the rest of the body, then tells the container if the client goes away."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            await stream.send(subject, bus_pb2.Frame(cancel=bus_pb2.Cancel()))
            return
        if more:
            more = message.get("more_body", False)
            await _send_body(stream, subject, message.get("body", b""), more)


async def _send_body(stream: Stream, subject: str, data: bytes, more: bool) -> None:
    """Body bytes as Chunk frames, each small enough for one NATS message."""
    pieces = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
    for index, piece in enumerate(pieces):
        end = not more and index == len(pieces) - 1
        await stream.send(subject, bus_pb2.Frame(body=bus_pb2.Chunk(data=piece, end=end)))


async def _answer(send: Send, stream: Stream, timeout: float, subject: str) -> None:
    try:
        frame = await stream.next(timeout)
    except TimeoutError:
        with contextlib.suppress(Exception):
            await stream.send(subject, bus_pb2.Frame(cancel=bus_pb2.Cancel()))
        await plain(send, 504, f"the function did not answer within {timeout:.0f}s (its timeout)")
        return
    kind = frame.WhichOneof("kind")
    if kind == "error":
        await plain(send, frame.error.status or 502, frame.error.message)
        return
    if kind != "response":
        await plain(send, 502, f"the container answered with an unexpected {kind} frame")
        return
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
        return
    if head.body:
        await send({"type": "http.response.body", "body": head.body, "more_body": True})
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
                return
        elif kind == "error":
            # Headers are out: the only honest signal left is to abort the connection.
            raise RuntimeError(f"response failed midway: {frame.error.message}")
