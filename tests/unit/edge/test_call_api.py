"""The pure parts of the edge's call endpoint (services/edge/call_api.py): reading the CallHead
from a body as it arrives, and keeping a spawned call's answer within the CallTable's bounds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from berth._wire import codec
from berth.v1 import stream_pb2
from services.edge.call_api import MAX_HEAD, Refused, parameters_query, read_head, read_rest, spawned_result
from services.edge.calls import CallTable, KeptResponse


def receiving(*chunks: bytes, stall: bool = False) -> Callable[[], Awaitable[dict[str, Any]]]:
    pending = list(chunks)

    async def receive() -> dict[str, Any]:
        if not pending:
            if stall:
                await asyncio.Future()
            return {"type": "http.disconnect"}
        data = pending.pop(0)
        return {"type": "http.request", "body": data, "more_body": bool(pending) or stall}

    return receive


HEAD = stream_pb2.CallHead(app="shop", function="f", parameters={"p": "1"})
INPUT = codec.encode(stream_pb2.CallInput(args=b"pickled"))


def test_a_head_split_across_chunks_is_read_and_the_rest_kept() -> None:
    data = codec.encode(HEAD) + INPUT
    read = asyncio.run(read_head(receiving(data[:2], data[2:7], data[7:]), timeout=5))
    assert read is not None
    head, rest, more = read
    assert head == HEAD and rest == INPUT and not more


def test_an_oversized_head_is_a_413_before_it_is_read() -> None:
    huge = codec.HEADER.pack(MAX_HEAD + 1)
    with pytest.raises(Refused) as refused:
        asyncio.run(read_head(receiving(huge), timeout=5))
    assert refused.value.status == 413


@pytest.mark.parametrize(
    "body", [b"", b"\x00\x00", codec.HEADER.pack(10) + b"short", codec.HEADER.pack(2) + b"\xff\xff"]
)
def test_a_body_without_a_call_head_is_a_400(body: bytes) -> None:
    with pytest.raises(Refused) as refused:
        asyncio.run(read_head(receiving(body), timeout=5))
    assert refused.value.status == 400


def test_a_stalled_body_is_a_408() -> None:
    with pytest.raises(Refused) as refused:
        asyncio.run(read_head(receiving(b"\x00", stall=True), timeout=0.01))
    assert refused.value.status == 408


def test_a_spawns_input_past_its_bound_is_a_413() -> None:
    with pytest.raises(Refused) as refused:
        asyncio.run(read_rest(receiving(b"x" * 10, b"y" * 10), b"", True, limit=15, timeout=5))
    assert refused.value.status == 413


def test_parameters_are_spelled_as_a_query_string() -> None:
    assert parameters_query({"b": "x y", "a": "1"}) == b"a=1&b=x+y"


def test_a_spawned_result_over_the_bound_is_kept_as_a_call_error() -> None:
    table = CallTable(max_calls=4, max_result=100, max_bytes=1000, ttl=60)
    call = table.open("live.shop", "f", spawned=True)
    assert call is not None
    kept = KeptResponse(table, call)
    kept.keep({"type": "http.response.start", "status": 200, "headers": []})
    kept.keep({"type": "http.response.body", "body": b"x" * 101})
    assert kept.result() is None
    result = spawned_result(kept, call, 100)
    [output] = codec.Decoder(stream_pb2.CallOutput.FromString, 1 << 20).feed(result.body)
    assert result.status == 200 and output.error.type == "ResultTooLarge"
    assert table.held_bytes == 0
