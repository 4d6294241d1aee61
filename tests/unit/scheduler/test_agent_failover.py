"""Several agents and edges through the Assigner, with time passed in and a Recorder for the bus:
containers spread over agents, a silent agent's containers lost and replaced elsewhere, and two
edges taking turns on the one container max_containers allows."""

from __future__ import annotations

import asyncio

from berth.v1 import build_pb2, bus_pb2, spec_pb2, state_pb2
from services.scheduler.agents import AGENT_TIMEOUT, Agents
from services.scheduler.assignment import Assigner
from services.scheduler.pools import State
from services.scheduler.state import AppStore
from tests.unit.memory_kv import MemoryKV
from tests.unit.scheduler.recorder import Clock, Recorder

KEY = bus_pb2.PoolKey(app="live.a", function="web", version=1)


def make(recorder: Recorder, clock: Clock, agents: list[str], **scaling: float) -> Assigner:
    store = AppStore(MemoryKV(), MemoryKV())  # type: ignore[arg-type]
    function = spec_pb2.FunctionSpec(
        name="web",
        web=spec_pb2.WebSpec(kind=spec_pb2.WEB_KIND_FASTAPI_ENDPOINT),
        scaling=spec_pb2.ScalingSpec(**scaling),  # type: ignore[arg-type]
    )
    spec = spec_pb2.AppSpec(name="a", functions=[function])
    store.records["live.a"] = state_pb2.AppRecord(
        spec=spec, version=1, images={"web": build_pb2.BuiltImage()}
    )
    registry = Agents(clock=clock)
    for agent_id in agents:
        registry.heartbeat(bus_pb2.AgentHeartbeat(agent_id=agent_id, capacity=10, cpu=2, memory_mib=1024))

    async def no_env(_: spec_pb2.FunctionSpec) -> dict[str, str]:
        return {}

    return Assigner(None, store, registry, no_env, effects=recorder, clock=clock)


async def settle(sched: Assigner) -> None:
    while sched._tasks:  # the boots and messages it started, answered by the recorder at once
        await asyncio.gather(*list(sched._tasks))


async def demand(sched: Assigner, edge: str, waiting: int) -> None:
    await sched.on_demand(bus_pb2.Demand(edge_id=edge, pool=KEY, waiting=waiting))
    await settle(sched)


def beat(sched: Assigner, agent_id: str) -> None:
    """A heartbeat listing what the scheduler placed on the agent, as a healthy agent's would."""
    running = [
        bus_pb2.ContainerStatus(container_id=c.container_id, pool=KEY)
        for pool in sched.pools.values()
        for c in pool.containers.values()
        if c.agent_id == agent_id and c.state is not State.BOOTING
    ]
    sched.on_heartbeat(bus_pb2.AgentHeartbeat(agent_id=agent_id, capacity=10, containers=running))


def placed(sched: Assigner) -> dict[str, str]:
    return {c.container_id: c.agent_id for pool in sched.pools.values() for c in pool.containers.values()}


async def test_containers_spread_over_agents_and_a_silent_agents_are_replaced_elsewhere() -> None:
    recorder, clock = Recorder(), Clock()
    sched = make(recorder, clock, ["a1", "a2", "a3"])
    await demand(sched, "e1", waiting=3)
    before = placed(sched)
    assert sorted(before.values()) == ["a1", "a2", "a3"]  # one each: most free slots first
    assert {edge for edge, _ in recorder.grants} == {"e1"} and len(recorder.grants) == 3

    # a2 goes silent; the others keep beating and e1 keeps reporting its load.
    lost = next(cid for cid, agent in before.items() if agent == "a2")
    for _ in range(int(AGENT_TIMEOUT)):
        clock.now += 1.0
        beat(sched, "a1")
        beat(sched, "a3")
        await sched.on_demand(bus_pb2.Demand(edge_id="e1", pool=KEY, waiting=0, inflight=3))
        sched.tick()
        await settle(sched)
    assert sched.agents.dead() == [] and "a2" not in {a.agent_id for a in sched.agents.alive()}
    # Declared dead within AGENT_TIMEOUT (+ one tick): the edge is told the container is lost, so
    # what runs there fails at once, and a replacement boots on a live agent.
    assert [(edge, r.container_id, r.lost) for edge, r in recorder.revokes] == [("e1", lost, True)]
    after = placed(sched)
    assert lost not in after and len(after) == 3
    assert set(after.values()) <= {"a1", "a3"}


async def test_placement_follows_cpu_and_memory_requests() -> None:
    recorder, clock = Recorder(), Clock()
    sched = make(recorder, clock, ["a1", "a2"], cpu=1.5, memory_mib=256)
    await demand(sched, "e1", waiting=2)
    assert sorted(placed(sched).values()) == ["a1", "a2"]
    # 1.5 of each agent's 2 cores are taken: a third container fits nowhere, and waits.
    await demand(sched, "e1", waiting=3)
    assert len(placed(sched)) == 2 and not recorder.failures


async def test_a_function_no_agent_could_fit_fails_clearly() -> None:
    recorder, clock = Recorder(), Clock()
    sched = make(recorder, clock, ["a1", "a2"], memory_mib=4096)
    await demand(sched, "e1", waiting=1)
    assert not recorder.boots
    [(edge, failure)] = recorder.failures
    assert (edge, failure.status) == ("e1", 503)
    assert failure.message == (
        "no agent is large enough for this function's containers (memory=4096): "
        "lower the request or add a larger agent"
    )


async def test_two_edges_take_turns_on_the_one_container_allowed() -> None:
    recorder, clock = Recorder(), Clock()
    # One slot cannot be divided: the edges take turns. (Several slots are shared among the
    # edges at once instead: tests/unit/scheduler/test_slot_sharing.py.)
    sched = make(recorder, clock, ["a1"], max_containers=1, max_inputs=1)
    await demand(sched, "e1", waiting=8)
    [(edge, grant)] = recorder.grants
    assert edge == "e1"
    # e2 queues too: with nothing free or booting, the container is asked back from e1...
    await demand(sched, "e2", waiting=8)
    assert [(e, r.container_id, r.lost) for e, r in recorder.revokes] == [("e1", grant.container_id, False)]
    await demand(sched, "e2", waiting=8)
    assert len(recorder.revokes) == 1  # asked once, not at every Demand
    # ...and once e1's requests on it finish, leased to e2, not back to e1 however long its queue.
    await sched.on_demand(bus_pb2.Demand(edge_id="e1", pool=KEY, waiting=20))
    await sched.on_released(bus_pb2.LeaseReleased(edge_id="e1", container_id=grant.container_id))
    await settle(sched)
    assert [e for e, _ in recorder.grants] == ["e1", "e2"]
    # Then e1 is the one waiting with nothing: the turn goes back.
    await demand(sched, "e1", waiting=20)
    assert [(e, r.lost) for e, r in recorder.revokes] == [("e1", False), ("e2", False)]


async def test_one_edge_alone_keeps_its_container() -> None:
    recorder, clock = Recorder(), Clock()
    sched = make(recorder, clock, ["a1"], max_containers=1, max_inputs=4)
    await demand(sched, "e1", waiting=8)
    await demand(sched, "e1", waiting=12)
    assert not recorder.revokes
