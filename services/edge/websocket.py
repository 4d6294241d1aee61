"""Serving one WebSocket through a leased container slot: two message streams on one channel."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from berth.v1 import bus_pb2
from services.edge.failures import Failure
from services.edge.leases import Lease
from services.edge.proxy import request_head
from services.edge.relay import Relay, Stream

# Guide: "WebSocket messages can be up to 2 MiB each."
MAX_MESSAGE = 2 * 1024 * 1024
ACCEPT_TIMEOUT = 60.0


# What the client may read of a failure (services/edge/failures.py): a close reason is public.
Describe = Callable[[Failure], Awaitable[str]]


async def relay_websocket(
    scope: dict[str, Any], receive: Any, send: Any, relay: Relay, lease: Lease, *, describe: Describe
) -> None:
    stream = relay.open()
    subject = lease.data_subject
    pump: asyncio.Task[None] | None = None
    try:
        connect = await receive()
        if connect["type"] != "websocket.connect":
            return
        await stream.send(subject, bus_pb2.Frame(request=request_head(scope, b"", True)))
        try:
            frame = await stream.next(ACCEPT_TIMEOUT)
        except TimeoutError:
            await _cancel(stream, subject)
            await send({"type": "websocket.close", "code": 1011, "reason": "the app did not accept in time"})
            return
        kind = frame.WhichOneof("kind")
        if kind != "ws_accept":
            # Closing before accepting answers the upgrade with 403, as ASGI servers do.
            await send({"type": "websocket.close", "code": 1000})
            return
        accept = frame.ws_accept
        await send(
            {
                "type": "websocket.accept",
                "subprotocol": accept.subprotocol or None,
                "headers": [(h.name, h.value) for h in accept.headers],
            }
        )
        pump = asyncio.create_task(_client_to_container(receive, stream, subject))
        await _container_to_client(send, stream, describe)
    finally:
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        stream.close()


async def _client_to_container(receive: Any, stream: Stream, subject: str) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            close = bus_pb2.WebSocketClose(code=message.get("code", 1005), reason=message.get("reason") or "")
            await stream.send(subject, bus_pb2.Frame(ws_close=close))
            # Wake the other direction: the client is gone, nothing more will be read.
            stream.frames.put_nowait(bus_pb2.Frame(ws_close=close))
            return
        if message.get("text") is not None:
            payload = bus_pb2.WebSocketMessage(text=message["text"])
        else:
            payload = bus_pb2.WebSocketMessage(binary=message.get("bytes") or b"")
        await stream.send(subject, bus_pb2.Frame(ws_message=payload))


async def _container_to_client(send: Any, stream: Stream, describe: Describe) -> None:
    while True:
        # An open WebSocket may be quiet for hours; the stream ends on close from either side.
        frame = await stream.frames.get()
        kind = frame.WhichOneof("kind")
        if kind == "ws_message":
            message = frame.ws_message
            if message.WhichOneof("data") == "text":
                await send({"type": "websocket.send", "text": message.text})
            else:
                await send({"type": "websocket.send", "bytes": message.binary})
        elif kind == "ws_close":
            with contextlib.suppress(Exception):
                await send(
                    {
                        "type": "websocket.close",
                        "code": frame.ws_close.code or 1000,
                        "reason": frame.ws_close.reason,
                    }
                )
            return
        elif kind == "error":
            reason = await describe(Failure(frame.error.status or 502, frame.error.message))
            # A close reason is at most 123 bytes (RFC 6455 5.5.1).
            reason = reason.encode()[:120].decode(errors="ignore")
            with contextlib.suppress(Exception):
                await send({"type": "websocket.close", "code": 1011, "reason": reason})
            return


async def _cancel(stream: Stream, subject: str) -> None:
    with contextlib.suppress(Exception):
        await stream.send(subject, bus_pb2.Frame(cancel=bus_pb2.Cancel()))
