"""Serving one HTTP request through a leased container slot.

Bodies are flow-controlled (berth._wire.flow): the request body waits for the container's
credit once a WINDOW is unacknowledged, and the response body is acknowledged to the container as
the client takes it (the relay checks that the container keeps within that credit).

While the request body waits for credit, the client is still read, up to HOLD bytes ahead, so a
client that goes away then is noticed at once and the container's request is cancelled. A client
that sends no body bytes for the relay's `body_timeout` while more are due gets a 408, and the
container's request is cancelled. Small requests keep their one-frame-each-way path: a request
whose head says it has no body is not timed at all.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from berth._wire.flow import cost
from berth.v1 import stream_pb2
from services.common import tracing
from services.edge.failures import Failure
from services.edge.leases import Lease
from services.edge.relay import UNREACHABLE, Relay, Stream

Scope = dict[str, Any]
Receive = Any
Send = Any

CHUNK = 256 * 1024
# Client body read ahead while waiting for the container's credit (on top of uvicorn's 64 KiB).
HOLD = CHUNK
# What the agent answers for a container it does not run (services/agent/main.py, on_data).
CONTAINER_GONE = "container is gone"
# The marker the body pump leaves for the answer when the client leaves (nginx's "client closed").
CLIENT_GONE = 499
GONE = "the client went away"


@dataclass(frozen=True)
class Unreached(Failure):
    """The request reached no app code: nobody listens on the container's subject (its agent is
    gone) or the agent no longer runs the container. `first` is the request's only ASGI message when
    the whole request went in one frame, so it can be sent again on another container."""

    first: dict[str, Any] | None = None


def replaying(first: dict[str, Any], receive: Receive) -> Receive:
    """`receive` as it was before `first` was taken from it."""
    pending = [first]

    async def again() -> dict[str, Any]:
        return pending.pop() if pending else await receive()

    return again


def request_head(
    scope: Scope, body: bytes, end: bool, call: stream_pb2.CallHead | None = None
) -> stream_pb2.RequestHead:
    client = scope.get("client") or ("", 0)
    return stream_pb2.RequestHead(
        call=call,
        method=scope.get("method", "GET"),
        scheme=scope.get("scheme", "http"),
        path=scope["path"],
        raw_path=scope.get("raw_path") or scope["path"].encode(),
        query_string=scope.get("query_string", b""),
        headers=[stream_pb2.Header(name=k, value=v) for k, v in scope["headers"]],
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
    scope: Scope,
    receive: Receive,
    send: Send,
    relay: Relay,
    lease: Lease,
    timeout: float,
    call: stream_pb2.CallHead | None = None,
) -> Failure | None:
    """Relays one request; returns the failure to answer with if the container's answer was an
    error rather than a response (nothing has been sent to the client then). `call`: the request
    is a function call (services/edge/call_api.py), run by the container's call protocol."""
    stream = relay.open()
    pump: asyncio.Task[None] | None = None
    try:
        if _has_body(scope["headers"]):
            try:
                async with asyncio.timeout(relay.body_timeout):
                    first = await receive()
            except TimeoutError:
                return Failure(408, stalled(relay.body_timeout))
        else:
            first = await receive()  # complete already: no timer on the warm path
        if first["type"] == "http.disconnect":
            return None
        body = first.get("body", b"")
        more = first.get("more_body", False)
        head, rest = body[:CHUNK], body[CHUNK:]
        split = bool(rest)
        await stream.send(
            lease.data_subject, stream_pb2.Frame(request=request_head(scope, head, not (more or split), call))
        )
        stream.window.spend(cost(len(head)))
        pump = asyncio.create_task(
            _pump_body(receive, stream, lease.data_subject, rest, more, timeout, relay.body_timeout)
        )
        failed = await _answer(send, stream, timeout, lease.data_subject)
        if failed is not None and failed.status == CLIENT_GONE:
            return None  # nobody to answer
        if failed is not None and failed.status == 503 and failed.message in (UNREACHABLE, CONTAINER_GONE):
            return Unreached(failed.status, failed.message, first=None if (more or split) else first)
        return failed
    finally:
        if pump is not None:
            pump.cancel()
        stream.close()


