"""The Assigner's event handling behind its Effects, with time passed in: demand, grants, crash-loop
backoff and its visible failing state. No bus: a Recorder stands in for the edges and agents."""

from __future__ import annotations

import asyncio

from berth.v1 import build_pb2, bus_pb2, spec_pb2, state_pb2
from services.scheduler.agents import Agents
from services.scheduler.assignment import Assigner
from services.scheduler.backoff import BASE
from services.scheduler.state import AppStore
from tests.unit.memory_kv import MemoryKV
from tests.unit.scheduler.recorder import Clock, Recorder

ERROR = "RuntimeError: db down (at /srv/code/app.py:3)"
KEY = bus_pb2.PoolKey(app="live.a", function="web", version=1)


def make(recorder: Recorder, clock: Clock, **scaling: int) -> Assigner:
    store = AppStore(MemoryKV(), MemoryKV())  # type: ignore[arg-type]
    function = spec_pb2.FunctionSpec(
        name="web",
        web=spec_pb2.WebSpec(kind=spec_pb2.WEB_KIND_FASTAPI_ENDPOINT),
        scaling=spec_pb2.ScalingSpec(**scaling),  # type: ignore[arg-type]
    )
    spec = spec_pb2.AppSpec(name="a", functions=[function])
    images = {"web": build_pb2.BuiltImage()}
    store.records["live.a"] = state_pb2.AppRecord(spec=spec, version=1, images=images)
    agents = Agents()
    agents.heartbeat(bus_pb2.AgentHeartbeat(agent_id="agent1", capacity=100))

    async def no_env(_: spec_pb2.FunctionSpec) -> dict[str, str]:
        return {}

    return Assigner(None, store, agents, no_env, effects=recorder, clock=clock)


async def demand(sched: Assigner, waiting: int = 1, edge: str = "e1") -> None:
    await sched.on_demand(bus_pb2.Demand(edge_id=edge, pool=KEY, waiting=waiting))
    while sched._tasks:  # the boots it ordered, answered by the recorder at once
        await asyncio.gather(*list(sched._tasks))


async def test_a_demand_boots_and_the_ready_container_is_granted() -> None:
    recorder, clock = Recorder(), Clock()
    sched = make(recorder, clock)
    await demand(sched)
    assert len(recorder.boots) == 1
    booted = recorder.boots[0][1].container_id
    assert [(edge, g.container_id) for edge, g in recorder.grants] == [("e1", booted)]
    assert not recorder.failures and sched.failing_functions("live.a") == []


async def test_start_failures_back_off_fail_requests_at_once_and_show_until_a_start() -> None:
    recorder, clock = Recorder(boot_error=ERROR), Clock()
    sched = make(recorder, clock)
    await demand(sched)
    assert len(recorder.boots) == 1
    edge, failure = recorder.failures[-1]
    assert (edge, failure.status) == ("e1", 503)
    assert failure.message == f"web fails at start: {ERROR}" and failure.retry_after == 0

    # Within the wait: no boot, the request fails at once, naming the failure.
    clock.now += BASE / 2
    await demand(sched, waiting=5)
    assert len(recorder.boots) == 1 and len(recorder.failures) == 2
    assert recorder.failures[-1][1].message == f"web fails at start: {ERROR}"
    [shown] = sched.failing_functions("live.a")
    assert (shown.function, shown.last_error, shown.failures) == ("web", ERROR, 1)
    assert shown.retry_in_ms == int(BASE / 2 * 1000)

    # After it: one probe, however many wait; it fails too, and the wait doubles.
    clock.now += BASE
    await demand(sched, waiting=5)
    assert len(recorder.boots) == 2
    assert sched.failing_functions("live.a")[0].failures == 2
    clock.now += 1.5 * BASE
    await demand(sched)
    assert len(recorder.boots) == 2  # 2*BASE not over yet

    # Fixed (e.g. the secret it needed now exists): the next probe starts and serves.
    recorder.boot_error = ""
    clock.now += BASE
    await demand(sched)
    assert len(recorder.boots) == 3 and len(recorder.grants) == 1
    assert sched.failing_functions("live.a") == []


async def test_a_failing_version_is_forgotten_once_replaced() -> None:
    recorder, clock = Recorder(boot_error=ERROR), Clock()
    sched = make(recorder, clock)
    await demand(sched)
    assert sched.failing_functions("live.a")
    record = sched._store.records["live.a"]
    record.version = 2
    assert sched.failing_functions("live.a") == []  # only the current version's are shown
    sched.tick()
    assert not sched._start_failures


async def test_buffer_containers_boot_beside_the_load_and_stay_idle() -> None:
    recorder, clock = Recorder(), Clock()
    sched = make(recorder, clock, buffer_containers=1)
    await demand(sched)
    assert len(recorder.boots) == 2
    assert len(recorder.grants) == 1  # the buffer container waits for the next request, unleased
