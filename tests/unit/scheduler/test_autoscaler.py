"""Scale-down decisions."""

from berth.v1 import bus_pb2, spec_pb2
from services.scheduler.autoscaler import RELEASE_TIMEOUT, Action, decide
from services.scheduler.pools import ContainerRecord, Pool, State

NOW = 1000.0


def pool_with(*containers: ContainerRecord, min_containers: int = 0, window: float = 60) -> Pool:
    scaling = spec_pb2.ScalingSpec(min_containers=min_containers, scaledown_window=window)
    pool = Pool(
        key=bus_pb2.PoolKey(app="a", function="f", version=1), function=spec_pb2.FunctionSpec(scaling=scaling)
    )
    for container in containers:
        pool.containers[container.container_id] = container
    return pool


def ready(cid: str, *, idle_for: float, inflight: int = 0, agent: str = "agent") -> ContainerRecord:
    return ContainerRecord(cid, agent, state=State.READY, inflight=inflight, idle_since=NOW - idle_for)


def actions(pool: Pool, dead: set[str] | None = None) -> dict[str, Action]:
    return {d.container.container_id: d.action for d in decide(pool, NOW, dead or set())}


def test_idle_past_the_window_drains_busy_or_recent_does_not() -> None:
    pool = pool_with(
        ready("old", idle_for=61), ready("recent", idle_for=10), ready("busy", idle_for=99, inflight=1)
    )
    assert actions(pool) == {"old": Action.DRAIN}


def test_min_containers_keeps_the_floor() -> None:
    pool = pool_with(ready("a", idle_for=100), ready("b", idle_for=100), min_containers=1)
    assert list(actions(pool).values()) == [Action.DRAIN]


def test_draining_too_long_is_stopped() -> None:
    stuck = ContainerRecord("stuck", "agent", state=State.DRAINING, idle_since=NOW - RELEASE_TIMEOUT - 1)
    fresh = ContainerRecord("fresh", "agent", state=State.DRAINING, idle_since=NOW - 1)
    assert actions(pool_with(stuck, fresh)) == {"stuck": Action.STOP}


def test_containers_of_dead_agents_are_lost() -> None:
    pool = pool_with(ready("gone", idle_for=0, agent="dead-agent"), ready("here", idle_for=0))
    assert actions(pool, {"dead-agent"}) == {"gone": Action.LOST}
