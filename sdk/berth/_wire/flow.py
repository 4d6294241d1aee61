"""Credit-based flow control for HTTP bodies and WebSocket messages, both ways.

A sender of data (the edge for request bodies and the client's WebSocket messages, the runner for
response bodies and the app's WebSocket messages) may send while it has credit left: at most
WINDOW of unacknowledged cost, plus the one frame that used the last of it (so one WebSocket
message larger than what is left still goes once anything is left). Each data frame costs its
payload plus FRAME_COST, so that empty frames cannot flood a receiver either. The receiver
acknowledges with `Frame(credit=Credit(bytes=n))` as it *consumes* frames (hands them to the app,
or to the client's connection), in batches of at least CREDIT_BATCH, so credit costs one small
frame per MiB. A body shorter than CREDIT_BATCH never causes a credit frame, so small requests keep
their one-frame-each-way path; credit is never sent for the last chunk of a body.

The receiver also checks the sender (ReceiveWindow.arrived): a data frame that arrives when the
sender had no credit left is a protocol violation, and the stream is aborted. What one stream can
make its receiver hold is so bounded by WINDOW plus one frame, whoever the sender is. The check
never flags a sender that kept to its credit (credit in flight only makes the sender's view smaller
than the receiver's, never larger); a sender that overruns while credit is in flight may be caught
a little late, once the receiver's own count passes WINDOW, which is what bounds the memory.

WebSocket messages larger than MAX_WS_MESSAGE (the guide's 2 MiB) are refused with close code
1009 where they enter (the edge's HTTP server for clients, the runner for apps).
"""

from __future__ import annotations

import asyncio

from berth.v1 import stream_pb2

WINDOW = 8 * 1024 * 1024
CREDIT_BATCH = 1024 * 1024
# Charged per data frame on top of its payload: about what a queued frame costs in memory.
FRAME_COST = 512
MAX_WS_MESSAGE = 2 * 1024 * 1024
WS_TOO_BIG = 1009


def cost(size: int) -> int:
    """What a data frame with `size` payload bytes costs of the window."""
    return size + FRAME_COST


def text_size(text: str) -> int:
    """UTF-8 length of `text`; free for ASCII (str.isascii is O(1))."""
    return len(text) if text.isascii() else len(text.encode())


def ws_cost(message: stream_pb2.WebSocketMessage) -> int:
    """What a WebSocket message costs of the window: its payload in bytes, plus FRAME_COST."""
    if message.WhichOneof("data") == "text":
        return cost(text_size(message.text))
    return cost(len(message.binary))


class SendWindow:
    """The sender's side: the cost it may still send before it must wait for credit."""

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
        """Returns once there is credit for another frame (or the window was closed). At most
        WINDOW plus one frame is ever in flight."""
        while self.available <= 0 and not self.closed:
            if self._event is None:
                self._event = asyncio.Event()
            self._event.clear()
            await self._event.wait()


class ReceiveWindow:
    """The receiver's side: checks that each data frame arrived within the sender's credit, and
    says when to grant more as frames are consumed."""

    __slots__ = ("outstanding", "pending")

    def __init__(self) -> None:
        self.outstanding = 0  # cost arrived and not granted back yet
        self.pending = 0  # cost consumed and not granted back yet (less than CREDIT_BATCH)

    def arrived(self, size: int) -> bool:
        """Counts a data frame of cost `size`; False if the sender had no credit left for it."""
        within = self.outstanding < WINDOW
        self.outstanding += size
        return within

    def consumed(self, size: int, *, end: bool) -> int:
        """Cost to grant now (0: nothing to send yet); `end`: the last chunk of a body."""
        if end:
            return 0
        self.pending += size
        if self.pending < CREDIT_BATCH:
            return 0
        grant, self.pending = self.pending, 0
        self.outstanding -= grant
        return grant
