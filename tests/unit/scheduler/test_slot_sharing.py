"""Several edges sharing one container's slots: the split (leasing.split, leasing.reshare, with
time passed in) and the Assigner carrying it out through its Effects (grants that set or shrink a
share, revokes of a share given up), with a Recorder in place of the bus."""

from __future__ import annotations

from berth.v1 import bus_pb2
from services.scheduler import leasing
from services.scheduler.assignment import Assigner
from services.scheduler.pools import LOAD_TTL, State
from tests.unit.scheduler.recorder import Recorder
from tests.unit.scheduler.test_assigner_effects import KEY, Clock, demand, make


def test_one_edge_gets_every_slot() -> None:
    assert leasing.split(4, {"e1": 1}) == {"e1": 4}
    assert leasing.split(4, {"e1": 50}) == {"e1": 4}


def test_slots_follow_the_load_at_least_one_each() -> None:
    assert leasing.split(4, {"e1": 4, "e2": 4}) == {"e1": 2, "e2": 2}
    assert leasing.split(4, {"e1": 9, "e2": 1}) == {"e1": 3, "e2": 1}  # the small edge keeps one
    assert leasing.split(6, {"e1": 3, "e2": 1}) == {"e1": 4, "e2": 2}
    assert leasing.split(5, {"e1": 2, "e2": 2, "e3": 2}) == {"e1": 2, "e2": 2, "e3": 1}  # ties: by id


def test_edges_without_load_get_nothing_and_every_slot_is_handed_out() -> None:
    assert leasing.split(4, {"e1": 3, "e2": 0}) == {"e1": 4}
    assert leasing.split(4, {}) == {}
    for loads in ({"a": 7, "b": 2, "c": 1}, {"a": 1, "b": 1}, {"a": 100, "b": 1, "c": 1}):
        shares = leasing.split(8, loads)
        assert sum(shares.values()) == 8 and min(shares.values()) >= 1


def test_more_edges_than_slots_serves_the_most_loaded() -> None:
    assert leasing.split(2, {"e1": 1, "e2": 5, "e3": 3}) == {"e2": 1, "e3": 1}


def container_of(sched: Assigner) -> str:
    [pool] = sched.pools.values()
    [cid] = pool.containers
    return cid


async def two_edges_on_one_container(recorder: Recorder, clock: Clock) -> Assigner:
    sched = make(recorder, clock, max_inputs=4, max_containers=1)
    await demand(sched, waiting=6, edge="e1")  # boots the one container, leased whole to e1
    await demand(sched, waiting=3, edge="e2")
    return sched


async def test_a_second_edge_queueing_gets_a_share_and_the_first_is_shrunk() -> None:
    recorder, clock = Recorder(), Clock()
    sched = await two_edges_on_one_container(recorder, clock)
    cid = container_of(sched)
    # e1's load: 4 in flight + 2 waiting, e2's: 3 waiting. One slot each, the 2 others by load
    # (1.33 and 0.67): 1 + 1 and 1 + 1, the larger fraction first.
    assert [(e, g.container_id, g.slots) for e, g in recorder.grants] == [
        ("e1", cid, 4),
        ("e1", cid, 2),
        ("e2", cid, 2),
    ]
    assert not recorder.revokes
    [pool] = sched.pools.values()
    assert pool.containers[cid].shares == {"e1": 2, "e2": 2}


async def test_single_edge_demand_sends_no_extra_message() -> None:
    recorder, clock = Recorder(), Clock()
    sched = make(recorder, clock, max_inputs=4, max_containers=1)
    await demand(sched, waiting=6, edge="e1")
    await demand(sched, waiting=2, edge="e1")  # still queueing alone: it already holds every slot
    assert [(e, g.slots) for e, g in recorder.grants] == [("e1", 4)] and not recorder.revokes


async def test_an_edge_gone_quiet_gives_its_share_up_to_one_still_queueing() -> None:
    recorder, clock = Recorder(), Clock()
    sched = await two_edges_on_one_container(recorder, clock)
    cid = container_of(sched)
    clock.now += LOAD_TTL + 1  # e1 stopped reporting: its load is history, and its agent says
    sched.pools[next(iter(sched.pools))].containers[cid].inflight = 0  # nothing runs there
    recorder.grants.clear()
    await demand(sched, waiting=5, edge="e2")
    assert [(e, r.container_id) for e, r in recorder.revokes] == [("e1", cid)]
    assert [(e, g.slots) for e, g in recorder.grants] == [("e2", 4)]
    # e1's release (its requests there ended) changes nothing more: e2 already holds every slot.
    await sched.on_released(bus_pb2.LeaseReleased(edge_id="e1", container_id=cid))
    [pool] = sched.pools.values()
    assert pool.containers[cid].shares == {"e2": 4} and not pool.containers[cid].leaving
    assert [(e, g.slots) for e, g in recorder.grants] == [("e2", 4)]


async def test_a_sharer_releasing_hands_its_slots_to_the_other() -> None:
    recorder, clock = Recorder(), Clock()
    sched = await two_edges_on_one_container(recorder, clock)
    cid = container_of(sched)
    recorder.grants.clear()
    await sched.on_released(bus_pb2.LeaseReleased(edge_id="e2", container_id=cid))
    assert [(e, g.slots) for e, g in recorder.grants] == [("e1", 4)]


async def test_draining_a_shared_container_revokes_every_share_and_stops_after_the_last() -> None:
    recorder, clock = Recorder(), Clock()
    sched = await two_edges_on_one_container(recorder, clock)
    cid = container_of(sched)
    [pool] = sched.pools.values()
    sched.drain(pool, pool.containers[cid], "test")
    while sched._tasks:
        await sched._tasks.pop()
    assert sorted(e for e, _ in recorder.revokes) == ["e1", "e2"]
    await sched.on_released(bus_pb2.LeaseReleased(edge_id="e1", container_id=cid))
    assert not recorder.stops and pool.containers[cid].state is State.DRAINING
    await sched.on_released(bus_pb2.LeaseReleased(edge_id="e2", container_id=cid))
    while sched._tasks:
        await sched._tasks.pop()
    assert [o.container_id for _, o in recorder.stops] == [cid]


async def test_an_edge_restarting_leaves_its_share_to_the_others() -> None:
    recorder, clock = Recorder(), Clock()
    sched = await two_edges_on_one_container(recorder, clock)
    cid = container_of(sched)
    await sched.on_edge_hello(bus_pb2.EdgeHello(edge_id="e1"))
    [pool] = sched.pools.values()
    assert pool.containers[cid].shares == {"e2": 2} and pool.containers[cid].leased_to == "e2"
    assert KEY == pool.key


async def test_a_quiet_holder_still_serving_keeps_one_slot() -> None:
    recorder, clock = Recorder(), Clock()
    sched = await two_edges_on_one_container(recorder, clock)
    cid = container_of(sched)
    clock.now += LOAD_TTL + 1  # e1 stopped reporting (nothing queues there) ...
    [pool] = sched.pools.values()
    pool.containers[cid].inflight = 4  # ... but the heartbeat shows more running than e2 reports
    recorder.grants.clear()
    await demand(sched, waiting=5, edge="e2")
    assert not recorder.revokes
    assert [(e, g.slots) for e, g in recorder.grants] == [("e1", 1), ("e2", 3)]
