"""The container's caller side (berth._runtime.call_client) against a scripted agent on a real
socket pair: the request within its credit, the answer's pieces, failures, cancel, and the refusal
of a blocking call on the event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

import berth
from berth._runtime.call_client import CallClient
from berth._wire.flow import WINDOW, cost
from berth._wire.frames import CALLER_STREAM_BASE, FrameWriter, read_frame
from berth.v1 import stream_pb2

TIMEOUT = 30


@dataclass
class Pair:
    client: CallClient
    agent_reader: asyncio.StreamReader
    agent_writer: FrameWriter

    async def next_frame(self) -> stream_pb2.Frame:
        frame = await asyncio.wait_for(read_frame(self.agent_reader), TIMEOUT)
        assert frame is not None
        return frame

    def send(self, frame: stream_pb2.Frame) -> None:
        self.agent_writer.send(frame)


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    loop = asyncio.get_running_loop()
    runner_sock, agent_sock = socket.socketpair()
    runner_reader, runner_writer = await asyncio.open_connection(sock=runner_sock)
    agent_reader, agent_writer = await asyncio.open_connection(sock=agent_sock)
    client = CallClient(FrameWriter(runner_writer), loop, "dev.shop")

    async def runner_read_loop() -> None:  # what the runner's read loop does with caller streams
        while (frame := await read_frame(runner_reader)) is not None:
            client.dispatch(frame)
        client.close()

    task = asyncio.create_task(runner_read_loop())
    yield Pair(client, agent_reader, FrameWriter(agent_writer))
    task.cancel()
    runner_writer.close()
    agent_writer.close()


def _in_thread(fn: Callable[[], Any]) -> asyncio.Future[Any]:
    return asyncio.get_running_loop().run_in_executor(None, fn)


async def test_request_within_credit_and_answer_in_pieces(pair: Pair) -> None:
    assert (pair.client.app, pair.client.dev) == ("shop", True)
    body = bytes(range(256)) * (WINDOW // 256 + 4096)  # more than one window: must wait for credit
    answer = _in_thread(lambda: b"".join(pair.client.stream(body)))
    head = await pair.next_frame()
    assert head.stream >= CALLER_STREAM_BASE
    assert (head.request.method, head.request.path, head.request.end) == ("POST", "/__berth/call", False)
    received = bytearray(head.request.body)
    sent_cost = cost(len(head.request.body))
    while True:
        if sent_cost >= WINDOW:  # the caller must stop here until credit comes
            pair.send(stream_pb2.Frame(stream=head.stream, credit=stream_pb2.Credit(bytes=sent_cost)))
            sent_cost = 0
        frame = await pair.next_frame()
        assert frame.WhichOneof("kind") == "body"
        received += frame.body.data
        sent_cost += cost(len(frame.body.data))
        if frame.body.end:
            break
    assert bytes(received) == body
    pair.send(
        stream_pb2.Frame(
            stream=head.stream, response=stream_pb2.ResponseHead(status=200, body=b"ab", end=False)
        )
    )
    pair.send(stream_pb2.Frame(stream=head.stream, response_body=stream_pb2.Chunk(data=b"cd", end=False)))
    pair.send(stream_pb2.Frame(stream=head.stream, response_body=stream_pb2.Chunk(data=b"ef", end=True)))
    assert await asyncio.wait_for(answer, TIMEOUT) == b"abcdef"


async def test_platform_refusal_and_stream_error(pair: Pair) -> None:
    refused = _in_thread(lambda: list(pair.client.stream(b"x")))
    head = await pair.next_frame()
    assert head.request.end and head.request.body == b"x"
    text = b"app 'shop' has no function 'nope'"
    pair.send(
        stream_pb2.Frame(
            stream=head.stream, response=stream_pb2.ResponseHead(status=404, body=text, end=True)
        )
    )
    with pytest.raises(berth.NotFoundError, match="HTTP 404: app 'shop' has no function 'nope'"):
        await asyncio.wait_for(refused, TIMEOUT)

    failed = _in_thread(lambda: list(pair.client.stream(b"y")))
    head = await pair.next_frame()
    pair.send(
        stream_pb2.Frame(stream=head.stream, error=stream_pb2.StreamError(status=503, message="queue full"))
    )
    with pytest.raises(berth.exception.ResourceExhaustedError, match="queue full"):
        await asyncio.wait_for(failed, TIMEOUT)


async def test_abandoned_answer_cancels_the_stream(pair: Pair) -> None:
    def first_piece_only() -> bytes:
        answer = pair.client.stream(b"z")
        piece = next(answer)
        answer.close()  # type: ignore[attr-defined]
        return piece

    taken = _in_thread(first_piece_only)
    head = await pair.next_frame()
    pair.send(
        stream_pb2.Frame(
            stream=head.stream, response=stream_pb2.ResponseHead(status=200, body=b"1", end=False)
        )
    )
    assert await asyncio.wait_for(taken, TIMEOUT) == b"1"
    cancel = await pair.next_frame()
    assert (cancel.stream, cancel.WhichOneof("kind")) == (head.stream, "cancel")


async def test_lost_agent_fails_calls_in_flight(pair: Pair) -> None:
    waiting = _in_thread(lambda: list(pair.client.stream(b"w")))
    await pair.next_frame()
    pair.client.close()
    with pytest.raises(berth.Error, match="connection to its agent closed"):
        await asyncio.wait_for(waiting, TIMEOUT)


async def test_blocking_call_on_the_loop_is_refused(pair: Pair) -> None:
    with pytest.raises(berth.InvalidError, match=r"await f\.remote\.aio"):
        pair.client.stream(b"q")
