"""Function calls made from inside a container, through the runner's socket to its agent.

A container holds no token and no bus credential: it opens a request stream on its socket
(stream ids >= CALLER_STREAM_BASE are the container's), sends `POST /__berth/call` exactly as an
edge sends a web request (head, then body chunks within its credit: berth._wire.flow), and reads
`response` / `response_body` / `error` frames back, granting credit as it consumes them. The
agent relays the stream to an edge, which routes the call like any other.

The socket belongs to the runner's event loop; user code calls `.remote` from worker threads (sync
handlers) or from the loop (`await f.remote.aio(...)`, which runs the sync call in a thread).
Every frame is sent from the loop; the calling thread waits on a thread-safe queue. A blocking call
on the loop's own thread would deadlock it, so it is refused with a message naming `.aio`.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from berth._calls import CALL_PATH, platform_error
from berth._errors import Error, InvalidError
from berth._wire.flow import ReceiveWindow, SendWindow, cost
from berth._wire.frames import CALLER_STREAM_BASE, FrameWriter
from berth.v1 import stream_pb2

# As the runner's responses: each frame travels as one NATS message, below its payload limit.
MAX_FRAME_BODY = 256 * 1024
ON_LOOP = (
    "a blocking function call (.remote, .map, .spawn, FunctionCall.get) from async code would "
    "stall this container's event loop: use the async flavour, e.g. `await f.remote.aio(...)`"
)
LOST = "the container's connection to its agent closed"


@dataclass
class _Piece:
    data: bytes
    end: bool
    status: int = 0  # set on the response head
    error: str | None = None  # a StreamError's message (status then its HTTP status)


class _Caller:
    """One call's stream: credit for what it sends, and what arrives for the calling thread."""

    def __init__(self, stream_id: int) -> None:
        self.id = stream_id
        self.window = SendWindow()
        self.inbound = ReceiveWindow()
        self.arrivals: queue.Queue[_Piece] = queue.Queue()
        self.over = False


