"""The one length-prefix codec: each message is a 4-byte big-endian length, then the serialized
protobuf. Frames on a container's socket (berth._wire.frames) and the agent <-> zygote messages
(berth._wire.zygote) both travel this way; each reader caps the length it accepts."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

HEADER = struct.Struct(">I")


class WireError(ValueError):
    """The peer sent bytes that are not a length-prefixed message within the limit."""


class _Message(Protocol):
    def SerializeToString(self) -> bytes: ...  # noqa: N802 - protobuf's name


M = TypeVar("M")


def encode(message: _Message) -> bytes:
    """The message with its length prefix, as it goes on the socket."""
    data = message.SerializeToString()
    return HEADER.pack(len(data)) + data


def _checked(length: int, limit: int) -> int:
    if length > limit:
        raise WireError(f"message of {length} bytes exceeds the {limit}-byte limit")
    return length


class Decoder(Generic[M]):
    """Feed it bytes as they arrive; it returns the complete messages, parsed with `parse`."""

    def __init__(self, parse: Callable[[bytes], M], limit: int) -> None:
        self._parse = parse
        self._limit = limit
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[M]:
        buffer = self._buffer
        buffer += data
        out = []
        offset = 0
        while len(buffer) - offset >= HEADER.size:
            (length,) = HEADER.unpack_from(buffer, offset)
            end = offset + HEADER.size + _checked(length, self._limit)
            if end > len(buffer):
                break
            out.append(self._parse(bytes(buffer[offset + HEADER.size : end])))
            offset = end
        del buffer[:offset]
        return out

    @property
    def pending(self) -> int:
        """Bytes held of a message not complete yet."""
        return len(self._buffer)


async def read_payload(reader: asyncio.StreamReader, limit: int) -> bytes | None:
    """The next message's serialized bytes, or None at a clean end of stream (between messages)."""
    try:
        header = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise WireError("connection closed inside a message header") from exc
        return None
    (length,) = HEADER.unpack(header)
    try:
        return await reader.readexactly(_checked(length, limit))
    except asyncio.IncompleteReadError as exc:
        raise WireError("connection closed inside a message") from exc
