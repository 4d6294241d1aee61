"""Driving the ASGI app from frames: one task per request stream, HTTP and WebSocket.

Response heads are held back briefly so that a simple response (start + final body) goes out
as ONE `response` frame with `end=True`. A head is flushed when the body ends, when
HEAD_WINDOW seconds pass with the body still open (so streams start promptly), or when the
held body exceeds HOLD_LIMIT bytes. After the head, every body message is sent at once.

Bodies and WebSocket messages are flow-controlled both ways (berth._wire.flow): receive() grants
the edge credit as the app consumes request body or messages, and send() waits for the edge's
credit before it has more than WINDOW of response body or messages unacknowledged. A stream whose
edge sends past the credit it was granted is aborted (an error frame for HTTP, close 1011 for a
WebSocket), so what a stream holds here stays bounded whoever is at the other end.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from collections.abc import Callable
from typing import Any

from berth._wire.flow import (
    MAX_WS_MESSAGE,
    WS_TOO_BIG,
    ReceiveWindow,
    SendWindow,
    cost,
    text_size,
    ws_cost,
)
from berth._wire.frames import FrameWriter
from berth.v1 import stream_pb2

from .scope import build_scope
from .types import ASGIApp, Message

HEAD_WINDOW = 0.005
HOLD_LIMIT = 64 * 1024
# Each frame travels as one NATS message; bodies are cut below the server's payload limit.
MAX_FRAME_BODY = 256 * 1024
_DISCONNECT = {"type": "http.disconnect"}
_END = stream_pb2.Frame()  # queued to wake a receive() when the stream is over
# Before accept, closing answers the upgrade with HTTP 403 (ASGI spec); ws_close carries code 403.
WS_DENIED = 403
WS_INTERNAL_ERROR = 1011
OVERRUN = "the edge sent past its flow-control credit; the stream was aborted"


def _headers(raw: Any) -> list[stream_pb2.Header]:
    return [stream_pb2.Header(name=bytes(name), value=bytes(value)) for name, value in raw]


class _Stream:
    def __init__(self, server: Server, stream_id: int, head: stream_pb2.RequestHead) -> None:
        self.server = server
        self.id = stream_id
        self.head = head
        # Bounded by `inbound`: the edge may have at most a window of body or messages queued here.
        self.queue: asyncio.Queue[stream_pb2.Frame] = asyncio.Queue()
        self.cancelled = False
        self.overran = False
        # Credit from the edge for what this stream sends (response body or the app's messages).
        self.window = SendWindow()
        # What the edge sends (request body or the client's messages), checked against its credit.
        self.inbound = ReceiveWindow()

    def feed(self, frame: stream_pb2.Frame) -> None:
        if self.overran:
            return
        kind = frame.WhichOneof("kind")
        if kind == "credit":
            self.window.grant(frame.credit.bytes)
            return
        if kind == "body":
            if not self.inbound.arrived(cost(len(frame.body.data))):
                self.overrun()
                return
        elif kind == "ws_message":
            if not self.inbound.arrived(ws_cost(frame.ws_message)):
                self.overrun()
                return
        elif kind == "cancel":
            self.cancelled = True
            self.window.close()
        self.queue.put_nowait(frame)

    def overrun(self) -> None:
        """The edge sent past its credit: end the stream here and at the agent."""
        print(f"berth: stream {self.id}: {OVERRUN}", file=sys.stderr)
        self.overran = True
        self.window.close()
        self.queue.put_nowait(_END)

    def consumed(self, size: int, *, end: bool) -> None:
        """The app took `size` of request body or messages: grant the edge credit once a batch is due."""
        grant = self.inbound.consumed(size, end=end)
        if grant:
            self.send_frame(stream_pb2.Frame(credit=stream_pb2.Credit(bytes=grant)))

    def send_frame(self, frame: stream_pb2.Frame) -> None:
        frame.stream = self.id
        self.server.writer.send(frame)


class HttpStream(_Stream):
    """One HTTP request: receive() yields its body, send() turns the response into frames."""

    def __init__(self, server: Server, stream_id: int, head: stream_pb2.RequestHead) -> None:
        super().__init__(server, stream_id, head)
        self.first = True
        self.body_done = head.end
        self.status: int | None = None
        self.response_headers: list[stream_pb2.Header] = []
        self.held: list[bytes] = []
        self.held_size = 0
        self.head_sent = False
        self.done = False
        self.timer: asyncio.TimerHandle | None = None
        # The head's body came within the edge's first credit, like any chunk.
        self.inbound.arrived(cost(len(head.body)))

    async def receive(self) -> Message:
        if self.first:
            self.first = False
            body = self.head.body
            self.consumed(cost(len(body)), end=self.head.end)
            return {"type": "http.request", "body": body, "more_body": not self.head.end}
        while not self.cancelled and not self.done and not self.overran:
            frame = await self.queue.get()
            if frame is _END:
                break
            kind = frame.WhichOneof("kind")
            if kind == "body" and not self.body_done:
                chunk = frame.body
                data = chunk.data
                self.body_done = chunk.end
                self.consumed(cost(len(data)), end=chunk.end)
                return {"type": "http.request", "body": data, "more_body": not chunk.end}
            if kind == "cancel":
                break
        return dict(_DISCONNECT)

    def overrun(self) -> None:
        super().overrun()
        self._finish_timer()
        if not self.done:
            self.done = True
            self.send_frame(stream_pb2.Frame(error=stream_pb2.StreamError(status=502, message=OVERRUN)))

    def _flush_head(self) -> bytes:
        """Sends the head with up to MAX_FRAME_BODY of the held body; returns the rest, which the
        caller must send with _send_chunks. (From the timer the rest is always empty: the held
        body is flushed at once when it reaches HOLD_LIMIT.)"""
        self.timer = None
        if self.head_sent or self.done or self.status is None:
            return b""
        self.head_sent = True
        body = b"".join(self.held)
        self.held.clear()
        first, rest = body[:MAX_FRAME_BODY], body[MAX_FRAME_BODY:]
        self.window.spend(cost(len(first)))
        self.send_frame(
            stream_pb2.Frame(
                response=stream_pb2.ResponseHead(
                    status=self.status, headers=self.response_headers, body=first, end=False
                )
            )
        )
        return rest

    async def _send_chunks(self, data: bytes, *, more: bool) -> None:
        # Pieces are cut one at a time, so a huge body message is not copied whole up front.
        size = len(data)
        for start in range(0, size, MAX_FRAME_BODY) or range(1):
            await self.window.wait()
            if self.cancelled or self.overran:
                self.done = True
                raise OSError("the client disconnected")
            piece = data[start : start + MAX_FRAME_BODY]
            end = not more and start + MAX_FRAME_BODY >= size
            self.window.spend(cost(len(piece)))
            self.send_frame(stream_pb2.Frame(response_body=stream_pb2.Chunk(data=piece, end=end)))

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self.status is not None:
                raise RuntimeError("ASGI app sent http.response.start twice")
            self.status = int(message["status"])
            self.response_headers = _headers(message.get("headers", ()))
            self.timer = asyncio.get_running_loop().call_later(HEAD_WINDOW, self._flush_head)
            return
        if kind != "http.response.body":
            return  # trailers and unknown extensions are ignored
        if self.status is None:
            raise RuntimeError("ASGI app sent http.response.body before http.response.start")
        if self.done:
            raise RuntimeError("ASGI app sent http.response.body after the response ended")
        data = bytes(message.get("body", b""))
        more = bool(message.get("more_body", False))
        if self.cancelled or self.overran:
            self.done = True
            raise OSError("the client disconnected")
        if not self.head_sent:
            self.held.append(data)
            self.held_size += len(data)
            if not more and self.held_size > MAX_FRAME_BODY:
                self._finish_timer()
                rest = self._flush_head()
                self.done = True
                await self._send_chunks(rest, more=False)
                await self.server.writer.drain()
            elif not more:
                self._finish_timer()
                self.done = True
                self.send_frame(
                    stream_pb2.Frame(
                        response=stream_pb2.ResponseHead(
                            status=self.status,
                            headers=self.response_headers,
                            body=b"".join(self.held),
                            end=True,
                        )
                    )
                )
            elif self.held_size >= HOLD_LIMIT:
                self._finish_timer()
                rest = self._flush_head()
                if rest:
                    await self._send_chunks(rest, more=True)
                await self.server.writer.drain()
            return
        self.done = not more
        await self._send_chunks(data, more=more)
        await self.server.writer.drain()

    def _finish_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def fail(self, exc: BaseException | None) -> None:
        self._finish_timer()
        if self.done or self.cancelled:
            return
        self.done = True
        if not self.head_sent:
            self.send_frame(
                stream_pb2.Frame(
                    response=stream_pb2.ResponseHead(
                        status=500,
                        headers=[stream_pb2.Header(name=b"content-type", value=b"text/plain; charset=utf-8")],
                        body=b"Internal Server Error",
                        end=True,
                    )
                )
            )
        else:
            message = (
                f"{type(exc).__name__}: {exc}" if exc else "ASGI app returned without finishing the response"
            )
            self.send_frame(stream_pb2.Frame(error=stream_pb2.StreamError(status=500, message=message)))


class WebSocketStream(_Stream):
    """One WebSocket: frames in become websocket.* events, the app's events become frames."""

    def __init__(self, server: Server, stream_id: int, head: stream_pb2.RequestHead) -> None:
        super().__init__(server, stream_id, head)
        self.connected = False
        self.accepted = False
        self.closed = False
        self.peer_closed = False  # the edge closed (the client left): nothing more goes out
        self.close_code = 1006

    def feed(self, frame: stream_pb2.Frame) -> None:
        if frame.WhichOneof("kind") == "ws_close":
            self.peer_closed = True
            self.window.close()  # an app waiting for credit to send has nobody to send to now
        super().feed(frame)

    async def receive(self) -> Message:
        if not self.connected:
            self.connected = True
            return {"type": "websocket.connect"}
        while not self.closed and not self.cancelled and not self.overran:
            frame = await self.queue.get()
            kind = frame.WhichOneof("kind")
            if kind == "ws_message":
                ws = frame.ws_message
                if ws.WhichOneof("data") == "text":
                    text = ws.text
                    self.consumed(cost(text_size(text)), end=False)
                    return {"type": "websocket.receive", "text": text}
                data = ws.binary
                self.consumed(cost(len(data)), end=False)
                return {"type": "websocket.receive", "bytes": data}
            if kind == "ws_close":
                self.closed = True
                return {
                    "type": "websocket.disconnect",
                    "code": frame.ws_close.code or 1005,
                    "reason": frame.ws_close.reason,
                }
            if kind == "cancel" or frame is _END:
                break
        self.closed = True
        return {"type": "websocket.disconnect", "code": self.close_code, "reason": ""}

    def overrun(self) -> None:
        super().overrun()
        self.close_code = WS_INTERNAL_ERROR
        if not self.closed:
            self.closed = True
            self.send_frame(
                stream_pb2.Frame(ws_close=stream_pb2.WebSocketClose(code=WS_INTERNAL_ERROR, reason=OVERRUN))
            )

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if self.closed or self.cancelled or self.overran or self.peer_closed:
            return
        if kind == "websocket.accept":
            self.accepted = True
            headers = _headers(message.get("headers", ()))
            self.send_frame(
                stream_pb2.Frame(
                    ws_accept=stream_pb2.WebSocketAccept(
                        subprotocol=message.get("subprotocol") or "", headers=headers
                    )
                )
            )
        elif kind == "websocket.send":
            if not self.accepted:
                raise RuntimeError("ASGI app sent websocket.send before websocket.accept")
            text = message.get("text")
            if text is not None:
                size = text_size(text)
                ws = stream_pb2.WebSocketMessage(text=text)
            else:
                data = message.get("bytes") or b""
                size = len(data)
                ws = stream_pb2.WebSocketMessage(binary=data)
            if size > MAX_WS_MESSAGE:
                self._too_big(size)
            await self.window.wait()
            if self.closed or self.cancelled or self.overran or self.peer_closed:
                return
            self.window.spend(cost(size))
            self.send_frame(stream_pb2.Frame(ws_message=ws))
            await self.server.writer.drain()
        elif kind == "websocket.close":
            code = int(message.get("code") or 1000) if self.accepted else WS_DENIED
            reason = message.get("reason") or ""
            self.closed = True
            self.send_frame(
                stream_pb2.Frame(
                    ws_close=stream_pb2.WebSocketClose(
                        code=code, reason=reason if isinstance(reason, str) else str(reason)
                    )
                )
            )

    def _too_big(self, size: int) -> None:
        """Closes with 1009 and tells the app why: the edge would hold such a message whole."""
        self.closed = True
        reason = f"message of {size} bytes is over the {MAX_WS_MESSAGE >> 20} MiB limit"
        self.send_frame(stream_pb2.Frame(ws_close=stream_pb2.WebSocketClose(code=WS_TOO_BIG, reason=reason)))
        raise ValueError(f"WebSocket {reason}; the connection was closed with code {WS_TOO_BIG}")

    def fail(self, exc: BaseException | None) -> None:
        if self.closed or self.cancelled or self.overran or self.peer_closed:
            return
        self.closed = True
        if exc is not None and not self.accepted:
            self.send_frame(
                stream_pb2.Frame(
                    error=stream_pb2.StreamError(status=500, message=f"{type(exc).__name__}: {exc}")
                )
            )
            return
        code = 1011 if exc is not None else (1000 if self.accepted else WS_DENIED)
        self.send_frame(stream_pb2.Frame(ws_close=stream_pb2.WebSocketClose(code=code)))


