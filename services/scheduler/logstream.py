"""Reading container output back from the JetStream stream the agents (and edges) publish into.

Filters run here, on decoded lines: the stream keeps at most BERTH_LOG_MAX_LINES_PER_APP messages
per app, so reading an app's whole history to pick a function's last N lines stays bounded. A
message is one line or a batch of the edge's access lines (services/common/loglines.py): the
history shown is cut to the newest BERTH_LOG_MAX_LINES_PER_APP lines, so the cap counts lines
for readers whatever the batching, and history is held until its end to know which those are.
"""

from __future__ import annotations

import collections
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from berth.v1 import control_pb2
from services.common import loglines, provision, subjects


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
) -> AsyncGenerator[control_pb2.LogLine, None]:
    """The app's kept lines that `where` wants, oldest first; with `follow`, then new ones as they come."""
    cap = max(0, provision.log_lines_per_app())
    subject = subjects.app_logs(app_key)
    try:
        last = (await js.get_last_msg(subjects.LOG_STREAM, subject)).seq or 0
    except NotFoundError:
        last = 0
    if not last and not follow:
        return
    # With a tail or a cap, history is held back until its end is reached; the rest goes out as
    # read. A wanted line older than the last `cap` wanted ones is older than the last `cap` lines.
    history = History(cap, where.tail) if cap or where.tail else None
    sub = await js.subscribe(subject, ordered_consumer=True, deliver_policy=api.DeliverPolicy.ALL)
    try:
        async for msg in sub.messages:
            lines = loglines.decode(msg.data, msg.headers)
            seq = msg.metadata.sequence.stream
            if history is not None and seq > last:
                # History ended (its last message may have been dropped by the cap meanwhile).
                for kept in history.kept():
                    yield kept
                history = None
            for line in lines:
                if history is not None:
                    history.add(line, where.wants(line))
                elif where.wants(line):
                    yield line
            if seq >= last:
                if history is not None:
                    for kept in history.kept():
                        yield kept
                    history = None
                if not follow:
                    return
    finally:
        await sub.unsubscribe()


class History:
    """An app's history as read: the wanted lines among its newest `cap` lines (0: all), the last
    `tail` of them (0: all)."""

    def __init__(self, cap: int, tail: int) -> None:
        self._cap = cap
        self._tail = tail
        self._count = 0
        room = min(n for n in (cap, tail) if n)
        self._held: collections.deque[tuple[int, control_pb2.LogLine]] = collections.deque(maxlen=room)

    def add(self, line: control_pb2.LogLine, wanted: bool) -> None:
        if wanted:
            self._held.append((self._count, line))
        self._count += 1

    def kept(self) -> list[control_pb2.LogLine]:
        first = self._count - self._cap if self._cap else 0
        return [line for n, line in self._held if n >= first]
