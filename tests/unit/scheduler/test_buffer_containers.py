"""buffer_containers: idle containers kept beyond the load while a pool has traffic."""

from __future__ import annotations

from berth.v1 import bus_pb2, spec_pb2
from services.scheduler.autoscaler import Action, decide
from services.scheduler.pools import LOAD_TTL, ContainerRecord, Pool, State

NOW = 1000.0


def pool_with(*containers: ContainerRecord, buffer: int = 1, max_containers: int = 0) -> Pool:
    scaling = spec_pb2.ScalingSpec(
        buffer_containers=buffer, scaledown_window=2, max_containers=max_containers
    )
    key = bus_pb2.PoolKey(app="a", function="f", version=1)
    pool = Pool(key=key, function=spec_pb2.FunctionSpec(scaling=scaling))
    for container in containers:
        pool.containers[container.container_id] = container
    return pool


def ready(cid: str, *, inflight: int = 0, idle_for: float = 100.0) -> ContainerRecord:
    return ContainerRecord(cid, "agent", state=State.READY, inflight=inflight, idle_since=NOW - idle_for)


def test_a_first_request_boots_its_container_and_the_buffer() -> None:
    pool = pool_with()
    pool.report("e1", waiting=1, inflight=0, now=NOW)
    assert pool.boots_needed(NOW) == 2
    assert pool_with(buffer=0).wanted(NOW) == 0  # no traffic, no buffer
    unbuffered = pool_with(buffer=0)
    unbuffered.report("e1", waiting=1, inflight=0, now=NOW)
    assert unbuffered.boots_needed(NOW) == 1


def test_the_buffer_is_kept_up_from_heartbeats_without_a_fresh_demand() -> None:
    # The tick sizes without load reports; a container serving requests stands for the load.
    pool = pool_with(ready("busy", inflight=1))
    assert pool.wanted(NOW, with_load=False) == 1
    pool.containers["spare"] = ready("spare")
    assert pool.wanted(NOW, with_load=False) == 0


def test_an_idle_pool_keeps_no_buffer() -> None:
    pool = pool_with(ready("a"), ready("b"))
    pool.report("e1", waiting=0, inflight=1, now=NOW - LOAD_TTL - 1)  # stale: no traffic now
    assert pool.buffer(NOW) == 0 and pool.wanted(NOW, with_load=False) == 0
    assert {d.container.container_id: d.action for d in decide(pool, NOW, set())} == {
        "a": Action.DRAIN,
        "b": Action.DRAIN,
    }


def test_scale_down_spares_the_buffer_while_traffic_lasts() -> None:
    pool = pool_with(ready("busy", inflight=1), ready("spare1"), ready("spare2"), buffer=1)
    actions = {d.container.container_id: d.action for d in decide(pool, NOW, set())}
    assert actions == {"spare1": Action.DRAIN}  # one idle container stays as the buffer


def test_max_containers_bounds_the_buffer() -> None:
    pool = pool_with(buffer=3, max_containers=2)
    pool.report("e1", waiting=1, inflight=0, now=NOW)
    assert pool.wanted(NOW) == 4 and pool.boots_needed(NOW) == 2
