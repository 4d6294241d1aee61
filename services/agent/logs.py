"""Container output: each line goes to the app's log subject, which a JetStream stream keeps.

A container chooses what it prints, so a line is read in chunks rather than with readline(), whose
buffer limit ends the pump on the first long line. A line over MAX_LINE bytes keeps its first
MAX_LINE bytes and says how many it lost ("… [truncated N bytes]"); the pump holds at most one
line's worth and goes on with the next. MAX_LINE also stays under the bus's message size.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from nats.aio.client import Client

from berth.v1 import control_pb2
from services.common import logs, subjects

log = logging.getLogger("berth.agent")

MAX_LINE = 1 << 20
CHUNK = 64 << 10
# Room in a bus message for the LogLine's other fields and the truncation marker.
_OVERHEAD = 4 << 10


def marker(dropped: int) -> str:
    return f"… [truncated {dropped} bytes]"


class _Line:
    """The line being read: its first `limit` bytes and a count of the rest."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._kept = bytearray()
        self._dropped = 0

    def add(self, data: bytes) -> None:
        room = self._limit - len(self._kept)
        if room > 0:
            self._kept += data[:room]
        self._dropped += max(0, len(data) - max(room, 0))

    @property
    def empty(self) -> bool:
        return not self._kept and not self._dropped

    def take(self) -> str:
        kept = len(self._kept)
        text = self._kept.decode(errors="replace")
        # An undecodable byte becomes a 3-byte U+FFFD: keep fewer bytes until the text fits too.
        while 3 * kept > self._limit and (excess := len(text.encode()) - self._limit) > 0:
            kept = max(0, kept - (excess + 2) // 3)  # a byte kept is 1 to 3 bytes of text
            text = self._kept[:kept].decode(errors="replace")
        self._dropped += len(self._kept) - kept
        if self._dropped:
            text += marker(self._dropped)
        self._kept = bytearray()
        self._dropped = 0
        return text


async def lines(reader: asyncio.StreamReader, *, limit: int = MAX_LINE) -> AsyncIterator[str]:
    """The lines of `reader` without their newlines, each cut to `limit` bytes plus a marker."""
    line = _Line(limit)
    while chunk := await reader.read(CHUNK):
        *complete, rest = chunk.split(b"\n")
        for part in complete:
            line.add(part)
            yield line.take()
        line.add(rest)
    if not line.empty:
        yield line.take()


class LogSink:
    """One container's lines, each stamped with its app, function, parameter set and id."""

    def __init__(
        self, nc: Client, *, app_key: str, function: str, container_id: str, params: str = ""
    ) -> None:
        self._nc = nc
        self._subject = subjects.app_logs(app_key)
        self._base = control_pb2.LogLine(
            app=app_key, function=function, container_id=container_id, params=params
        )

    @property
    def max_line(self) -> int:
        """MAX_LINE, or less on a bus whose messages cannot hold that much (max_payload)."""
        payload = self._nc.max_payload if self._nc.is_connected else 0
        return min(MAX_LINE, payload - _OVERHEAD) if payload > 2 * _OVERHEAD else MAX_LINE

    async def line(self, stream: str, text: str) -> None:
        record = control_pb2.LogLine()
        record.CopyFrom(self._base)
        record.time_ms = int(time.time() * 1000)
        record.stream = stream
        record.text = text
        if self._nc.is_closed:
            return
        try:
            await self._nc.publish(self._subject, record.SerializeToString())
        except Exception as exc:  # noqa: BLE001 - one lost line must not end the container's pump
            logs.event(log, "log line dropped", logging.WARNING, subject=self._subject, error=exc)

    async def pump(self, reader: asyncio.StreamReader, stream: str) -> None:
        async for text in lines(reader, limit=self.max_line):
            await self.line(stream, text)
