"""`stream_pb2.Frame` on a container's socket, in the length-prefix codec (berth._wire.codec).

The runner reads and writes frames; the agent relays the serialized bytes without decoding and
encoding them again (`read_payload`).
"""

from __future__ import annotations

import asyncio

from berth.v1 import stream_pb2

from . import codec
from .codec import WireError as WireError
from .codec import encode as encode

MAX_FRAME = 64 * 1024 * 1024
# Stream ids at or above this are opened by the container (its function calls, berth._runtime.
# call_client); ids below are the agent's. The two ranges never meet, so neither side asks the other.
CALLER_STREAM_BASE = 1 << 63


def answer_ends(frame: stream_pb2.Frame) -> bool:
    """Whether `frame` is the last the answering side (a container, or an edge answering a call)
    sends for its stream: the response's end, an error, or a WebSocket close."""
    kind = frame.WhichOneof("kind")
    if kind == "response":
        return frame.response.end
    if kind == "response_body":
        return frame.response_body.end
    return kind in ("error", "ws_close")


def decoder() -> codec.Decoder[stream_pb2.Frame]:
    """A byte-fed decoder of frames."""
    return codec.Decoder(stream_pb2.Frame.FromString, MAX_FRAME)


async def read_payload(reader: asyncio.StreamReader) -> bytes | None:
    """The next frame's serialized bytes, or None at a clean end of stream."""
    return await codec.read_payload(reader, MAX_FRAME)


async def read_frame(reader: asyncio.StreamReader) -> stream_pb2.Frame | None:
    """The next frame, or None at a clean end of stream."""
    payload = await codec.read_payload(reader, MAX_FRAME)
    return None if payload is None else stream_pb2.Frame.FromString(payload)


class FrameWriter:
    """Writes frames to the agent; `send` never blocks, `drain` applies back-pressure."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self.closed = False

    def send(self, frame: stream_pb2.Frame) -> None:
        if self.closed or self._writer.is_closing():
            return
        self._writer.write(encode(frame))

    async def drain(self) -> None:
        if self.closed or self._writer.is_closing():
            return
        try:
            await self._writer.drain()
        except ConnectionError:
            self.closed = True

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            await self._writer.drain()
            self._writer.close()
            await self._writer.wait_closed()
        except (ConnectionError, OSError):
            pass
