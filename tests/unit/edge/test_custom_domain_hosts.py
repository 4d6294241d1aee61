"""Which hosts the edge looks up as custom domains: the whole name (no port, no trailing dot) when it
could be one, never a name that could not (one label, an IP address); app labels keep their key."""

from __future__ import annotations

from typing import Any

import pytest

from berth.v1 import state_pb2
from services.edge.app import Edge
from services.edge.hosts import parse
from services.edge.routing import RouteTable
from tests.unit.memory_kv import MemoryKV


@pytest.mark.parametrize(
    "text, key",
    [
        ("api.example.com", "api.example.com"),
        ("API.Example.com:8443", "api.example.com"),
        ("api.example.com.", "api.example.com"),
        ("ws--app-f.localhost:8000", "ws--app-f"),
        ("localhost:8000", ""),
        ("127.0.0.1:8000", ""),
        ("[::1]:8000", ""),
        ("-bad.example.com", ""),
    ],
)
def test_route_key_of_a_host(text: str, key: str) -> None:
    assert parse(text).key == key


async def test_a_custom_domain_resolves_from_the_bucket() -> None:
    kv = MemoryKV()
    route = state_pb2.Route(host_label="api.example.com", app="live.shop", function="f", version=3)
    await kv.put("api.example.com", route.SerializeToString())
    table = RouteTable(kv)  # type: ignore[arg-type]
    found = await table.lookup(parse("API.example.com:8000").key)
    assert found is not None and (found.app, found.function) == ("live.shop", "f")
    assert await table.lookup(parse("other.example.com").key) is None


class BrokenKV(MemoryKV):
    async def get(self, key: str):  # type: ignore[no-untyped-def]
        raise ConnectionError("nats: connection closed")


async def call(edge: Edge, host: bytes, path: str = "/") -> tuple[int, str]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await edge({"type": "http", "method": "GET", "path": path, "headers": [(b"host", host)]}, None, send)
    return sent[0]["status"], sent[1]["body"].decode()


async def test_the_edges_own_name_answers_healthz_while_the_bucket_is_unreadable() -> None:
    edge = Edge(None, "e1", RouteTable(BrokenKV()), None)  # type: ignore[arg-type]
    edge.ready = True
    assert await call(edge, b"edge.example.com:8000", "/healthz") == (200, "ok\n")
    status, body = await call(edge, b"unknown.example.com")
    assert status == 404 and "this is the Berth edge" in body
    # An app label is still a 503: its route cannot be read.
    assert (await call(edge, b"ws--app-f.example.com"))[0] == 503
