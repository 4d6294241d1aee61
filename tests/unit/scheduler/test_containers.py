"""The container list: rows from pools, ages from heartbeats, and finding one container."""

from __future__ import annotations

from berth.v1 import bus_pb2, spec_pb2
from services.scheduler.containers import ContainerAges, app_name, find, summaries
from services.scheduler.pools import ContainerRecord, Pool, State
from tests.unit.scheduler.recorder import Clock


def beat(agent: str, *ids: str) -> bus_pb2.AgentHeartbeat:
    return bus_pb2.AgentHeartbeat(
        agent_id=agent, containers=[bus_pb2.ContainerStatus(container_id=i) for i in ids]
    )


def pool(app: str, function: str, version: int, params: str = "", max_inputs: int = 0) -> Pool:
    return Pool(
        key=bus_pb2.PoolKey(app=app, function=function, version=version, params=params),
        function=spec_pb2.FunctionSpec(name=function, scaling=spec_pb2.ScalingSpec(max_inputs=max_inputs)),
    )


def test_ages_count_from_the_first_heartbeat_and_forget_what_stopped() -> None:
    clock = Clock(100.0)
    ages = ContainerAges(clock)
    assert ages.age_ms("a1", "c1") == 0, "never seen: still booting"
    ages.observe(beat("a1", "c1"))
    clock.now += 2.5
    ages.observe(beat("a1", "c1", "c2"))
    assert ages.age_ms("a1", "c1") == 2500 and ages.age_ms("a1", "c2") == 0
    clock.now += 1
    ages.observe(beat("a1", "c2"))
    assert ages.age_ms("a1", "c1") == 0, "gone from its agent's heartbeat, so forgotten"
    assert ages.age_ms("a1", "c2") == 1000


def test_summaries_filter_by_app_and_carry_each_field() -> None:
    clock = Clock(100.0)
    ages = ContainerAges(clock)
    web = pool("live.shop", "web", 3, max_inputs=4)
    web.containers["c2"] = ContainerRecord("c2", "a1", state=State.READY, inflight=2)
    web.containers["c1"] = ContainerRecord("c1", "a2", state=State.DRAINING)
    cls = pool("dev.shop", "Model.run", 1, params="size=2")
    cls.containers["c3"] = ContainerRecord("c3", "a1")
    other = pool("live.blog", "f", 1)
    other.containers["c4"] = ContainerRecord("c4", "a1")
    ages.observe(beat("a1", "c2"))
    clock.now += 3

    rows = summaries([web, cls, other], ages, app="shop")
    assert [(r.container_id, r.ephemeral) for r in rows] == [("c1", False), ("c2", False), ("c3", True)]
    c2 = rows[1]
    assert (c2.app, c2.function, c2.version, c2.state, c2.inflight, c2.max_inputs) == (
        "shop",
        "web",
        3,
        "ready",
        2,
        4,
    )
    assert (c2.agent_id, c2.age_ms) == ("a1", 3000)
    assert rows[0].state == "draining" and rows[2].parameters == "size=2" and rows[2].state == "booting"
    assert len(summaries([web, cls, other], ages)) == 4
    assert summaries([web], ages, app="blog") == []


def test_find_and_app_names() -> None:
    web = pool("live.shop", "web", 1)
    web.containers["c1"] = ContainerRecord("c1", "a1")
    found = find([pool("live.x", "f", 1), web], "c1")
    assert found is not None and found[0] is web and found[1].container_id == "c1"
    assert find([web], "c9") is None
    assert app_name("live.shop") == ("shop", False) and app_name("dev.my-app") == ("my-app", True)
