"""Credit-based flow control for HTTP bodies, shared by the runner and the edge.

A sender of body bytes (the edge for request bodies, the runner for response bodies) may have at
most WINDOW bytes in flight that the receiver has not acknowledged. The receiver acknowledges
with `Frame(credit=Credit(bytes=n))` as the bytes are *consumed* (handed to the app, or to the
HTTP client), in batches of at least CREDIT_BATCH so that credit costs one small frame per MiB.
A body shorter than CREDIT_BATCH never causes a credit frame, so small requests keep their
one-frame-each-way path. Credit is never sent for the last chunk: the sender is done by then.

The constants live here, in the SDK, because the runner inside the container only has the SDK;
the edge imports them from here so that both ends always agree.
"""

from __future__ import annotations

import asyncio

WINDOW = 8 * 1024 * 1024
CREDIT_BATCH = 1024 * 1024


class SendWindow:
    """The sender's side: bytes it may still send before it must wait for credit."""

    def __init__(self) -> None:
        self.available = WINDOW
        self.closed = False
        self._event: asyncio.Event | None = None  # made on the first wait: most bodies never wait

    def grant(self, size: int) -> None:
        self.available += size
        if self._event is not None:
            self._event.set()

    def spend(self, size: int) -> None:
        self.available -= size

    def close(self) -> None:
        """Wakes any waiter for good: the stream is over."""
        self.closed = True
        if self._event is not None:
            self._event.set()

    async def wait(self) -> None:
        """Returns once there is room for another chunk (or the window was closed). At most
        WINDOW plus one chunk is ever in flight."""
        while self.available <= 0 and not self.closed:
            if self._event is None:
                self._event = asyncio.Event()
            self._event.clear()
            await self._event.wait()


class Acknowledger:
    """The receiver's side: counts consumed bytes and says when to grant credit."""

    def __init__(self) -> None:
        self.pending = 0

    def consumed(self, size: int, *, end: bool) -> int:
        """Bytes to grant now (0: nothing to send yet)."""
        if end:
            return 0
        self.pending += size
        if self.pending < CREDIT_BATCH:
            return 0
        grant, self.pending = self.pending, 0
        return grant