def _has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the request head announces a body (uvicorn lower-cases header names)."""
    for name, value in headers:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False


def stalled(body_timeout: float) -> str:
    return f"the request body stalled: no bytes arrived for {body_timeout:g}s"


async def _pump_body(
    receive: Receive,
    stream: Stream,
    subject: str,
    held: bytes,
    more: bool,
    timeout: float,
    body_timeout: float,
) -> None:
    """Forwards the rest of the body (`held`: what did not fit in the head, then whatever the
    client still sends) as Chunk frames, each small enough for one NATS message, never more than
    the window ahead of what the container acknowledged; then tells the container if the client
    goes away. Waiting for credit, it keeps a receive() going (reading at most HOLD ahead), so a
    client that leaves meanwhile is noticed at once."""
    window = stream.window
    loop = asyncio.get_running_loop()
    reading: asyncio.Future[Any] | None = None  # a receive() kept across turns of the loop
    credit: asyncio.Future[None] | None = None  # the wait for credit, kept likewise
    credit_deadline = 0.0
    finished = False  # the last chunk went out
    try:
        while True:
            while not finished and (held or not more) and window.available > 0:
                piece, held = held[:CHUNK], held[CHUNK:]
                finished = not more and not held
                window.spend(cost(len(piece)))
                await stream.send(subject, stream_pb2.Frame(body=stream_pb2.Chunk(data=piece, end=finished)))
            if window.closed:
                return
            if finished or window.available > 0:
                # Only the client can move things on now. Once the body is all in, it may stay
                # quiet for good (the pump then only watches for it going away).
                if credit is not None:
                    credit.cancel()
                    credit = None
                pending = reading if reading is not None else receive()
                reading = None
                if finished:
                    message = await pending
                else:
                    try:
                        async with asyncio.timeout(body_timeout):
                            message = await pending
                    except TimeoutError:
                        await _end_stalled(stream, subject, body_timeout)
                        return
            else:
                # Waiting for credit: the app's business, within its timeout; the client is still
                # read meanwhile, so that its leaving is noticed.
                if credit is None:
                    credit = asyncio.ensure_future(window.wait())
                    credit_deadline = loop.time() + timeout
                if reading is None and more and len(held) < HOLD:
                    reading = asyncio.ensure_future(receive())
                waiters: set[asyncio.Future[Any]] = {credit} if reading is None else {credit, reading}
                await asyncio.wait(
                    waiters, timeout=credit_deadline - loop.time(), return_when="FIRST_COMPLETED"
                )
                if credit.done():
                    credit = None
                elif reading is None or not reading.done():
                    # The app took none of the body for a whole timeout: the request is stuck.
                    await _cancel(stream, subject)
                    return
                if reading is None or not reading.done():
                    continue
                message, reading = reading.result(), None
            if message["type"] == "http.disconnect":
                await _end_gone(stream, subject)
                return
            if not finished and more:
                held += message.get("body", b"")
                more = message.get("more_body", False)
    finally:
        for pending_future in (reading, credit):
            if pending_future is not None:
                pending_future.cancel()


async def _end_stalled(stream: Stream, subject: str, body_timeout: float) -> None:
    """The client stopped sending its body: answer 408 (if nothing was answered yet) and cancel
    the container's request."""
    stream.ended = True  # what the container still sends for it is moot
    stream.frames.put_nowait(
        stream_pb2.Frame(error=stream_pb2.StreamError(status=408, message=stalled(body_timeout)))
    )
    await _cancel(stream, subject)


async def _end_gone(stream: Stream, subject: str) -> None:
    """The client went away: cancel the container's request and stop waiting for its answer
    at once. The container ends a cancelled stream without a word, so waiting for one would hold
    the lease's slot until the function's timeout."""
    stream.ended = True
    stream.frames.put_nowait(stream_pb2.Frame(error=stream_pb2.StreamError(status=CLIENT_GONE, message=GONE)))
    await _cancel(stream, subject)


async def _cancel(stream: Stream, subject: str) -> None:
    with contextlib.suppress(Exception):
        await stream.send(subject, stream_pb2.Frame(cancel=stream_pb2.Cancel()))


async def _answer(send: Send, stream: Stream, timeout: float, subject: str) -> Failure | None:
    try:
        frame = await stream.next(timeout)
    except TimeoutError:
        with contextlib.suppress(Exception):
            await stream.send(subject, stream_pb2.Frame(cancel=stream_pb2.Cancel()))
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
    body = head.body
    if head.end:
        await send({"type": "http.response.body", "body": body})
        return None
    await send({"type": "http.response.body", "body": body, "more_body": True})
    await _acknowledge(stream, subject, cost(len(body)))
    while True:
        try:
            frame = await stream.next(timeout)
        except TimeoutError:
            with contextlib.suppress(Exception):
                await stream.send(subject, stream_pb2.Frame(cancel=stream_pb2.Cancel()))
            raise RuntimeError(f"response stalled for {timeout:.0f}s; connection aborted") from None
        kind = frame.WhichOneof("kind")
        if kind == "response_body":
            chunk = frame.response_body
            data = chunk.data
            await send({"type": "http.response.body", "body": data, "more_body": not chunk.end})
            if chunk.end:
                return None
            # uvicorn's send() returns once the client's connection can take more: acknowledge.
            await _acknowledge(stream, subject, cost(len(data)))
        elif kind == "error":
            # Headers are out: the only honest signal left is to abort the connection.
            raise RuntimeError(f"response failed midway: {frame.error.message}")


async def _acknowledge(stream: Stream, subject: str, size: int) -> None:
    """Grants the container response-body credit once a batch of it reached the client."""
    grant = stream.inbound.consumed(size, end=False)
    if grant:
        await stream.send(subject, stream_pb2.Frame(credit=stream_pb2.Credit(bytes=grant)))
