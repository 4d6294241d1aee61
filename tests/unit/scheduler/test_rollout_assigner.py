"""A Rollout carried out through a real Assigner and AppStore, the edges and agents replaced by a
Recorder (answers boots at once): the new version boots from its staged record before any route
names it, to the old version's ready count; a start failure ends the rollout and leaves nothing of
the new version behind."""

from __future__ import annotations

import pytest

from berth.v1 import build_pb2, bus_pb2, spec_pb2, state_pb2
from services.scheduler import rollout
from services.scheduler.agents import Agents
from services.scheduler.assignment import Assigner
from services.scheduler.pools import ContainerRecord, State
from services.scheduler.state import AppStore
from tests.unit.memory_kv import MemoryKV
from tests.unit.scheduler.recorder import Recorder

APP = "live.a"


def record(version: int, bundle: str) -> state_pb2.AppRecord:
    function = spec_pb2.FunctionSpec(
        name="web", web=spec_pb2.WebSpec(kind=spec_pb2.WEB_KIND_FASTAPI_ENDPOINT)
    )
    return state_pb2.AppRecord(
        spec=spec_pb2.AppSpec(name="a", functions=[function]),
        version=version,
        bundle_id=bundle,
        images={"web": build_pb2.BuiltImage(image_id=f"img{version}")},
    )


def make(recorder: Recorder, ready: int) -> tuple[AppStore, Assigner]:
    """Version 1 serving with `ready` ready containers."""
    store = AppStore(MemoryKV(), MemoryKV())  # type: ignore[arg-type]
    store.records[APP] = record(1, "b1")
    agents = Agents()
    agents.heartbeat(bus_pb2.AgentHeartbeat(agent_id="agent1", capacity=100))

    async def no_env(_: spec_pb2.FunctionSpec) -> dict[str, str]:
        return {}

    sched = Assigner(None, store, agents, no_env, effects=recorder)
    pool = sched._pool(bus_pb2.PoolKey(app=APP, function="web", version=1))
    assert pool is not None
    for i in range(ready):
        pool.containers[f"old{i}"] = ContainerRecord(f"old{i}", "agent1", state=State.READY)
    return store, sched


async def test_the_new_version_boots_from_its_staged_record_to_the_old_ones_ready_count() -> None:
    recorder = Recorder()
    store, sched = make(recorder, ready=2)
    new = record(2, "b2")
    rolling = rollout.Rollout(store, sched, APP, new)
    lines = [line async for line in rolling.warm()]
    assert "as many as version 1 has ready" in lines[0] and "is warm" in lines[-1]
    orders = [order for _, order in recorder.boots]
    assert len(orders) == 2 and all(o.pool.version == 2 and o.bundle_id == "b2" for o in orders)
    assert store.get(APP) is not None and store.get(APP).version == 1  # type: ignore[union-attr]
    # The routes move (publish), then the old version drains and its containers stop.
    store.records[APP] = new
    rolling.moved(reason="replaced by version 2")
    rolling.close()  # after moved(): nothing to undo
    assert store.record_of(APP, 2) is new
    assert all(p.retired for p in sched.pools.values() if p.key.version == 1)
    ready = [c for p in sched.pools.values() if p.key.version == 2 for c in p.containers.values()]
    assert len(ready) == 2 and all(c.state is State.READY for c in ready)


async def test_nothing_warm_moves_at_once_without_booting() -> None:
    recorder = Recorder()
    store, sched = make(recorder, ready=0)
    rolling = rollout.Rollout(store, sched, APP, record(2, "b2"))
    assert [line async for line in rolling.warm()] == []
    assert recorder.boots == []
    rolling.close()


async def test_a_start_failure_fails_the_rollout_and_leaves_the_old_version_serving() -> None:
    recorder = Recorder(boot_error="RuntimeError: version 2 refuses to start")
    store, sched = make(recorder, ready=1)
    rolling = rollout.Rollout(store, sched, APP, record(2, "b2"))
    with pytest.raises(rollout.RolloutFailed) as failed:
        async for _ in rolling.warm():
            pass
    assert str(failed.value) == (
        "version 2 did not start, so it gets no traffic: web: RuntimeError: version 2 refuses to start; "
        "version 1 keeps serving"
    )
    rolling.close()
    assert store.record_of(APP, 2) is None and store.staged_failure(bus_pb2.PoolKey(app=APP, version=2)) == ""
    assert all(p.retired for p in sched.pools.values() if p.key.version == 2)
    old = [p for p in sched.pools.values() if p.key.version == 1]
    assert len(old) == 1 and not old[0].retired and len(old[0].containers) == 1
    assert store.get(APP).version == 1  # type: ignore[union-attr]
