"""Function calls one container makes: the streams it opens on its socket (ids at or above
CALLER_STREAM_BASE), relayed to the edges over NATS (services/edge/call_ingress.py).

The head goes to `berth.call.<agent id>` (only this agent may publish there, so an edge knows who
calls), with RequestHead.caller_container and caller_app set here to the container and its app key
from its boot order (never taken from it: the edge holds containers to their own app by default,
services/edge/call_api.py) and the reply subject `berth.caller.<agent>.<container>.<stream>`. The
edge that takes it names its own subject for the stream as the reply of what it sends; until its
first frame arrives, what the container sends next (body chunks within its credit: at most a
window, berth._wire.flow) is held here, bounded by PENDING_LIMIT. The edge's frames (response,
body, credit, error) go to the container as they come, through its bounded writer.

Failures end the call with an error frame to the container rather than a hang: no edge taking calls
(503), the edge gone mid-call (502: NATS answers "no responders" to what is sent it; while nothing
else is sent, `probe` sends an empty credit every PROBE_EVERY seconds so a dead edge is noticed),
the container not reading its socket. A container that goes away has its calls cancelled at their
edges.

What a container may do here is bounded, as its code is a tenant's: at most `max_calls` calls open
at once (MAX_CALLS by default; beyond, that call fails at once with a 429), what it sends before the
edge answers within PENDING_LIMIT, and frames for a stream it never opened (or one already over) are
dropped, touching no other stream; past its credit after that, the edge's flow control aborts the
stream (berth._runtime.server).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from nats.aio.client import Client
from nats.aio.msg import Msg

from berth._wire.flow import WINDOW
from berth._wire.frames import answer_ends, encode
from berth.v1 import stream_pb2
from services.common import ids, logs, subjects

log = logging.getLogger("berth.agent")

PENDING_LIMIT = WINDOW + 2 * 1024 * 1024
PROBE_EVERY = 5  # seconds (agent heartbeats) between probes of the edges serving open calls
MAX_CALLS = 256  # calls one container may have open at once (the agent's --max-calls-per-container)
NO_EDGE = "no edge is taking function calls right now (is the platform's edge running?)"
EDGE_GONE = "the edge serving this function call went away; retry the call"
OVERRUN = "the container sent past its flow-control credit; the call was aborted"
NOT_READING = "the container is not reading its socket; the call was abandoned"


def too_many(limit: int) -> str:
    return (
        f"this container has {limit} function calls open already, the most one container may; wait "
        "for some to finish (the agent's --max-calls-per-container, env BERTH_AGENT_MAX_CALLS)"
    )


_FROM_CONTAINER = frozenset({"body", "credit", "cancel"})
_FROM_EDGE = frozenset({"response", "response_body", "credit", "error"})

Offer = Callable[[bytes, bool], bool]


class _Call:
    __slots__ = ("cancelled", "edge", "pending", "pending_bytes", "reply")

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.edge = ""  # the edge's subject for the stream, once it answered
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.cancelled = False


class Callers:
    """The calls of one container of app `app_key`. `offer(data, force)` queues a frame for its socket."""

    def __init__(
        self,
        nc: Client,
        agent_id: str,
        container_id: str,
        offer: Offer,
        *,
        app_key: str = "",
        max_calls: int = MAX_CALLS,
    ) -> None:
        self._nc = nc
        self._agent_id = agent_id
        self._container_id = container_id
        self._app_key = app_key
        self._max_calls = max_calls
        self._offer = offer
        self._calls: dict[int, _Call] = {}

    def __len__(self) -> int:
        return len(self._calls)

    async def from_container(self, frame: stream_pb2.Frame, data: bytes) -> None:
        stream = frame.stream
        kind = frame.WhichOneof("kind")
        if kind == "request":
            if stream in self._calls:
                return
            if not self._agent_id:
                self._error(stream, 503, "this agent relays no function calls")
                return
            if len(self._calls) >= self._max_calls:
                self._error(stream, 429, too_many(self._max_calls))
                return
            # The agent's word, never the container's: whatever the runner put here is replaced.
            frame.request.caller_container = self._container_id
            frame.request.caller_app = self._app_key
            reply = subjects.caller_reply(self._agent_id, self._container_id, stream)
            self._calls[stream] = _Call(reply)
            try:
                head = frame.SerializeToString()
                await self._nc.publish(subjects.agent_calls(self._agent_id), head, reply=reply)
            except Exception as exc:  # noqa: BLE001 - the bus is away: the call fails, others go on
                self._fail(stream, 503, f"the function call could not be sent: {exc}")
            return
        found = self._calls.get(stream)
        if found is None or kind not in _FROM_CONTAINER:
            return
        call = found
        if kind == "cancel":
            call.cancelled = True
        if not call.edge:
            call.pending.append(data)
            call.pending_bytes += len(data)
            if call.pending_bytes > PENDING_LIMIT:
                self._fail(stream, 502, OVERRUN)
            return
        await self._to_edge(stream, call, data)
        if call.cancelled:
            self._calls.pop(stream, None)

    async def from_edge(self, stream: int, msg: Msg) -> None:
        call = self._calls.get(stream)
        if call is None:
            return
        if not msg.data and msg.headers and msg.headers.get("Status") == "503":
            self._fail(stream, 502 if call.edge else 503, EDGE_GONE if call.edge else NO_EDGE)
            return
        if not call.edge:
            try:
                call.edge = ids.call_stream_subject(msg.reply, self._agent_id)
            except ids.InvalidId as exc:
                logs.event(log, "call frame dropped", logging.WARNING, reason=str(exc))
                return
            pending, call.pending, call.pending_bytes = call.pending, [], 0
            for data in pending:
                await self._to_edge(stream, call, data)
            if call.cancelled:
                self._calls.pop(stream, None)
                return
        frame = stream_pb2.Frame.FromString(msg.data)
        kind = frame.WhichOneof("kind")
        if kind not in _FROM_EDGE:
            return
        frame.stream = stream
        if answer_ends(frame):
            self._calls.pop(stream, None)
        # Data the edge sends is bounded by the credit the container granted; the writer's own
        # bound catches a container that stopped reading.
        if not self._offer(encode(frame), kind in ("credit", "error")):
            self._calls.pop(stream, None)
            await self._cancel_at_edge(call)
            logs.event(
                log, "call abandoned", logging.WARNING, container=self._container_id, reason=NOT_READING
            )

    async def probe(self) -> None:
        """An empty credit to the edge of each open call: costs the edge nothing, and if the edge
        is gone NATS answers "no responders", which fails the call (from_edge)."""
        empty = stream_pb2.Frame(credit=stream_pb2.Credit(bytes=0)).SerializeToString()
        for stream, call in list(self._calls.items()):
            if call.edge:
                await self._to_edge(stream, call, empty)

    async def close(self) -> None:
        """The container is gone: its calls are cancelled at their edges."""
        calls, self._calls = self._calls, {}
        for call in calls.values():
            await self._cancel_at_edge(call)

    async def _to_edge(self, stream: int, call: _Call, data: bytes) -> None:
        try:
            await self._nc.publish(call.edge, data, reply=call.reply)
        except Exception as exc:  # noqa: BLE001 - the bus is away
            self._fail(stream, 502, f"the function call could not be relayed: {exc}")

    async def _cancel_at_edge(self, call: _Call) -> None:
        if call.edge:
            cancel = stream_pb2.Frame(cancel=stream_pb2.Cancel()).SerializeToString()
            try:
                await self._nc.publish(call.edge, cancel, reply=call.reply)
            except Exception:  # noqa: BLE001 - the edge's own no-responders check ends it then
                pass

    def _fail(self, stream: int, status: int, message: str) -> None:
        self._calls.pop(stream, None)
        self._error(stream, status, message)

    def _error(self, stream: int, status: int, message: str) -> None:
        error = stream_pb2.Frame(stream=stream, error=stream_pb2.StreamError(status=status, message=message))
        self._offer(encode(error), True)
