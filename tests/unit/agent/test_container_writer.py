"""The agent's per-container writer: a queue bounded in bytes in front of a real unix socket whose
reader (the container) stops reading, and the order of what gets through once it reads again."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import pytest

from berth._wire import frames
from berth.v1 import stream_pb2
from services.agent.container_writer import ContainerWriter

LIMIT = 1 << 20
PIECE = 64 * 1024


@pytest.fixture
async def pair() -> AsyncIterator[tuple[ContainerWriter, socket.socket, asyncio.StreamWriter]]:
    """A writer to one end of a socket pair; the test holds the other end (the "container")."""
    ours, container = socket.socketpair()
    _, writer = await asyncio.open_unix_connection(sock=ours)
    out = ContainerWriter(writer, limit=LIMIT)
    try:
        yield out, container, writer
    finally:
        await out.close()
        container.close()


def _frame(index: int, size: int = PIECE) -> bytes:
    return frames.encode(stream_pb2.Frame(stream=index, body=stream_pb2.Chunk(data=b"b" * size)))


async def _read_all(container: socket.socket, count: int) -> list[stream_pb2.Frame]:
    loop = asyncio.get_running_loop()
    decoder = frames.decoder()
    got: list[stream_pb2.Frame] = []
    container.setblocking(False)
    async with asyncio.timeout(30):
        while len(got) < count:
            got += decoder.feed(await loop.sock_recv(container, 1 << 16))
    return got


async def test_a_container_that_does_not_read_fills_the_queue_to_its_bound(
    pair: tuple[ContainerWriter, socket.socket, asyncio.StreamWriter],
) -> None:
    out, container, _ = pair
    accepted = 0
    for index in range(1, 1000):  # far more than the socket and the queue hold together
        if not out.offer(_frame(index)):
            break
        accepted += 1
        await asyncio.sleep(0)  # let the writer's task fill the socket as it would
    else:
        raise AssertionError("the queue took 64 MiB for a container that reads nothing")
    assert out.pending <= LIMIT + PIECE + 64 * 1024
    # Control frames still get through (each stream has few), data frames do not.
    cancel = frames.encode(stream_pb2.Frame(stream=accepted + 1, cancel=stream_pb2.Cancel()))
    assert out.offer(cancel, force=True)
    assert not out.offer(_frame(accepted + 2))
    # Once the container reads, everything accepted arrives, in order, and the queue empties.
    got = await _read_all(container, accepted + 1)
    assert [f.stream for f in got] == list(range(1, accepted + 2))
    assert got[-1].WhichOneof("kind") == "cancel"
    assert out.pending == 0  # every byte it took reached the container
    assert out.offer(_frame(1))


async def test_small_frames_are_written_at_once_without_queueing(
    pair: tuple[ContainerWriter, socket.socket, asyncio.StreamWriter],
) -> None:
    out, container, _ = pair
    assert out.offer(_frame(7, size=100))
    assert out.pending == 0  # on the socket already: nothing waited for the writer's task
    (frame,) = await _read_all(container, 1)
    assert frame.stream == 7


async def test_a_closed_socket_refuses_frames(
    pair: tuple[ContainerWriter, socket.socket, asyncio.StreamWriter],
) -> None:
    out, container, writer = pair
    container.close()
    out.offer(_frame(1))  # the transport learns of the close on a write
    with contextlib.suppress(ConnectionError):
        await asyncio.wait_for(writer.wait_closed(), 10)
    assert not out.offer(_frame(2))
