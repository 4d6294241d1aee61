"""Edge side of body flow control: credit frames feed a stream's window, and the request body
pump stops at the window until the container grants more."""

import asyncio
from types import SimpleNamespace
from typing import Any

from berth._wire.flow import WINDOW
from berth.v1 import stream_pb2
from services.edge.proxy import CHUNK, _pump_body
from services.edge.relay import Relay

MIB = 1024 * 1024


class FakeNats:
    is_connected = True

    def __init__(self) -> None:
        self.published: list[stream_pb2.Frame] = []
        self.changed = asyncio.Event()

    async def publish(self, subject: str, data: bytes, reply: str = "") -> None:
        self.published.append(stream_pb2.Frame.FromString(data))
        self.changed.set()

    async def until(self, predicate: Any) -> None:
        async with asyncio.timeout(10):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

    def body_bytes(self) -> int:
        return sum(len(f.body.data) for f in self.published if f.WhichOneof("kind") == "body")


def deliver(relay: Relay, reply: str, frame: stream_pb2.Frame) -> Any:
    return relay._on_frame(SimpleNamespace(subject=reply, data=frame.SerializeToString()))  # type: ignore[arg-type]


async def test_credit_frames_feed_the_window_not_the_response_queue() -> None:
    relay = Relay(FakeNats(), "e1")  # type: ignore[arg-type]
    stream = relay.open()
    stream.window.spend(WINDOW)
    await deliver(relay, stream.reply, stream_pb2.Frame(credit=stream_pb2.Credit(bytes=123)))
    assert stream.frames.empty()
    assert stream.window.available == 123
    await deliver(
        relay, stream.reply, stream_pb2.Frame(response=stream_pb2.ResponseHead(status=200, end=True))
    )
    assert stream.frames.qsize() == 1
    stream.close()


async def test_request_body_waits_for_credit() -> None:
    nats = FakeNats()
    relay = Relay(nats, "e1")  # type: ignore[arg-type]
    stream = relay.open()
    total = 3 * WINDOW
    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for sent in range(MIB, total + 1, MIB):
        messages.put_nowait({"type": "http.request", "body": b"x" * MIB, "more_body": sent < total})
    pump = asyncio.create_task(_pump_body(messages.get, stream, "data", b"", True, 30, 30))
    try:
        await nats.until(lambda: nats.body_bytes() >= WINDOW)
        await asyncio.sleep(0.05)
        assert nats.body_bytes() <= WINDOW + CHUNK, "more than the window went out without credit"

        await deliver(relay, stream.reply, stream_pb2.Frame(credit=stream_pb2.Credit(bytes=total)))
        await nats.until(lambda: nats.body_bytes() == total)
        assert nats.published[-1].body.end
    finally:
        pump.cancel()
        stream.close()
