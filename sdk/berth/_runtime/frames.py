"""Length-prefixed `bus_pb2.Frame` encoding: pure functions, plus readers/writers over asyncio streams.

Each frame is a 4-byte big-endian length followed by the serialized Frame.
"""

from __future__ import annotations

import asyncio
import struct

from berth.v1 import bus_pb2

_LENGTH = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024


class FrameError(ValueError):
    """The peer sent something that is not a valid frame."""


def encode(frame: bus_pb2.Frame) -> bytes:
    """The frame as it goes on the socket."""
    data = frame.SerializeToString()
    return _LENGTH.pack(len(data)) + data


def decode(payload: bytes) -> bus_pb2.Frame:
    """A frame from its serialized bytes (without the length prefix)."""
    frame = bus_pb2.Frame()
    frame.ParseFromString(payload)
    return frame


def decode_all(buffer: bytes) -> tuple[list[bus_pb2.Frame], bytes]:
    """Every complete frame in `buffer`, and the bytes left over."""
    frames = []
    offset = 0
    while len(buffer) - offset >= _LENGTH.size:
        (length,) = _LENGTH.unpack_from(buffer, offset)
        if length > MAX_FRAME:
            raise FrameError(f"frame of {length} bytes exceeds the {MAX_FRAME}-byte limit")
        end = offset + _LENGTH.size + length
        if end > len(buffer):
            break
        frames.append(decode(buffer[offset + _LENGTH.size : end]))
        offset = end
    return frames, buffer[offset:]


async def read_payload(reader: asyncio.StreamReader) -> bytes | None:
    """The next frame's serialized bytes, or None at a clean end of stream. The agent relays these
    as they are, without decoding and encoding again."""
    try:
        header = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise FrameError("connection closed inside a frame header") from exc
        return None
    (length,) = _LENGTH.unpack(header)
    if length > MAX_FRAME:
        raise FrameError(f"frame of {length} bytes exceeds the {MAX_FRAME}-byte limit")
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise FrameError("connection closed inside a frame") from exc


async def read_frame(reader: asyncio.StreamReader) -> bus_pb2.Frame | None:
    """The next frame, or None at a clean end of stream."""
    payload = await read_payload(reader)
    return None if payload is None else decode(payload)


class FrameWriter:
    """Writes frames to the agent; `send` never blocks, `drain` applies back-pressure."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self.closed = False

    def send(self, frame: bus_pb2.Frame) -> None:
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
