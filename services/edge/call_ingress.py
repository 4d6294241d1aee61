"""Function calls containers make, relayed by their agents (services/agent/callers.py).

A container opens a request stream on its socket (`POST /__berth/call`, berth._runtime.call_client);
its agent publishes the head on `berth.call.<agent id>`, which only that agent may publish on, so
the subject names the calling agent; the edges take heads in one queue group, so one edge serves
each call. That edge answers on the agent's reply subject for the stream (checked to be that same
agent's) and names its own subject for the rest of the stream, `berth.call.<agent>.<edge>.<n>`, as
the reply of every frame it sends, the first being an empty credit sent at once; the agent sends
the rest of the stream (body chunks, credit, cancel) there. A frame arriving there from another
agent than the stream's is dropped.

The frames are turned into ASGI by the runner's own Server (berth._runtime.server): the same flow
control both ways (berth._wire.flow) and cancel handling as a container serving a web request, with
the edge's call endpoint (call_api.py) as the app, trusted without a token (the caller is the
container its agent names, and its app the one the agent stamped in RequestHead.caller_app: the
endpoint holds it to calls within that app unless the operator allows any).

If the agent goes away, NATS answers the edge's next frame with "no responders": the stream is
cancelled (the callee's request too). A call whose agent vanishes while the callee runs ends when
the callee answers, or at the callee's timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg

from berth._runtime.server import Server
from berth._wire.frames import answer_ends
from berth.v1 import stream_pb2
from services.common import ids, logs, subjects
from services.edge.call_api import Caller

log = logging.getLogger("berth.edge")

# Frames queued for the bus before the app's send() waits (drain): a window's worth and a frame.
DRAIN_BYTES = 1 << 20
CALLER_SCOPE_KEY = "berth.caller"
UNKNOWN_STREAM = "the edge serving this function call restarted and lost it; retry the call"

CallerApp = Callable[[dict[str, Any], Any, Any, Caller], Awaitable[None]]


class _Peer:
    __slots__ = ("agent_id", "caller", "reply", "subject")

    def __init__(self, agent_id: str, caller: str, reply: str, subject: str) -> None:
        self.agent_id = agent_id
        self.caller = caller  # "<agent id>/<container id>"
        self.reply = reply  # the agent's subject for what the edge sends
        self.subject = subject  # this edge's subject for the rest of the stream


class _BusWriter:
    """The Server's frame writer: each frame goes to its stream's agent, in order, naming this
    edge's subject for the stream as the reply. `send` never blocks; `drain` waits while much is
    queued."""

    def __init__(self, nc: Client, peers: dict[int, _Peer]) -> None:
        self._nc = nc
        self._peers = peers
        self._queue: asyncio.Queue[tuple[str, bytes, str]] = asyncio.Queue()
        self._queued = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self._task: asyncio.Task[None] | None = None
        self.closed = False

    def send(self, frame: stream_pb2.Frame) -> None:
        peer = self._peers.get(frame.stream)
        if peer is None or self.closed:
            return  # the stream is over (or the agent went away): nothing more is relayed
        if answer_ends(frame):
            # Forgotten once this step of the loop is over: the Server may still end it with a frame.
            asyncio.get_running_loop().call_soon(self._peers.pop, frame.stream, None)
        data = frame.SerializeToString()
        self._queued += len(data)
        if self._queued >= DRAIN_BYTES:
            self._drained.clear()
        self._queue.put_nowait((peer.reply, data, peer.subject))
        if self._task is None:
            self._task = asyncio.create_task(self._pump())

    async def drain(self) -> None:
        await self._drained.wait()

    async def _pump(self) -> None:
        while True:
            subject, data, reply = await self._queue.get()
            try:
                await self._nc.publish(subject, data, reply=reply)
            except Exception as exc:  # noqa: BLE001 - the bus is away: the stream's end comes by cancel
                logs.event(log, "call answer not relayed", logging.WARNING, to=subject, error=exc)
            self._queued -= len(data)
            if self._queued < DRAIN_BYTES:
                self._drained.set()

    async def close(self) -> None:
        self.closed = True
        self._drained.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class CallIngress:
    """This edge's end of calls containers make: serves them with `app(scope, receive, send,
    caller)` through a runner Server."""

    def __init__(self, nc: Client, edge_id: str, app: CallerApp) -> None:
        self._nc = nc
        self._edge_id = edge_id
        self._app = app
        self._peers: dict[int, _Peer] = {}
        self._writer = _BusWriter(nc, self._peers)
        self._server = Server(self._serve, self._writer, state={}, wrap=self._wrap)  # type: ignore[arg-type]
        # As the relay's: numbered from the start time, so a restarted edge never reuses a number.
        self._ids = itertools.count(time.time_ns() // 1000)
        self._subscriptions: list[Any] = []

    async def start(self) -> None:
        self._subscriptions = [
            await self._nc.subscribe(
                subjects.AGENT_CALLS_WILDCARD, queue=subjects.CALL_EDGES, cb=self._on_head,
                pending_bytes_limit=256 << 20,
            ),
            await self._nc.subscribe(
                subjects.call_stream_wildcard(self._edge_id), cb=self._on_frame, pending_bytes_limit=256 << 20
            ),
        ]  # fmt: skip

    async def stop(self, grace: float = 5.0) -> None:
        for subscription in self._subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        await self._server.drain(grace)
        await self._writer.close()

    @property
    def streams(self) -> int:
        return len(self._peers)

    async def _on_head(self, msg: Msg) -> None:
        agent_id = msg.subject.split(".", 2)[2]
        try:
            container_id, _ = ids.caller_reply_subject(msg.reply, agent_id)
            frame = stream_pb2.Frame.FromString(msg.data)
        except Exception as exc:  # noqa: BLE001 - a forged or broken head: nobody to answer safely
            logs.event(log, "call head dropped", logging.WARNING, subject=msg.subject, reason=str(exc))
            return
        if frame.WhichOneof("kind") != "request" or frame.request.websocket:
            return
        stream = next(self._ids)
        caller = f"{agent_id}/{container_id}"
        self._peers[stream] = _Peer(
            agent_id, caller, msg.reply, subjects.call_stream(agent_id, self._edge_id, stream)
        )
        frame.stream = stream
        frame.request.caller_container = caller  # the agent's word for its own container, scoped by its id
        # The agent holds the rest of the stream until it knows where to send it: tell it now (an
        # empty credit), not once a first CREDIT_BATCH of body is in, which may never come.
        self._writer.send(stream_pb2.Frame(stream=stream, credit=stream_pb2.Credit(bytes=0)))
        self._server.dispatch(frame)

    async def _on_frame(self, msg: Msg) -> None:
        _, _, agent_id, _, number = msg.subject.split(".", 4)
        try:
            stream = int(number)
        except ValueError:
            return
        peer = self._peers.get(stream)
        if peer is None:
            if msg.data:
                await self._unknown(agent_id, msg.reply)
            return
        if peer.agent_id != agent_id:
            return  # not this agent's stream
        if not msg.data and msg.headers and msg.headers.get("Status") == "503":
            # Nobody listens on the agent's subject any more: the agent (and the caller) is gone.
            self._peers.pop(stream, None)
            self._server.dispatch(stream_pb2.Frame(stream=stream, cancel=stream_pb2.Cancel()))
            return
        try:
            frame = stream_pb2.Frame.FromString(msg.data)
        except Exception:  # noqa: BLE001 - a broken frame ends nothing but itself
            return
        if frame.WhichOneof("kind") not in ("body", "credit", "cancel"):
            return
        frame.stream = stream
        if frame.WhichOneof("kind") == "cancel":
            self._peers.pop(stream, None)
        self._server.dispatch(frame)

    async def _unknown(self, agent_id: str, reply: str) -> None:
        """A frame for a stream this edge does not hold: over already (then the agent has forgotten
        it too, and drops this), or begun before this edge restarted under the same id: the agent
        is told, so its container's call fails instead of waiting for an answer that never comes."""
        try:
            ids.caller_reply_subject(reply, agent_id)
        except ids.InvalidId:
            return
        error = stream_pb2.Frame(error=stream_pb2.StreamError(status=502, message=UNKNOWN_STREAM))
        with contextlib.suppress(Exception):
            await self._nc.publish(reply, error.SerializeToString())

    @contextlib.contextmanager
    def _wrap(self, head: stream_pb2.RequestHead, scope: dict[str, Any]) -> Iterator[None]:
        scope[CALLER_SCOPE_KEY] = Caller(container=head.caller_container, app=head.caller_app)
        yield

    async def _serve(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self._app(scope, receive, send, scope[CALLER_SCOPE_KEY])
