"""Length-prefixed frames on a container's socket, read as raw payloads the way the agent's bridge
relays them (berth._wire.frames.read_payload)."""

import asyncio
import struct

import pytest

from berth._wire.frames import MAX_FRAME, WireError, encode, read_payload
from berth.v1 import stream_pb2


def reader_with(data: bytes, *, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return reader


async def test_round_trip_of_several_frames() -> None:
    frames = [
        stream_pb2.Frame(
            stream=1, request=stream_pb2.RequestHead(method="POST", path="/x", body=b"\x00" * 300)
        ),
        stream_pb2.Frame(stream=2, cancel=stream_pb2.Cancel()),
        stream_pb2.Frame(),  # empty message: a zero-length frame
    ]
    reader = reader_with(b"".join(encode(f) for f in frames))
    for frame in frames:
        data = await read_payload(reader)
        assert data is not None
        assert stream_pb2.Frame.FromString(data) == frame
    assert await read_payload(reader) is None


def test_encode_prefixes_big_endian_length() -> None:
    frame = stream_pb2.Frame(stream=7)
    data = encode(frame)
    assert struct.unpack(">I", data[:4])[0] == len(data) - 4
    assert data[4:] == frame.SerializeToString()


async def test_frame_split_across_feeds() -> None:
    data = encode(stream_pb2.Frame(stream=9, request=stream_pb2.RequestHead(path="/split")))
    reader = reader_with(data[:3], eof=False)
    pending = asyncio.ensure_future(read_payload(reader))
    await asyncio.sleep(0)
    assert not pending.done()
    reader.feed_data(data[3:])
    assert await pending == data[4:]


async def test_clean_eof_returns_none() -> None:
    assert await read_payload(reader_with(b"")) is None


async def test_oversize_frame_rejected() -> None:
    reader = reader_with(struct.pack(">I", MAX_FRAME + 1))
    with pytest.raises(ValueError, match="exceeds"):
        await read_payload(reader)


async def test_frame_of_exactly_max_size_is_not_rejected_by_length() -> None:
    reader = reader_with(struct.pack(">I", MAX_FRAME))  # then EOF: the body is missing
    # Not "exceeds the limit": the length is allowed, it is the missing body that fails.
    with pytest.raises(WireError, match="closed inside a message"):
        await read_payload(reader)


async def test_truncated_body_is_an_error_not_eof() -> None:
    data = encode(stream_pb2.Frame(stream=1, request=stream_pb2.RequestHead(path="/abc")))
    with pytest.raises(WireError, match="closed inside a message"):
        await read_payload(reader_with(data[:-1]))
