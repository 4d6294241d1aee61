"""Which ready container goes to which edge."""

from __future__ import annotations

from berth.v1 import bus_pb2, spec_pb2
from services.scheduler import leasing
from services.scheduler.pools import ContainerRecord, Pool, State

NOW = 1000.0


def pool_of(*states: State, max_inputs: int = 1, leased: tuple[str, ...] = ()) -> Pool:
    scaling = spec_pb2.ScalingSpec(max_inputs=max_inputs)
    key = bus_pb2.PoolKey(app="a", function="f", version=1)
    pool = Pool(key=key, function=spec_pb2.FunctionSpec(scaling=scaling))
    for i, state in enumerate(states):
        cid = f"c{i}"
        holder = "e9" if cid in leased else ""
        pool.containers[cid] = ContainerRecord(cid, "agent", state=state, leased_to=holder)
    return pool


def test_a_demand_gets_as_many_free_ready_containers_as_its_queue_fills() -> None:
    pool = pool_of(State.READY, State.READY, State.BOOTING, State.READY, leased=("c1",))
    pool.report("e1", waiting=5, inflight=0, now=NOW)
    assert [c.container_id for c in leasing.for_demand(pool, "e1", NOW)] == ["c0", "c3"]
    pool.report("e1", waiting=1, inflight=0, now=NOW)
    assert [c.container_id for c in leasing.for_demand(pool, "e1", NOW)] == ["c0"]


def test_each_container_covers_max_inputs_requests() -> None:
    pool = pool_of(State.READY, State.READY, State.READY, max_inputs=4)
    pool.report("e1", waiting=5, inflight=0, now=NOW)
    assert len(leasing.for_demand(pool, "e1", NOW)) == 2


def test_nothing_for_an_edge_with_nothing_waiting_or_a_stale_report() -> None:
    pool = pool_of(State.READY)
    assert leasing.for_demand(pool, "e1", NOW) == []
    pool.report("e1", waiting=3, inflight=0, now=NOW - 60)
    assert leasing.for_demand(pool, "e1", NOW) == []

