"""The edge's side of bounded parameter sets: value lengths checked before any Demand, the
scheduler's 429 passed on with Retry-After, and no per-pool state kept once a pool holds nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from berth.v1 import bus_pb2, spec_pb2, state_pb2
from services.common.pools import ParameterError
from services.edge.app import Edge
from services.edge.leases import PoolFailed, PoolSlots
from services.edge.params import MAX_TOTAL_BYTES, MAX_VALUE_BYTES, parameter_set

ROOT = spec_pb2.ClassParameter(name="root", type=spec_pb2.PARAM_TYPE_STR, has_default=True, default=".")
TAG = spec_pb2.ClassParameter(name="tag", type=spec_pb2.PARAM_TYPE_STR, has_default=True, default="")
ROUTE = state_pb2.Route(
    host_label="local--app-f", app="live.app", function="Server.f", version=1, parameters=[ROOT, TAG]
)
KEY = bus_pb2.PoolKey(app="live.app", function="Server.f", version=1, params="root=x&tag=")


# -- lengths ---------------------------------------------------------------------------------


def test_values_up_to_the_limit_pass_and_longer_ones_name_the_parameter() -> None:
    fits = "a" * MAX_VALUE_BYTES
    assert parameter_set([ROOT], f"root={fits}".encode()) == f"root={fits}"
    with pytest.raises(ParameterError, match=r"parameter 'root' is 1025 bytes long.*at most 1024"):
        parameter_set([ROOT], f"root={fits}a".encode())
    # Percent-escapes count once decoded: %2F is one byte of the value.
    assert parameter_set([ROOT], ("root=" + "%2F" * MAX_VALUE_BYTES).encode()) == "root=" + "%2F" * 1024
    with pytest.raises(ParameterError, match="'root'"):
        parameter_set([ROOT], ("root=" + "%2F" * (MAX_VALUE_BYTES + 1)).encode())
    # Bytes as UTF-8 carries them: 342 euro signs are 1026 bytes, though 342 characters.
    with pytest.raises(ParameterError, match="1026 bytes"):
        parameter_set([ROOT], ("root=" + "%E2%82%AC" * 342).encode())
    assert parameter_set([ROOT], "root=€".encode()).startswith("root=")  # raw non-ASCII bytes are fine
    with pytest.raises(ParameterError, match="'root'"):
        parameter_set([ROOT], b"root=" + b"\xff" * 600)  # 600 raw bytes, 1200 once decoded


def test_all_values_together_are_bounded_and_the_apps_own_keys_are_not() -> None:
    many = [spec_pb2.ClassParameter(name=f"p{n}", type=spec_pb2.PARAM_TYPE_STR) for n in range(5)]
    query = "&".join(f"p{n}={'v' * MAX_VALUE_BYTES}" for n in range(5))
    with pytest.raises(ParameterError, match=f"more than {MAX_TOTAL_BYTES} bytes"):
        parameter_set(many, query.encode())
    # A long undeclared key is the app's business; repeating a declared one counts every copy.
    assert parameter_set([ROOT], ("other=" + "x" * 5000 + "&root=y").encode()) == "root=y"
    repeated = "&".join(["root=" + "r" * MAX_VALUE_BYTES] * 5)
    with pytest.raises(ParameterError, match="together"):
        parameter_set([ROOT], repeated.encode())
    assert parameter_set([], b"anything=" + b"x" * 5000) == ""


# -- the request chain -----------------------------------------------------------------------


class Routes:
    def resolve(self, label: str) -> state_pb2.Route | None:
        return ROUTE if label == ROUTE.host_label else None

    async def fetch(self, label: str) -> state_pb2.Route | None:
        return self.resolve(label)


async def call(
    edge: Edge, query: bytes, refusal: PoolFailed | None = None
) -> tuple[int, dict[bytes, bytes], str, list[Any]]:
    sent: list[dict[str, Any]] = []
    acquired: list[Any] = []

    async def acquire(host: str, key: Any) -> Any:
        acquired.append(key)
        raise refusal or PoolFailed(503, "no pool in this test")

    edge._acquire = acquire  # type: ignore[method-assign]

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": query,
        "headers": [(b"host", b"local--app-f.localhost")],
    }
    await edge(scope, None, send)
    return sent[0]["status"], dict(sent[0]["headers"]), sent[1]["body"].decode(), acquired


def make_edge() -> Edge:
    return Edge(None, "e1", Routes(), None)  # type: ignore[arg-type]


async def test_an_over_long_value_is_a_400_before_any_demand() -> None:
    status, _, body, acquired = await call(make_edge(), b"root=" + b"x" * (MAX_VALUE_BYTES + 1))
    assert status == 400 and "parameter 'root'" in body and "at most 1024 bytes" in body
    assert acquired == []


async def test_the_schedulers_refusal_is_a_429_with_retry_after() -> None:
    message = "too many distinct parameter sets: Server.f already has 3 live container pools"
    refusal = PoolFailed(429, message, retry_after=7)
    status, headers, body, acquired = await call(make_edge(), b"root=new", refusal)
    assert (status, headers[b"retry-after"], body.strip()) == (429, b"7", message)
    assert [key.params for key in acquired] == ["root=new&tag="]


# -- the edge forgets pools that hold nothing ------------------------------------------------


class Scheduler:
    def __init__(self) -> None:
        self.released: list[str] = []
        self.asks: list[int] = []

    async def ask(self, key: bus_pb2.PoolKey, waiting: int, inflight: int) -> None:
        self.asks.append(waiting)

    async def release(self, container_id: str) -> None:
        self.released.append(container_id)


def slots_with_forgotten(sched: Scheduler) -> tuple[PoolSlots, list[PoolSlots]]:
    forgotten: list[PoolSlots] = []
    return PoolSlots(KEY, sched.ask, sched.release, on_unused=forgotten.append), forgotten


def grant(cid: str) -> bus_pb2.LeaseGrant:
    return bus_pb2.LeaseGrant(pool=KEY, container_id=cid, data_subject=f"d.{cid}", slots=1)


async def test_a_failed_pool_is_forgotten_once_its_waiters_have_their_answer() -> None:
    sched = Scheduler()
    slots, forgotten = slots_with_forgotten(sched)
    waiter = asyncio.ensure_future(slots.acquire(5))
    await asyncio.sleep(0)
    assert forgotten == []
    slots.fail(429, "too many distinct parameter sets", retry_after=3)
    with pytest.raises(PoolFailed) as failed:
        await waiter
    assert failed.value.status == 429 and failed.value.retry_after == 3
    assert forgotten and forgotten[0] is slots


async def test_a_timed_out_waiter_leaves_nothing_behind() -> None:
    slots, forgotten = slots_with_forgotten(Scheduler())
    with pytest.raises(TimeoutError):
        await slots.acquire(0.01)
    assert forgotten == [slots]


async def test_a_pool_is_kept_while_it_holds_a_lease_and_forgotten_after_the_last_revoke() -> None:
    sched = Scheduler()
    slots, forgotten = slots_with_forgotten(sched)
    slots.grant(grant("c1"))
    lease = await slots.acquire(1)
    slots.release(lease)
    assert forgotten == []  # a warm lease: the next request needs no round trip
    busy = await slots.acquire(1)
    slots.revoke("c1")
    assert forgotten == []  # a request still runs there
    slots.release(busy)
    await asyncio.sleep(0)
    assert forgotten == [slots] and sched.released == ["c1"]


async def test_the_edge_drops_a_pool_the_scheduler_refused_or_took_back() -> None:
    edge = make_edge()
    sched = Scheduler()
    edge._released = sched.release  # type: ignore[method-assign]
    refused = bus_pb2.PoolFailure(
        pool=KEY, status=429, message="too many distinct parameter sets", retry_after=9
    )
    await edge.on_control(bus_pb2.EdgeControl(failure=refused).SerializeToString())
    assert edge._pools == {}
    await edge.on_control(bus_pb2.EdgeControl(grant=grant("c1")).SerializeToString())
    assert len(edge._pools) == 1
    await edge.on_control(
        bus_pb2.EdgeControl(revoke=bus_pb2.LeaseRevoke(container_id="c1")).SerializeToString()
    )
    await asyncio.sleep(0)
    assert edge._pools == {} and sched.released == ["c1"]