class Server:
    """Routes frames from the agent to request streams and runs the app for each."""

    def __init__(
        self,
        app: ASGIApp,
        writer: FrameWriter,
        *,
        state: dict[str, Any],
        wrap: Callable[[stream_pb2.RequestHead, Any], Any] | None = None,
        call_app: ASGIApp | None = None,
    ) -> None:
        self.app = app
        # Streams whose head carries a CallHead (only the edge builds heads) run this instead.
        self.call_app = call_app
        self.writer = writer
        self.state = state
        self.wrap = wrap
        self.streams: dict[int, HttpStream | WebSocketStream] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.accepting = True
        self.idle = asyncio.Event()
        self.idle.set()

    def dispatch(self, frame: stream_pb2.Frame) -> None:
        """Handles one frame for a request stream (stream > 0)."""
        if frame.WhichOneof("kind") == "request":
            if not self.accepting:
                self.writer.send(
                    stream_pb2.Frame(
                        stream=frame.stream,
                        error=stream_pb2.StreamError(status=503, message="container is shutting down"),
                    )
                )
                return
            cls = WebSocketStream if frame.request.websocket else HttpStream
            stream = cls(self, frame.stream, frame.request)
            self.streams[frame.stream] = stream
            self.idle.clear()
            task = asyncio.get_running_loop().create_task(self._run(stream))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            return
        existing = self.streams.get(frame.stream)
        if existing is not None:
            existing.feed(frame)

    async def _run(self, stream: HttpStream | WebSocketStream) -> None:
        scope = build_scope(stream.head, self.state)
        app = self.app
        if stream.head.HasField("call") and self.call_app is not None:
            scope["berth.call"] = stream.head.call
            app = self.call_app
        try:
            if self.wrap is not None:
                with self.wrap(stream.head, scope):
                    await app(scope, stream.receive, stream.send)
            else:
                await app(scope, stream.receive, stream.send)
        except BaseException as exc:
            print(
                f"berth: exception in ASGI app on {scope.get('method', 'WS')} {scope['path']}:",
                file=sys.stderr,
            )
            traceback.print_exception(exc, file=sys.stderr)
            stream.fail(exc)
            if not isinstance(exc, Exception | asyncio.CancelledError):
                raise
        else:
            stream.fail(None)
        finally:
            stream.window.close()
            stream.queue.put_nowait(_END)
            self.streams.pop(stream.id, None)
            if not self.streams:
                self.idle.set()

    async def drain(self, grace: float) -> None:
        """Stops taking requests and waits up to `grace` seconds for the ones in flight."""
        self.accepting = False
        try:
            await asyncio.wait_for(self.idle.wait(), grace)
        except TimeoutError:
            print(
                f"berth: {len(self.streams)} request(s) still running after {grace:g} s; cancelling",
                file=sys.stderr,
            )
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
