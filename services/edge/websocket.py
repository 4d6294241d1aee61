"""Serving one WebSocket through a leased container slot: two message streams on one channel.

Both are flow-controlled like bodies (berth._wire.flow): the client's messages go to the container
only within its credit (meanwhile the next one is not read, so uvicorn stops reading the client's
socket and TCP holds the client back), and the app's messages are acknowledged as the client's
connection takes them, so an app pushing to a client that never reads blocks in its send(). The
relay aborts a stream whose container sends past its credit (close 1011).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from berth._wire.flow import MAX_WS_MESSAGE, cost, text_size
from berth.v1 import stream_pb2
from services.edge.failures import Failure
from services.edge.leases import Lease
from services.edge.proxy import request_head
from services.edge.relay import Relay, Stream

# Guide: "WebSocket messages can be up to 2 MiB each." (uvicorn's ws_max_size enforces it: 1009)
MAX_MESSAGE = MAX_WS_MESSAGE
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
        await stream.send(subject, stream_pb2.Frame(request=request_head(scope, b"", True)))
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
        await _container_to_client(send, stream, subject, describe)
    finally:
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            if not stream.ended:
                # The client left while a send to it or a wait for credit was under way: the
                # container must hear of it (a second word after the pump's ws_close is moot).
                await _cancel(stream, subject)
        stream.close()


async def _client_to_container(receive: Any, stream: Stream, subject: str) -> None:
    window = stream.window
    reading: asyncio.Future[Any] | None = None  # a receive() kept going while waiting for credit
    try:
        while True:
            message = await (reading if reading is not None else receive())
            reading = None
            if message["type"] == "websocket.disconnect":
                close = stream_pb2.WebSocketClose(
                    code=message.get("code", 1005), reason=message.get("reason") or ""
                )
                await stream.send(subject, stream_pb2.Frame(ws_close=close))
                # Wake the other direction: the client is gone, nothing more will be read.
                stream.frames.put_nowait(stream_pb2.Frame(ws_close=close))
                return
            text = message.get("text")
            if text is not None:
                size = text_size(text)
                payload = stream_pb2.WebSocketMessage(text=text)
            else:
                data = message.get("bytes") or b""
                size = len(data)
                payload = stream_pb2.WebSocketMessage(binary=data)
            if window.available <= 0:
                # The app is not reading: hold this message until it grants credit. One receive()
                # stays open meanwhile, so a client that leaves is noticed at once (uvicorn reads
                # no further than that one message).
                reading = asyncio.ensure_future(receive())
                credit = asyncio.ensure_future(window.wait())
                try:
                    await asyncio.wait({reading, credit}, return_when="FIRST_COMPLETED")
                finally:
                    credit.cancel()
                if reading.done() and reading.result()["type"] == "websocket.disconnect":
                    continue  # the held message is moot
                await window.wait()
            if window.closed:
                return
            window.spend(cost(size))
            await stream.send(subject, stream_pb2.Frame(ws_message=payload))
    finally:
        if reading is not None:
            reading.cancel()


async def _container_to_client(send: Any, stream: Stream, subject: str, describe: Describe) -> None:
    while True:
        # An open WebSocket may be quiet for hours; the stream ends on close from either side.
        frame = await stream.frames.get()
        kind = frame.WhichOneof("kind")
        if kind == "ws_message":
            message = frame.ws_message
            try:
                if message.WhichOneof("data") == "text":
                    text = message.text
                    size = cost(text_size(text))
                    await send({"type": "websocket.send", "text": text})
                else:
                    data = message.binary
                    size = cost(len(data))
                    await send({"type": "websocket.send", "bytes": data})
            except OSError:
                return  # the client is gone (uvicorn's ClientDisconnected)
            # uvicorn's send() waits while the client's connection takes nothing: acknowledge.
            grant = stream.inbound.consumed(size, end=False)
            if grant:
                await stream.send(subject, stream_pb2.Frame(credit=stream_pb2.Credit(bytes=grant)))
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
        await stream.send(subject, stream_pb2.Frame(cancel=stream_pb2.Cancel()))
