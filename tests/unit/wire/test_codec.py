"""The one length-prefix codec (berth._wire.codec), as frames and as zygote messages use it."""

from __future__ import annotations

import asyncio
import socket

import pytest

from berth._wire import codec, frames, zygote
from berth.v1 import stream_pb2, zygote_pb2


def test_byte_fed_decoder_round_trip_with_partial_tail() -> None:
    sent = [
        stream_pb2.Frame(stream=0, ready=stream_pb2.RunnerReady(pid=7)),
        stream_pb2.Frame(stream=3, response_body=stream_pb2.Chunk(data=b"x" * 1000, end=True)),
        stream_pb2.Frame(),  # an empty message is a zero-length payload
    ]
    wire = b"".join(codec.encode(f) for f in sent)
    assert wire[:4] == len(sent[0].SerializeToString()).to_bytes(4, "big")
    decoder = frames.decoder()
    # Fed one byte at a time, the messages come out whole, in order, each exactly once.
    got = [frame for i in range(len(wire)) for frame in decoder.feed(wire[i : i + 1])]
    assert got == sent
    assert decoder.feed(wire[:3]) == [] and decoder.pending == 3


def test_zygote_messages_use_the_same_codec() -> None:
    message = zygote_pb2.ZygoteMessage(forked=zygote_pb2.ZygoteForked(request_id=9, pid=1234))
    assert zygote.decoder().feed(codec.encode(message) * 2) == [message, message]


def test_decoder_refuses_a_length_over_its_limit_before_buffering_the_body() -> None:
    decoder = zygote.decoder()
    with pytest.raises(codec.WireError, match="exceeds"):
        decoder.feed((zygote.MAX_MESSAGE + 1).to_bytes(4, "big"))
    exactly = codec.Decoder(stream_pb2.Frame.FromString, 10)
    assert exactly.feed((10).to_bytes(4, "big") + bytes(9)) == []  # the limit itself is allowed


async def test_reads_frames_from_a_real_socket_split_anywhere() -> None:
    sent = [
        stream_pb2.Frame(stream=i, body=stream_pb2.Chunk(data=bytes([i]) * (i * 1000))) for i in range(1, 6)
    ]
    wire = b"".join(codec.encode(f) for f in sent)
    left, right = socket.socketpair()
    reader, writer = await asyncio.open_unix_connection(sock=left)
    try:
        with right:
            for i in range(0, len(wire), 777):  # pieces that cut headers and bodies alike
                right.sendall(wire[i : i + 777])
            right.shutdown(socket.SHUT_WR)
            got = []
            while (frame := await asyncio.wait_for(frames.read_frame(reader), 10)) is not None:
                got.append(frame)
        assert got == sent
    finally:
        writer.close()
