"""Container output: each line goes to the app's log subject, which a JetStream stream keeps."""

from __future__ import annotations

import asyncio
import time

from nats.aio.client import Client

from berth.v1 import control_pb2
from services.common import subjects


class LogSink:
    def __init__(self, nc: Client, *, app_key: str, function: str, container_id: str) -> None:
        self._nc = nc
        self._subject = subjects.app_logs(app_key)
        self._base = control_pb2.LogLine(app=app_key, function=function, container_id=container_id)

    async def line(self, stream: str, text: str) -> None:
        record = control_pb2.LogLine()
        record.CopyFrom(self._base)
        record.time_ms = int(time.time() * 1000)
        record.stream = stream
        record.text = text
        if not self._nc.is_closed:
            await self._nc.publish(self._subject, record.SerializeToString())

    async def pump(self, reader: asyncio.StreamReader, stream: str) -> None:
        while line := await reader.readline():
            await self.line(stream, line.decode(errors="replace").rstrip("\n"))
