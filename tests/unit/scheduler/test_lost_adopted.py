"""A container adopted by a restarted scheduler has no known holder (edges do not report their
leases). If it is then lost, every edge must hear of it: the requests in flight on it would
otherwise wait out the function's timeout at whichever edge holds it."""

from __future__ import annotations

from berth.v1 import bus_pb2
from services.common import subjects
from services.scheduler.adoption import MISSING_GRACE
from tests.unit.scheduler.recorder import Clock, Recorder
from tests.unit.scheduler.test_agent_failover import KEY, make, settle


async def test_a_lost_adopted_container_is_revoked_at_every_edge() -> None:
    recorder, clock = Recorder(), Clock()
    sched = make(recorder, clock, ["a1"])
    running = [bus_pb2.ContainerStatus(container_id="cadopted00001", pool=KEY)]
    sched.on_heartbeat(bus_pb2.AgentHeartbeat(agent_id="a1", capacity=10, containers=running))
    await settle(sched)
    assert any("cadopted00001" in pool.containers for pool in sched.pools.values())

    # The agent restarts without it: its heartbeats stop listing it.
    for _ in range(int(MISSING_GRACE) + 2):
        clock.now += 1.0
        sched.on_heartbeat(bus_pb2.AgentHeartbeat(agent_id="a1", capacity=10))
        await settle(sched)

    told = bus_pb2.LeaseRevoke(container_id="cadopted00001", lost=True)
    assert (subjects.EVERY_EDGE, told) in recorder.revokes


async def test_a_container_with_a_known_holder_is_revoked_at_that_edge_only() -> None:
    recorder, clock = Recorder(), Clock()
    sched = make(recorder, clock, ["a1"])
    await sched.on_demand(bus_pb2.Demand(edge_id="e1", pool=KEY, waiting=1))
    await settle(sched)
    (edge, grant), = recorder.grants
    for _ in range(int(MISSING_GRACE) + 2):
        clock.now += 1.0
        sched.on_heartbeat(bus_pb2.AgentHeartbeat(agent_id="a1", capacity=10))
        await settle(sched)
    lost = [(e, r) for e, r in recorder.revokes if r.container_id == grant.container_id]
    assert lost and all(e == edge and r.lost for e, r in lost)
