"""Request streams over the bus: one reply subject per stream, one subscription per edge.

What a container sends for a stream is checked here, in the subscription's callback, before it is
queued: data frames (response body, the app's WebSocket messages) against the credit the edge
granted (berth._wire.flow), a WebSocket accept once, nothing after the stream's last frame. A
container that sends past its credit has its stream aborted at once: its queued frames are
dropped, the container is told to cancel, and the request ends with a 502 (close 1011). So one
stream costs the edge at most a window of memory, whatever the container does.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

from nats.aio.client import Client
from nats.aio.msg import Msg

from berth._wire.flow import ReceiveWindow, SendWindow, cost, ws_cost
from berth.v1 import stream_pb2
from services.common import bus, logs, subjects

log = logging.getLogger("berth.edge")

BUS_LOST = "the platform lost its message bus connection; retry shortly"
# NATS answers a message sent with a reply subject to a subject nobody listens on with a status-503
# message: the container's agent is gone (restarting), so the request never reached any code.
UNREACHABLE = "the container is unreachable (its agent is restarting)"
# For this long after the bus connection came back, nobody listening on a container's subject
# means its agent has not resubscribed yet, not that the container is gone: the request fails
# (503), but the lease is kept.
RESUBSCRIBE_GRACE = 5.0
BODY_TIMEOUT = 30.0
OVERRUN = "the app sent past its flow-control credit (a misbehaving container); the stream was aborted"


class Stream:
    """Frames the container sends for one request, in order. Credit frames (the container
    acknowledging request body or the client's messages) never enter `frames`: they feed `window`.
    Data frames are counted into `inbound` as they arrive; the consumer grants credit back with
    `inbound.consumed` as the client takes them."""

    def __init__(self, relay: Relay, stream_id: int) -> None:
        self.id = stream_id
        self.reply = subjects.edge_response(relay.edge_id, stream_id)
        self.frames: asyncio.Queue[stream_pb2.Frame] = asyncio.Queue()
        self.window = SendWindow()
        self.inbound = ReceiveWindow()
        self._relay = relay
        self.failed = False
        self.subject = ""  # the container's data subject, once something was sent to it
        self.ended = False  # the container sent its last frame (or broke the protocol)
        self.accepted = False
        self.overran = False

    async def next(self, timeout: float) -> stream_pb2.Frame:
        # asyncio.timeout rather than wait_for: no extra task per frame on the hot path.
        if not self.frames.empty():
            return self.frames.get_nowait()
        async with asyncio.timeout(timeout):
            return await self.frames.get()

    async def send(self, subject: str, frame: stream_pb2.Frame) -> None:
        if self.failed:
            return  # the client has been told it failed: nothing of it may still reach the app
        self.subject = subject
        await self._relay.nc.publish(subject, frame.SerializeToString(), reply=self.reply)

    async def overrun(self) -> None:
        """The container sent past its credit: drop what it queued, tell it to cancel, and end the
        stream with a 502 (the consumer sees it after the frame it is sending to the client)."""
        self.ended = self.overran = True
        while not self.frames.empty():
            self.frames.get_nowait()
        self.frames.put_nowait(stream_pb2.Frame(error=stream_pb2.StreamError(status=502, message=OVERRUN)))
        logs.event(log, "stream aborted", logging.WARNING, reason=OVERRUN, stream=self.reply, to=self.subject)
        if self.subject:
            cancel = stream_pb2.Frame(cancel=stream_pb2.Cancel())
            await self._relay.nc.publish(self.subject, cancel.SerializeToString(), reply=self.reply)

    def fail(self, status: int, message: str) -> None:
        """Ends the stream with an error now, without waiting for the container (which can no
        longer answer over the bus)."""
        if self.failed:
            return
        self.failed = True
        self.frames.put_nowait(stream_pb2.Frame(error=stream_pb2.StreamError(status=status, message=message)))
        self.window.close()

    def close(self) -> None:
        self._relay.streams.pop(self.id, None)
        self.window.close()


class Relay:
    """The edge's end of every request stream. `body_timeout`: how long a client may send no
    request body bytes while more are due before it gets a 408 (services/edge/proxy.py)."""

    def __init__(self, nc: Client, edge_id: str, *, body_timeout: float = BODY_TIMEOUT) -> None:
        self.nc = nc
        self.edge_id = edge_id
        self.body_timeout = body_timeout
        self.streams: dict[int, Stream] = {}
        # Numbered from the start time in microseconds, not from 1: an edge restarted under the same
        # id must never take a stream number its predecessor used, or a container still answering
        # the old request would answer the new one.
        self._ids = itertools.count(time.time_ns() // 1000)
        self._bus_lost_at = -RESUBSCRIBE_GRACE

    async def start(self) -> None:
        await self.nc.subscribe(
            subjects.edge_response_wildcard(self.edge_id), cb=self._on_frame, pending_bytes_limit=256 << 20
        )
        bus.on_disconnect(self.nc, self._bus_lost)

    def _bus_lost(self) -> None:
        # Answers in transit are gone with the connection: fail the streams now, not at timeout.
        self._bus_lost_at = time.monotonic()
        for stream in list(self.streams.values()):
            stream.fail(503, BUS_LOST)

    def open(self) -> Stream:
        stream = Stream(self, next(self._ids))
        self.streams[stream.id] = stream
        if not self.nc.is_connected:
            # Frames would wait in the client's buffer and might reach the app after the client
            # was told the request failed; refuse at once instead.
            stream.fail(503, BUS_LOST)
        return stream

    async def _on_frame(self, msg: Msg) -> None:
        stream = self.streams.get(int(msg.subject.rsplit(".", 1)[-1]))
        if stream is None:
            return
        if not msg.data and msg.headers and msg.headers.get("Status") == "503":
            recent = time.monotonic() - self._bus_lost_at < RESUBSCRIBE_GRACE
            stream.fail(503, BUS_LOST if recent else UNREACHABLE)
            return
        frame = stream_pb2.Frame.FromString(msg.data)
        kind = frame.WhichOneof("kind")
        if kind == "credit":
            stream.window.grant(frame.credit.bytes)
            return
        if stream.ended:
            return  # nothing counts after the stream's last frame
        if kind == "response":
            head = frame.response
            size = cost(len(head.body))
            stream.ended = head.end
        elif kind == "response_body":
            chunk = frame.response_body
            size = cost(len(chunk.data))
            stream.ended = chunk.end
        elif kind == "ws_message":
            size = ws_cost(frame.ws_message)
        elif kind == "ws_accept" and not stream.accepted:
            stream.accepted = True
            size = 0
        elif kind == "error" or kind == "ws_close":
            stream.ended = True
            size = 0
        else:
            return  # a second accept, or what only an edge sends: never queued
        if size and not stream.inbound.arrived(size):
            await stream.overrun()
            return
        stream.frames.put_nowait(frame)
