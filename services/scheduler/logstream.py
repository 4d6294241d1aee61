"""Reading container output back from the JetStream stream the agents (and edges) publish into.

Filters run here, on decoded lines: the stream keeps at most BERTH_LOG_MAX_LINES_PER_APP lines per
app, so reading an app's whole history to pick a function's last N lines stays bounded.
"""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator
from dataclasses import dataclass

from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from berth.v1 import control_pb2
from services.common import subjects


@dataclass(frozen=True)
class Filter:
    """Which lines a reader wants: one function's ("" for all), from a time on, the last `tail`."""

    function: str = ""
    since_ms: int = 0
    tail: int = 0

    @classmethod
    def of(cls, request: control_pb2.AppLogsRequest) -> Filter:
        return cls(function=request.function, since_ms=request.since_ms, tail=request.tail)

    def wants(self, line: control_pb2.LogLine) -> bool:
        if self.function and line.function != self.function:
            return False
        return line.time_ms >= self.since_ms


async def read(
    js: JetStreamContext, app_key: str, *, follow: bool, where: Filter = Filter()
) -> AsyncIterator[control_pb2.LogLine]:
    """The app's kept lines that `where` wants, oldest first; with `follow`, then new ones as they come."""
    subject = subjects.app_logs(app_key)
    try:
        last = (await js.get_last_msg(subjects.LOG_STREAM, subject)).seq or 0
    except NotFoundError:
        last = 0
    if not last and not follow:
        return
    # With a tail, history is held back until its end is reached; the rest goes out as read.
    held: collections.deque[control_pb2.LogLine] | None = (
        collections.deque(maxlen=where.tail) if where.tail else None
    )
    sub = await js.subscribe(subject, ordered_consumer=True, deliver_policy=api.DeliverPolicy.ALL)
    try:
        async for msg in sub.messages:
            line = control_pb2.LogLine.FromString(msg.data)
            seq = msg.metadata.sequence.stream
            if held is not None and seq > last:
                # History ended (its last line may have been dropped by the cap meanwhile).
                for kept in held:
                    yield kept
                held = None
            if where.wants(line):
                if held is not None:
                    held.append(line)
                else:
                    yield line
            if seq >= last:
                if held is not None:
                    for kept in held:
                        yield kept
                    held = None
                if not follow:
                    return
    finally:
        await sub.unsubscribe()
