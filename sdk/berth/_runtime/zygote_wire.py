"""Encoding of the agent <-> zygote messages: a 4-byte big-endian length, then a ZygoteMessage.

Pure functions and a byte-fed decoder, shared by the zygote (berth._runtime.zygote) and the agent
(services/agent/runtime/zygote.py). File descriptors travel beside the bytes (SCM_RIGHTS), not here.
"""

from __future__ import annotations

import struct

from berth.v1 import bus_pb2

HEADER = struct.Struct(">I")
MAX_MESSAGE = 16 << 20
# stdin, stdout and stderr of the container, sent with each ZygoteFork.
FDS_PER_FORK = 3
# Padding in the zygote's own environment, so that a forked container can show its environment in
# /proc/<pid>/environ (berth._runtime.zygote._rewrite_proc_blocks). The zygote drops it at start.
ENVIRON_SPACE_VARIABLE = "BERTH_ZYGOTE_ENVIRON_SPACE"
ENVIRON_SPACE = 32 << 10


class WireError(Exception):
    """The peer sent something that is not a zygote message."""


def encode(message: bus_pb2.ZygoteMessage) -> bytes:
    body = message.SerializeToString()
    return HEADER.pack(len(body)) + body


class Decoder:
    """Feed it bytes as they arrive; it returns the complete messages."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bus_pb2.ZygoteMessage]:
        self._buffer += data
        out = []
        while len(self._buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self._buffer)
            if size > MAX_MESSAGE:
                raise WireError(f"zygote message of {size} bytes exceeds {MAX_MESSAGE}")
            if len(self._buffer) < HEADER.size + size:
                break
            body = bytes(self._buffer[HEADER.size : HEADER.size + size])
            del self._buffer[: HEADER.size + size]
            message = bus_pb2.ZygoteMessage()
            message.ParseFromString(body)
            out.append(message)
        return out
