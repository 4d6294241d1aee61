"""RouteTable reads: a miss is checked in the bucket once, one read per label however many
requests ask, and an unreadable bucket is RoutesUnavailable (a 503), never an exception."""

from __future__ import annotations

import asyncio

import pytest

from berth.v1 import state_pb2
from services.edge import routing
from services.edge.routing import RoutesUnavailable, RouteTable
from tests.unit.memory_kv import MemoryKV


def record(version: int = 1) -> bytes:
    return state_pb2.Route(
        host_label="ws--app-f", app="live.app", function="f", version=version
    ).SerializeToString()


class SlowKV(MemoryKV):
    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def get(self, key: str):  # type: ignore[no-untyped-def]
        await self.gate.wait()
        return await super().get(key)


class BrokenKV(MemoryKV):
    async def get(self, key: str):  # type: ignore[no-untyped-def]
        raise ConnectionError("nats: connection closed")


async def test_a_miss_is_read_from_the_bucket_and_kept() -> None:
    kv = MemoryKV()
    await kv.put("ws--app-f", record())
    table = RouteTable(kv)  # type: ignore[arg-type]
    assert table.resolve("ws--app-f") is None
    route = await table.fetch("ws--app-f")
    assert route is not None and route.function == "f"
    assert table.resolve("ws--app-f") == route
    assert await table.fetch("ws--nothing") is None


async def test_requests_for_one_label_share_one_read() -> None:
    kv = SlowKV()
    await kv.put("ws--app-f", record())
    table = RouteTable(kv)  # type: ignore[arg-type]
    waiting = [asyncio.create_task(table.fetch("ws--app-f")) for _ in range(20)]
    await asyncio.sleep(0)
    waiting[0].cancel()  # one client going away does not cancel the read for the others
    kv.gate.set()
    results = await asyncio.gather(*waiting[1:])
    assert all(r is not None and r.version == 1 for r in results)
    assert kv.gets == 1


async def test_too_many_different_reads_at_once_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routing, "MAX_FETCHES", 3)
    kv = SlowKV()
    table = RouteTable(kv)  # type: ignore[arg-type]
    waiting = [asyncio.create_task(table.fetch(f"ws--made-up-{i}")) for i in range(3)]
    await asyncio.sleep(0)
    with pytest.raises(RoutesUnavailable):
        await table.fetch("ws--one-more")
    kv.gate.set()
    assert await asyncio.gather(*waiting) == [None, None, None]
    assert await table.fetch("ws--one-more") is None


async def test_an_unreadable_bucket_is_routes_unavailable() -> None:
    table = RouteTable(BrokenKV())  # type: ignore[arg-type]
    with pytest.raises(RoutesUnavailable):
        await table.fetch("ws--app-f")


async def test_an_unreadable_record_is_routes_unavailable() -> None:
    kv = MemoryKV()
    await kv.put("ws--app-f", b"\xff\xff not a route")
    with pytest.raises(RoutesUnavailable):
        await RouteTable(kv).fetch("ws--app-f")  # type: ignore[arg-type]
