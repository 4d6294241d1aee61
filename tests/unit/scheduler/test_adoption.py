"""A restarted scheduler adopts what agents still run; a restarted agent's lost containers are
noticed (services/scheduler/adoption.py)."""

from __future__ import annotations

from berth.v1 import bus_pb2, spec_pb2
from services.scheduler import adoption
from services.scheduler.pools import ContainerRecord, Pool, State

KEY = bus_pb2.PoolKey(app="live.hello", function="f", version=2)


def status(cid: str = "c000000000001", key: bus_pb2.PoolKey = KEY) -> bus_pb2.ContainerStatus:
    return bus_pb2.ContainerStatus(container_id=cid, pool=key, inflight=1, idle_ms=0)


def pool(*, retired: bool = False) -> Pool:
    return Pool(key=KEY, function=spec_pb2.FunctionSpec(name="f"), retired=retired)


def test_a_container_of_a_current_pool_is_adopted_ready_with_an_unknown_holder() -> None:
    assert adoption.adoptable(status(), pool())
    record = adoption.adopted("agent-1", status(), now=100.0)
    assert record.state is State.READY
    assert record.leased_to == adoption.UNKNOWN_HOLDER
    assert record.data_subject == "berth.ctr.agent-1.c000000000001"
    assert record.inflight == 1


def test_old_versions_and_retired_pools_are_not_adopted() -> None:
    old = bus_pb2.PoolKey(app="live.hello", function="f", version=1)
    assert not adoption.adoptable(status(key=old), pool())
    assert not adoption.adoptable(status(), pool(retired=True))
    assert not adoption.adoptable(status(), None)


def test_an_adopted_lease_is_freed_by_whichever_edge_releases_it() -> None:
    record = adoption.adopted("agent-1", status(), now=0.0)
    assert adoption.releasable(record, "edge-a")
    record.leased_to = "edge-a"
    assert adoption.releasable(record, "edge-a")
    assert not adoption.releasable(record, "edge-b")


def test_a_container_is_lost_only_once_missing_for_the_grace() -> None:
    ready = ContainerRecord("c000000000001", "agent-1", state=State.READY)
    booting = ContainerRecord("c000000000002", "agent-1", state=State.BOOTING)
    missing: dict[str, float] = {}
    assert adoption.lost([ready, booting], set(), missing, now=10.0) == []
    assert adoption.lost([ready, booting], set(), missing, now=10.0 + adoption.MISSING_GRACE / 2) == []
    assert adoption.lost([ready, booting], set(), missing, now=10.0 + adoption.MISSING_GRACE) == [
        "c000000000001"
    ]
    assert missing == {}


def test_a_container_reported_again_starts_its_grace_over() -> None:
    ready = ContainerRecord("c000000000001", "agent-1", state=State.READY)
    missing: dict[str, float] = {}
    adoption.lost([ready], set(), missing, now=0.0)
    adoption.lost([ready], {"c000000000001"}, missing, now=1.0)  # one beat raced its boot answer
    assert adoption.lost([ready], set(), missing, now=2.0) == []
    assert adoption.lost([ready], set(), missing, now=2.0 + adoption.MISSING_GRACE) == ["c000000000001"]