class CallClient:
    """The container's caller side; `stream` is the Transport berth._calls uses."""

    def __init__(self, writer: FrameWriter, loop: asyncio.AbstractEventLoop, app_key: str) -> None:
        self._writer = writer
        self._loop = loop
        self._ids = itertools.count(CALLER_STREAM_BASE)
        self._ids_lock = threading.Lock()
        self._callers: dict[int, _Caller] = {}
        prefix, _, name = app_key.partition(".")
        # The copy (dev or live) this container belongs to: calls to its own app stay on it.
        self.dev = prefix == "dev"
        self.app = name or app_key

    # -- on the loop --------------------------------------------------------------------------

    def dispatch(self, frame: stream_pb2.Frame) -> None:
        """A frame from the agent for one of this container's call streams."""
        caller = self._callers.get(frame.stream)
        if caller is None:
            return
        kind = frame.WhichOneof("kind")
        if kind == "credit":
            caller.window.grant(frame.credit.bytes)
        elif kind == "response":
            head = frame.response
            if caller.inbound.arrived(cost(len(head.body))):
                caller.arrivals.put(_Piece(head.body, head.end, status=head.status or 200))
            else:
                self._overrun(caller)
            if head.end:
                self._forget(caller)
        elif kind == "response_body":
            chunk = frame.response_body
            if caller.inbound.arrived(cost(len(chunk.data))):
                caller.arrivals.put(_Piece(chunk.data, chunk.end))
            else:
                self._overrun(caller)
            if chunk.end:
                self._forget(caller)
        elif kind == "error":
            caller.arrivals.put(
                _Piece(b"", True, status=frame.error.status or 502, error=frame.error.message)
            )
            self._forget(caller)

    def close(self) -> None:
        """The socket is gone: every call waiting on it fails."""
        for caller in list(self._callers.values()):
            caller.arrivals.put(_Piece(b"", True, status=502, error=LOST))
            self._forget(caller)

    def _overrun(self, caller: _Caller) -> None:
        message = "the agent sent past its flow-control credit; the call was aborted"
        print(f"berth: call stream {caller.id}: {message}", file=sys.stderr)
        self._cancel(caller)
        caller.arrivals.put(_Piece(b"", True, status=502, error=message))

    def _forget(self, caller: _Caller) -> None:
        caller.over = True
        caller.window.close()
        self._callers.pop(caller.id, None)

    def _cancel(self, caller: _Caller) -> None:
        if not caller.over:
            self._forget(caller)
            self._writer.send(stream_pb2.Frame(stream=caller.id, cancel=stream_pb2.Cancel()))

    def _grant(self, caller: _Caller, size: int, end: bool) -> None:
        grant = caller.inbound.consumed(size, end=end)
        if grant and not caller.over:
            self._writer.send(stream_pb2.Frame(stream=caller.id, credit=stream_pb2.Credit(bytes=grant)))

    async def _send(self, caller: _Caller, body: bytes) -> None:
        self._callers[caller.id] = caller
        first, offset = body[:MAX_FRAME_BODY], MAX_FRAME_BODY
        caller.window.spend(cost(len(first)))
        head = stream_pb2.RequestHead(method="POST", path=CALL_PATH, body=first, end=offset >= len(body))
        self._writer.send(stream_pb2.Frame(stream=caller.id, request=head))
        while offset < len(body):
            await caller.window.wait()
            if caller.over:
                return
            piece = body[offset : offset + MAX_FRAME_BODY]
            offset += len(piece)
            caller.window.spend(cost(len(piece)))
            chunk = stream_pb2.Chunk(data=piece, end=offset >= len(body))
            self._writer.send(stream_pb2.Frame(stream=caller.id, body=chunk))
            await self._writer.drain()
        await self._writer.drain()

    # -- from the calling thread ----------------------------------------------------------------

    def stream(self, body: bytes) -> Iterator[bytes]:
        """The answer's body in pieces; a non-200 answer raises the matching `berth` exception."""
        if _on_loop(self._loop):
            raise InvalidError(ON_LOOP)
        if self._writer.closed:
            raise Error(LOST)
        with self._ids_lock:
            caller = _Caller(next(self._ids))
        asyncio.run_coroutine_threadsafe(self._send(caller, body), self._loop)
        return self._answer(caller)

    def _answer(self, caller: _Caller) -> Iterator[bytes]:
        finished = False
        try:
            first = caller.arrivals.get()
            if first.error is not None:
                finished = True
                raise platform_error(first.status, first.error)
            if first.status != 200:
                text = bytearray(first.data)
                piece = first
                while not piece.end:
                    piece = caller.arrivals.get()
                    if piece.error is not None:
                        break
                    text += piece.data
                finished = True
                raise platform_error(first.status, text.decode("utf-8", "replace"))
            piece = first
            while True:
                self._loop.call_soon_threadsafe(self._grant, caller, cost(len(piece.data)), piece.end)
                if piece.data:
                    yield piece.data
                if piece.end:
                    finished = True
                    return
                piece = caller.arrivals.get()
                if piece.error is not None:
                    finished = True
                    raise Error(f"the function call failed mid-answer: {piece.error}")
        finally:
            if not finished:
                self._loop.call_soon_threadsafe(self._cancel, caller)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


_client: CallClient | None = None


def current() -> CallClient | None:
    """This container's call client once the runner serves, None outside a container."""
    return _client


def install(writer: FrameWriter, loop: asyncio.AbstractEventLoop, app_key: str) -> CallClient:
    """Called by the runner once it serves: calls from this process go through `writer`'s socket.
    `app_key` is the pool's app key ("live.<name>" or "dev.<name>")."""
    global _client
    _client = CallClient(writer, loop, app_key)
    return _client


def dispatch(frame: stream_pb2.Frame) -> None:
    """The runner's read loop hands over every frame of a stream id >= CALLER_STREAM_BASE."""
    if _client is not None:
        _client.dispatch(frame)


def close() -> None:
    """The runner's read loop ended: calls in flight fail rather than wait forever."""
    if _client is not None:
        _client.close()
