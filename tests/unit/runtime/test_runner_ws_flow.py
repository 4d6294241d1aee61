"""Flow control of WebSockets and credit checks in the real runner, driven over a real socket by a
hand-written agent (runner_harness.FakeAgent) speaking the frame protocol."""

import asyncio

from runner_harness import APPS, FakeAgent

from berth._wire.flow import CREDIT_BATCH, WINDOW, cost
from berth.v1 import stream_pb2

APP = APPS / "ws_flow.py"
PIECE = 64 * 1024


async def _accepted(agent: FakeAgent, path: str, query: bytes = b"") -> int:
    stream = agent.request("GET", path, query=query, websocket=True)
    accept = await agent.recv()
    assert accept is not None and accept.WhichOneof("kind") == "ws_accept", accept
    return stream


async def _messages(agent: FakeAgent, stream: int, count: int) -> list[bytes]:
    out = []
    while len(out) < count:
        frame = await agent.recv()
        assert frame is not None and frame.stream == stream
        assert frame.WhichOneof("kind") == "ws_message", frame
        out.append(frame.ws_message.binary)
    return out


async def _quiet(agent: FakeAgent) -> None:
    """Nothing more arrives for a while: the app's send() is waiting for credit."""
    try:
        frame = await asyncio.wait_for(agent.recv(), 0.5)
    except TimeoutError:
        return
    raise AssertionError(f"the runner sent {frame} without credit")


async def test_an_apps_messages_wait_for_credit(agent: FakeAgent) -> None:
    assert (await agent.start(APP, "web")).WhichOneof("kind") == "ready"
    count = 3 * WINDOW // PIECE
    stream = await _accepted(agent, "/flood", f"n={count}".encode())
    # Up to the window (plus the one message that used its last credit), then nothing.
    within = -(-WINDOW // cost(PIECE))
    first = await _messages(agent, stream, within)
    await _quiet(agent)
    agent.send(stream_pb2.Frame(stream=stream, credit=stream_pb2.Credit(bytes=cost(PIECE) * 10)))
    more = await _messages(agent, stream, 10)
    await _quiet(agent)
    agent.send(stream_pb2.Frame(stream=stream, credit=stream_pb2.Credit(bytes=3 * WINDOW)))
    rest = await _messages(agent, stream, count - within - 10)
    got = first + more + rest
    assert [int.from_bytes(m[:4], "big") for m in got] == list(range(count))  # in order, none lost
    await agent.stdout.wait_for(f"flood: all {count} sent")
    agent.send(stream_pb2.Frame(stream=stream, ws_close=stream_pb2.WebSocketClose(code=1000)))
    assert await agent.shutdown() == 0


async def test_client_messages_are_acknowledged_as_the_app_reads(agent: FakeAgent) -> None:
    assert (await agent.start(APP, "web")).WhichOneof("kind") == "ready"
    stream = await _accepted(agent, "/echo")
    sent = 0
    credits = []
    for _ in range(2 * CREDIT_BATCH // PIECE):
        agent.send(stream_pb2.Frame(stream=stream, ws_message=stream_pb2.WebSocketMessage(text="x" * PIECE)))
        sent += cost(PIECE)
        while True:  # the echo, and any credit before it
            frame = await agent.recv()
            assert frame is not None
            if frame.WhichOneof("kind") != "credit":
                break
            credits.append(frame.credit.bytes)
        assert frame.ws_message.text == "X" * PIECE
    assert credits and all(c >= CREDIT_BATCH for c in credits), credits
    assert sent - CREDIT_BATCH < sum(credits) <= sent
    assert await agent.shutdown() == 0


async def test_an_edge_sending_past_its_credit_is_aborted(agent: FakeAgent) -> None:
    assert (await agent.start(APP, "web")).WhichOneof("kind") == "ready"
    stream = await _accepted(agent, "/sink")
    message = stream_pb2.WebSocketMessage(binary=b"m" * PIECE)
    for _ in range(WINDOW // PIECE + 2):  # the app reads nothing: no credit comes back
        agent.send(stream_pb2.Frame(stream=stream, ws_message=message))
    close = await agent.recv()
    assert close is not None and close.stream == stream and close.WhichOneof("kind") == "ws_close", close
    assert close.ws_close.code == 1011 and "credit" in close.ws_close.reason
    await agent.stderr.wait_for("the edge sent past its flow-control credit")
    # The same for a request body: the stream ends with a 502, the container serves on.
    body_stream = agent.request("POST", "/hold", body=b"b" * PIECE, end=False)
    for _ in range(WINDOW // PIECE + 2):
        agent.send(stream_pb2.Frame(stream=body_stream, body=stream_pb2.Chunk(data=b"b" * PIECE)))
    frames = []
    while not frames or frames[-1].WhichOneof("kind") != "error":
        frame = await agent.recv()
        assert frame is not None and frame.stream == body_stream
        frames.append(frame)
    assert frames[-1].error.status == 502 and "credit" in frames[-1].error.message
    assert await agent.shutdown(grace=1.0) == 0


async def test_a_message_over_the_limit_closes_with_1009(agent: FakeAgent) -> None:
    assert (await agent.start(APP, "web")).WhichOneof("kind") == "ready"
    stream = await _accepted(agent, "/big")
    close = await agent.recv()
    assert close is not None and close.stream == stream and close.WhichOneof("kind") == "ws_close", close
    assert close.ws_close.code == 1009 and "2 MiB limit" in close.ws_close.reason
    await agent.stderr.wait_for("ValueError: WebSocket message of 2097153 bytes is over the 2 MiB limit")
    assert await agent.shutdown() == 0
