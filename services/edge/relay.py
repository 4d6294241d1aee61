"""Request streams over the bus: one reply subject per stream, one subscription per edge."""

from __future__ import annotations

import asyncio
import itertools

from nats.aio.client import Client
from nats.aio.msg import Msg

from berth._runtime.flow import SendWindow
from berth.v1 import bus_pb2
from services.common import subjects


class Stream:
    """Frames the container sends for one request, in order. Credit frames (the container
    acknowledging request body) never enter `frames`: they feed `window`."""

    def __init__(self, relay: Relay, stream_id: int) -> None:
        self.id = stream_id
        self.reply = subjects.edge_response(relay.edge_id, stream_id)
        self.frames: asyncio.Queue[bus_pb2.Frame] = asyncio.Queue()
        self.window = SendWindow()
        self._relay = relay

    async def next(self, timeout: float) -> bus_pb2.Frame:
        # asyncio.timeout rather than wait_for: no extra task per frame on the hot path.
        if not self.frames.empty():
            return self.frames.get_nowait()
        async with asyncio.timeout(timeout):
            return await self.frames.get()

    async def send(self, subject: str, frame: bus_pb2.Frame) -> None:
        await self._relay.nc.publish(subject, frame.SerializeToString(), reply=self.reply)

    def close(self) -> None:
        self._relay.streams.pop(self.id, None)
        self.window.close()


class Relay:
    def __init__(self, nc: Client, edge_id: str) -> None:
        self.nc = nc
        self.edge_id = edge_id
        self.streams: dict[int, Stream] = {}
        self._ids = itertools.count(1)

    async def start(self) -> None:
        await self.nc.subscribe(
            subjects.edge_response_wildcard(self.edge_id), cb=self._on_frame, pending_bytes_limit=256 << 20
        )

    def open(self) -> Stream:
        stream = Stream(self, next(self._ids))
        self.streams[stream.id] = stream
        return stream

    async def _on_frame(self, msg: Msg) -> None:
        stream = self.streams.get(int(msg.subject.rsplit(".", 1)[-1]))
        if stream is None:
            return
        frame = bus_pb2.Frame.FromString(msg.data)
        if frame.WhichOneof("kind") == "credit":
            stream.window.grant(frame.credit.bytes)
        else:
            stream.frames.put_nowait(frame)
