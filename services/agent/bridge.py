"""The bridge between the bus and one container: request frames in from NATS, response frames out.

Edges address a container by its data subject and name each stream by the NATS reply subject it
wants answers on. The container's socket carries many streams at once, so the bridge gives each
stream a local id and maps it back to its reply subject.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from nats.aio.client import Client

from berth._runtime.frames import encode, read_payload
from berth.v1 import bus_pb2


def _ends_from_container(frame: bus_pb2.Frame) -> bool:
    kind = frame.WhichOneof("kind")
    if kind == "response":
        return frame.response.end
    if kind == "response_body":
        return frame.response_body.end
    return kind in ("error", "ws_close")


def _ends_from_edge(frame: bus_pb2.Frame) -> bool:
    return frame.WhichOneof("kind") in ("cancel", "ws_close")


class Bridge:
    """Relays the streams of one container. Created before the container starts; `attach` runs
    once the container's runner has connected to its socket."""

    def __init__(self, nc: Client, container_id: str, data_subject: str) -> None:
        self._nc = nc
        self.container_id = container_id
        self.data_subject = data_subject
        self._writer: asyncio.StreamWriter | None = None
        self._by_reply: dict[str, int] = {}
        self._replies: dict[int, str] = {}
        self._next_stream = 1
        self.idle_since = time.monotonic()
        self.started: asyncio.Future[bus_pb2.Frame] = asyncio.get_running_loop().create_future()

    @property
    def inflight(self) -> int:
        return len(self._replies)

    def attach(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> asyncio.Task[None]:
        self._writer = writer
        return asyncio.create_task(self._pump_from_container(reader), name=f"bridge-{self.container_id}")

    def send_control(self, frame: bus_pb2.Frame) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(encode(frame))

    async def from_edge(self, reply: str, data: bytes) -> None:
        """A frame the edge published for this container."""
        frame = bus_pb2.Frame.FromString(data)
        if frame.WhichOneof("kind") == "request":
            stream = self._next_stream
            self._next_stream += 1
            self._by_reply[reply] = stream
            self._replies[stream] = reply
        else:
            found = self._by_reply.get(reply)
            if found is None:
                return  # the stream already ended; late body or cancel frames are moot
            stream = found
            if _ends_from_edge(frame):
                self._end(stream)
        frame.stream = stream
        writer = self._writer
        if writer is None or writer.is_closing():
            await self._fail(reply, 503, "the container is not running")
            self._end(stream)
            return
        writer.write(encode(frame))
        if writer.transport.get_write_buffer_size() > 1 << 20:
            await writer.drain()

    async def _pump_from_container(self, reader: asyncio.StreamReader) -> None:
        while (data := await read_payload(reader)) is not None:
            frame = bus_pb2.Frame.FromString(data)
            if frame.stream == 0:
                if not self.started.done():
                    self.started.set_result(frame)
                continue
            reply = self._replies.get(frame.stream)
            if reply is None:
                continue
            if _ends_from_container(frame):
                self._end(frame.stream)
            # The edge keys streams by subject, so the frame goes out as the container wrote it.
            try:
                await self._nc.publish(reply, data)
            except Exception as exc:  # noqa: BLE001 - one stream's failure must not stop the others
                self._end(frame.stream)
                self.send_control(bus_pb2.Frame(stream=frame.stream, cancel=bus_pb2.Cancel()))
                await self._fail(reply, 502, f"the response could not be relayed: {exc}")

    def _end(self, stream: int) -> None:
        reply = self._replies.pop(stream, None)
        if reply is not None:
            self._by_reply.pop(reply, None)
        if not self._replies:
            self.idle_since = time.monotonic()

    async def fail_all(self, status: int, message: str) -> None:
        """The container is gone: every stream still open gets an error instead of hanging."""
        for stream, reply in list(self._replies.items()):
            await self._fail(reply, status, message)
            self._end(stream)
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()

    async def _fail(self, reply: str, status: int, message: str) -> None:
        error = bus_pb2.Frame(error=bus_pb2.StreamError(status=status, message=message))
        await self._nc.publish(reply, error.SerializeToString())
