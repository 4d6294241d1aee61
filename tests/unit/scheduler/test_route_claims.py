"""Host names (labels and custom domains) belong to one app at a time: a publish naming one another
app holds writes nothing, and stopping the app frees its names."""

from __future__ import annotations

import pytest

from berth.v1 import control_pb2, spec_pb2, state_pb2
from services.scheduler.state import AppStore, RouteTaken, record_hosts
from tests.unit.memory_kv import MemoryKV


def route(host: str, app: str) -> state_pb2.Route:
    return state_pb2.Route(host_label=host, app=app, function="f", version=1)


def record(name: str, label: str, domains: tuple[str, ...] = ()) -> state_pb2.AppRecord:
    url = control_pb2.FunctionUrl(function="f", url=f"http://{label}.localhost:8000/", custom_domains=domains)
    return state_pb2.AppRecord(spec=spec_pb2.AppSpec(name=name), version=1, urls=[url], ephemeral=True)


def test_record_hosts_are_labels_and_custom_domains() -> None:
    assert record_hosts(record("a", "ws--a-f", ("api.example.com",))) == ["ws--a-f", "api.example.com"]


async def test_a_domain_is_held_by_one_app_until_it_stops() -> None:
    routes = MemoryKV()
    store = AppStore(MemoryKV(), routes)  # type: ignore[arg-type]
    await store.publish(
        "dev.a",
        record("a", "ws--a-f", ("api.example.com",)),
        [route("ws--a-f", "dev.a"), route("api.example.com", "dev.a")],
    )
    with pytest.raises(RouteTaken, match="custom domain api.example.com is already used by app 'a'"):
        await store.publish(
            "dev.b",
            record("b", "ws--b-f", ("api.example.com",)),
            [route("ws--b-f", "dev.b"), route("api.example.com", "dev.b")],
        )
    assert "ws--b-f" not in routes.data, "a refused publish writes none of its routes"
    await store.remove("dev.a")
    assert not routes.data
    await store.publish(
        "dev.b", record("b", "ws--b-f", ("api.example.com",)), [route("api.example.com", "dev.b")]
    )
    assert set(routes.data) == {"api.example.com"}
