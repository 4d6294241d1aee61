"""The bridge between the bus and one container: request frames in from NATS, response frames out.

Edges address a container by its data subject and name each stream by the NATS reply subject it
wants answers on. The container's socket carries many streams at once, so the bridge gives each
stream a local id and maps it back to its reply subject.

Frames for the container go through its ContainerWriter (services/agent/container_writer.py): the
NATS callback that calls `from_edge` serves every container here, so it only queues and never
waits for one. A frame that does not fit the container's bounded queue fails its stream with a 503
(the container is told to cancel it); control frames (credit, cancel, close) always get through.
"""

from __future__ import annotations

import asyncio
import logging
import time

from nats.aio.client import Client

from berth._wire.frames import CALLER_STREAM_BASE, answer_ends, encode, read_payload
from berth.v1 import stream_pb2
from services.agent.callers import MAX_CALLS, Callers
from services.agent.container_writer import QUEUE_BYTES, ContainerWriter
from services.common import logs

log = logging.getLogger("berth.agent")

OVERFLOW = (
    f"the app is not reading its input: the container's queue of {QUEUE_BYTES >> 20} MiB is full "
    "(is its event loop blocked?)"
)
# Frames the edge sends that are small and few per stream: never refused for a full queue.
_CONTROL = frozenset({"credit", "cancel", "ws_close"})


def _ends_from_edge(frame: stream_pb2.Frame) -> bool:
    return frame.WhichOneof("kind") in ("cancel", "ws_close")


class Bridge:
    """Relays the streams of one container. Created before the container starts; `attach` runs
    once the container's runner has connected to its socket."""

    def __init__(
        self,
        nc: Client,
        container_id: str,
        data_subject: str,
        *,
        agent_id: str = "",
        app_key: str = "",
        max_calls: int = MAX_CALLS,
    ) -> None:
        self._nc = nc
        self.container_id = container_id
        self.data_subject = data_subject
        self._out: ContainerWriter | None = None
        # Streams the container opens: its function calls, relayed to the edges (callers.py).
        self.callers = Callers(nc, agent_id, container_id, self._offer, app_key=app_key, max_calls=max_calls)
        self._by_reply: dict[str, int] = {}
        self._replies: dict[int, str] = {}
        self._next_stream = 1
        self.idle_since = time.monotonic()
        self.started: asyncio.Future[stream_pb2.Frame] = asyncio.get_running_loop().create_future()

    @property
    def inflight(self) -> int:
        return len(self._replies)

    def attach(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> asyncio.Task[None]:
        self._out = ContainerWriter(writer)
        return asyncio.create_task(self._pump_from_container(reader), name=f"bridge-{self.container_id}")

    def _offer(self, data: bytes, force: bool) -> bool:
        return self._out is not None and self._out.offer(data, force=force)

    def send_control(self, frame: stream_pb2.Frame) -> None:
        if self._out is not None:
            self._out.offer(encode(frame), force=True)

    async def from_edge(self, reply: str, data: bytes) -> None:
        """A frame the edge published for this container. Queues it; awaits only the bus."""
        frame = stream_pb2.Frame.FromString(data)
        kind = frame.WhichOneof("kind")
        if kind == "request":
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
        out = self._out
        if out is None or out.closed:
            await self._fail(reply, 503, "the container is not running")
            self._end(stream)
            return
        if out.offer(encode(frame), force=kind in _CONTROL):
            return
        if out.closed:
            await self._fail(reply, 503, "the container is not running")
            self._end(stream)
            return
        # The container is not reading its socket: this stream fails, nobody else waits.
        logs.event(log, "container input full", logging.WARNING, container=self.container_id, stream=stream)
        self._end(stream)
        if kind != "request":  # the container saw the stream start: tell it the stream is over
            out.offer(encode(stream_pb2.Frame(stream=stream, cancel=stream_pb2.Cancel())), force=True)
        await self._fail(reply, 503, OVERFLOW)

    async def _pump_from_container(self, reader: asyncio.StreamReader) -> None:
        while (data := await read_payload(reader)) is not None:
            frame = stream_pb2.Frame.FromString(data)
            if frame.stream == 0:
                if not self.started.done():
                    self.started.set_result(frame)
                continue
            if frame.stream >= CALLER_STREAM_BASE:
                await self.callers.from_container(frame, data)
                continue
            reply = self._replies.get(frame.stream)
            if reply is None:
                continue
            if answer_ends(frame):
                self._end(frame.stream)
            # The edge keys streams by subject, so the frame goes out as the container wrote it.
            try:
                await self._nc.publish(reply, data)
            except Exception as exc:  # noqa: BLE001 - one stream's failure must not stop the others
                self._end(frame.stream)
                self.send_control(stream_pb2.Frame(stream=frame.stream, cancel=stream_pb2.Cancel()))
                await self._fail(reply, 502, f"the response could not be relayed: {exc}")

    def _end(self, stream: int) -> None:
        reply = self._replies.pop(stream, None)
        if reply is not None:
            self._by_reply.pop(reply, None)
        if not self._replies:
            self.idle_since = time.monotonic()

    async def fail_all(self, status: int, message: str) -> None:
        """The container is gone: every stream still open gets an error instead of hanging."""
        await self.callers.close()
        for stream, reply in list(self._replies.items()):
            await self._fail(reply, status, message)
            self._end(stream)
        if self._out is not None:
            await self._out.close()

    async def _fail(self, reply: str, status: int, message: str) -> None:
        error = stream_pb2.Frame(error=stream_pb2.StreamError(status=status, message=message))
        await self._nc.publish(reply, error.SerializeToString())
