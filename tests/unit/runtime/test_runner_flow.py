"""Credit-based flow control in the real runner: response bodies wait for the edge's credit,
request bodies are acknowledged as the app reads them."""

import asyncio

from runner_harness import APPS, FakeAgent

from berth._wire.flow import CREDIT_BATCH, WINDOW, SendWindow, cost
from berth.v1 import stream_pb2

PIECE = 256 * 1024


async def _body(agent: FakeAgent, stream: int, want: int) -> tuple[int, bool]:
    """Reads response body until at least `want` bytes came (or the response ended)."""
    received = 0
    while received < want:
        frame = await agent.recv()
        assert frame is not None and frame.stream == stream
        kind = frame.WhichOneof("kind")
        if kind == "response":
            received += len(frame.response.body)
            if frame.response.end:
                return received, True
        elif kind == "response_body":
            received += len(frame.response_body.data)
            if frame.response_body.end:
                return received, True
        else:
            raise AssertionError(f"unexpected {kind} frame")
    return received, False


async def _assert_quiet(agent: FakeAgent) -> None:
    """Nothing more arrives for a while: the runner is waiting for credit."""
    try:
        frame = await asyncio.wait_for(agent.recv(), 0.5)
    except TimeoutError:
        return
    raise AssertionError(f"the runner sent {frame} without credit")


async def test_response_body_waits_for_credit(agent: FakeAgent) -> None:
    assert (await agent.start(APPS / "bulk.py", "web")).WhichOneof("kind") == "ready"
    size = 3 * WINDOW
    stream = agent.request("GET", "/download", query=f"n={size}".encode())

    received, ended = await _body(agent, stream, WINDOW)
    assert not ended
    # At most one chunk beyond the window goes out without credit.
    assert received <= WINDOW + PIECE, received
    await _assert_quiet(agent)

    agent.send(stream_pb2.Frame(stream=stream, credit=stream_pb2.Credit(bytes=WINDOW)))
    more, ended = await _body(agent, stream, 2 * WINDOW - received)
    assert not ended
    received += more
    assert received <= 2 * WINDOW + PIECE
    await _assert_quiet(agent)

    agent.send(stream_pb2.Frame(stream=stream, credit=stream_pb2.Credit(bytes=size)))
    rest, ended = await _body(agent, stream, size)
    assert ended
    assert received + rest == size
    assert await agent.shutdown() == 0


async def test_cancel_wakes_a_response_waiting_for_credit(agent: FakeAgent) -> None:
    assert (await agent.start(APPS / "bulk.py", "web")).WhichOneof("kind") == "ready"
    stream = agent.request("GET", "/download", query=f"n={2 * WINDOW}".encode())
    _, ended = await _body(agent, stream, WINDOW)
    assert not ended
    await _assert_quiet(agent)
    agent.send(stream_pb2.Frame(stream=stream, cancel=stream_pb2.Cancel()))
    # The runner is free again: a small request still answers in one frame.
    frames, head, body = await agent.response(agent.request("GET", "/download", query=b"n=5"))
    assert (head.status, body, len(frames)) == (200, b"xxxxx", 1)
    assert await agent.shutdown() == 0


async def test_small_bodies_send_no_credit(agent: FakeAgent) -> None:
    assert (await agent.start(APPS / "bulk.py", "web")).WhichOneof("kind") == "ready"
    stream = agent.request("POST", "/upload", body=b"a" * 1000, end=False)
    agent.send(
        stream_pb2.Frame(stream=stream, body=stream_pb2.Chunk(data=b"b" * (CREDIT_BATCH - 2000), end=True))
    )
    frames, head, body = await agent.response(stream)
    assert [f.WhichOneof("kind") for f in frames] == ["response"]
    assert body == str(CREDIT_BATCH - 1000).encode()
    assert await agent.shutdown() == 0


async def test_request_body_is_acknowledged_as_the_app_reads(agent: FakeAgent) -> None:
    assert (await agent.start(APPS / "bulk.py", "web")).WhichOneof("kind") == "ready"
    pieces = 40  # 10 MiB in 256 KiB chunks: more than a window, so the sender needs the credit
    stream = agent.request("POST", "/upload", body=b"a" * PIECE, end=False)
    window = SendWindow()
    window.spend(cost(PIECE))
    frames = []
    for i in range(1, pieces):
        while window.available <= 0:  # as the edge does: wait for credit before sending more
            frame = await agent.recv()
            assert frame is not None and frame.WhichOneof("kind") == "credit", frame
            frames.append(frame)
            window.grant(frame.credit.bytes)
        window.spend(cost(PIECE))
        agent.send(
            stream_pb2.Frame(stream=stream, body=stream_pb2.Chunk(data=b"a" * PIECE, end=i == pieces - 1))
        )
    rest, head, body = await agent.response(stream)
    frames += rest
    assert body == str(pieces * PIECE).encode()
    credits = [f.credit.bytes for f in frames if f.WhichOneof("kind") == "credit"]
    assert all(c >= CREDIT_BATCH for c in credits), credits
    # Everything is acknowledged but the last chunk (the edge needs no credit after it) and less
    # than a batch before it.
    total = pieces * cost(PIECE)
    assert total - cost(PIECE) - CREDIT_BATCH < sum(credits) <= total - cost(PIECE), credits
    assert frames[-1].WhichOneof("kind") == "response"
    assert await agent.shutdown() == 0
