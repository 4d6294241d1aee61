"""Writing to one container's socket from its own task, through a queue bounded in bytes.

The agent's NATS callback for request frames serves every container of the agent, so it must
never wait for one: a container that stops reading its socket (an app blocking its event loop on a
big upload) would stall every other container's requests behind it. The callback only `offer`s
frames here; this writer's task alone awaits the container. A frame that does not fit is refused
(the bridge fails that one stream with a 503), so a stuck container costs the agent at most
`limit` bytes, and nobody else waits.

The queue's bound counts the socket transport's own buffer too. On the warm path (nothing queued,
the transport's buffer nearly empty) a frame is written at once, without a hop through the task.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib

from berth._wire.flow import WINDOW

# Two full windows: one stream spending all of its credit never overflows, a container that lets
# several pile up is not reading its socket.
QUEUE_BYTES = 2 * WINDOW
# Written at once (not queued) while the transport holds less than this.
DIRECT_BYTES = 64 * 1024


class ContainerWriter:
    """The frames going to one container, written in order by one task."""

    def __init__(self, writer: asyncio.StreamWriter, limit: int = QUEUE_BYTES) -> None:
        self._writer = writer
        self._transport = writer.transport
        self.limit = limit
        self._queue: collections.deque[bytes] = collections.deque()
        self._queued = 0
        self._wake = asyncio.Event()
        self.closed = False
        self._task = asyncio.create_task(self._run(), name="container-writer")

    @property
    def pending(self) -> int:
        """Bytes waiting for the container: queued here plus the transport's buffer."""
        return self._queued + self._transport.get_write_buffer_size()

    def offer(self, data: bytes, *, force: bool = False) -> bool:
        """Queues an encoded frame; False if it does not fit (or the container's socket is gone).
        `force`: a small control frame (credit, cancel, close, shutdown) that must get through even
        to a full queue; each stream has few of those, so the bound holds all the same."""
        if self.closed or self._transport.is_closing():
            return False
        buffered = self._transport.get_write_buffer_size()
        if not self._queue and buffered < DIRECT_BYTES:
            self._writer.write(data)
            return True
        if not force and self._queued + buffered + len(data) > self.limit:
            return False
        self._queue.append(data)
        self._queued += len(data)
        self._wake.set()
        return True

    async def _run(self) -> None:
        queue = self._queue
        writer = self._writer
        try:
            while True:
                while not queue:
                    self._wake.clear()
                    await self._wake.wait()
                data = queue.popleft()
                self._queued -= len(data)
                writer.write(data)
                # Returns at once unless the transport is above its high-water mark.
                await writer.drain()
        except (ConnectionError, OSError):
            self.closed = True
            queue.clear()
            self._queued = 0

    async def close(self) -> None:
        """Stops writing (what is queued is dropped) and closes the socket."""
        self.closed = True
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        self._queue.clear()
        self._queued = 0
        with contextlib.suppress(Exception):
            self._writer.close()
