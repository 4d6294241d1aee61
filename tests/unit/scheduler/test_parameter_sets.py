"""Bookkeeping that keeps a parametrized function's pools bounded: the cap on live parameter sets,
deleting idle pools, max_containers across pools, and which idle containers a set gives up."""

from __future__ import annotations

import time

import pytest

from berth.v1 import bus_pb2, spec_pb2, state_pb2
from services.scheduler.agents import Agents
from services.scheduler.assignment import Assigner, TooManyParameterSets
from services.scheduler.autoscaler import RECLAIM_IDLE, expired, reclaimable
from services.scheduler.pools import (
    LOAD_TTL,
    TOO_MANY_PARAMETER_SETS,
    ContainerRecord,
    EdgeLoad,
    Pool,
    State,
)
from services.scheduler.state import AppStore
from tests.unit.memory_kv import MemoryKV
from tests.unit.scheduler.recorder import Recorder

NOW = 1000.0
WINDOW = 10.0
ROOT = spec_pb2.ClassParameter(name="root", type=spec_pb2.PARAM_TYPE_STR, has_default=True, default=".")


def function(*, min_containers: int = 0, max_containers: int = 0) -> spec_pb2.FunctionSpec:
    scaling = spec_pb2.ScalingSpec(
        min_containers=min_containers, max_containers=max_containers, scaledown_window=WINDOW
    )
    web = spec_pb2.WebSpec(kind=spec_pb2.WEB_KIND_FASTAPI_ENDPOINT)
    return spec_pb2.FunctionSpec(name="f", scaling=scaling, parameters=[ROOT], web=web)


def pool(params: str, spec: spec_pb2.FunctionSpec | None = None, *, used_at: float = NOW) -> Pool:
    key = bus_pb2.PoolKey(app="live.a", function="f", version=1, params=params)
    return Pool(key=key, function=spec or function(), used_at=used_at)


def add(
    target: Pool, state: State = State.READY, *, idle_for: float = 0.0, inflight: int = 0
) -> ContainerRecord:
    record = ContainerRecord(
        f"{target.key.params}-{len(target.containers)}",
        "agent",
        state=state,
        inflight=inflight,
        idle_since=NOW - idle_for,
    )
    target.containers[record.container_id] = record
    return record


# -- min_containers only holds the default parameter set's pool ---------------------------------


def test_min_containers_is_the_floor_of_the_default_pool_only() -> None:
    spec = function(min_containers=2)
    assert pool("root=.", spec).floor == 2
    assert pool("root=%2Fetc", spec).floor == 0
    required = spec_pb2.ClassParameter(name="root", type=spec_pb2.PARAM_TYPE_STR)
    no_default = function(min_containers=2)
    del no_default.parameters[:]
    no_default.parameters.append(required)
    assert pool("root=x", no_default).floor == 0
    assert pool("root=%2Fetc", spec).boots_needed(NOW) == 0
    assert pool("root=.", spec).boots_needed(NOW) == 2


# -- max_containers counts the function's containers across pools -------------------------------


def test_max_containers_counts_other_pools_and_draining_containers() -> None:
    target = pool("root=c", function(max_containers=2))
    target.report("edge", waiting=3, inflight=0, now=NOW)
    assert target.wanted(NOW) == 3
    assert target.boots_needed(NOW) == 2
    assert target.boots_needed(NOW, others=1) == 1
    assert target.boots_needed(NOW, others=2) == 0
    # A draining container still runs until it is stopped: it keeps its place under the limit.
    add(target, State.DRAINING)
    assert target.boots_needed(NOW, others=1) == 0
    assert target.wanted(NOW) == 3  # the load still wants them; the limit holds them back


# -- idle pools expire -----------------------------------------------------------------------


def test_a_pool_expires_after_a_window_without_containers_or_load() -> None:
    idle = pool("root=x", used_at=NOW - WINDOW)
    assert expired(idle, NOW)
    assert not expired(pool("root=x", used_at=NOW - WINDOW + 1), NOW)


def test_containers_or_fresh_load_keep_a_pool() -> None:
    with_container = pool("root=x", used_at=NOW - 5 * WINDOW)
    add(with_container, State.DRAINING)
    assert not expired(with_container, NOW)
    with_load = pool("root=x", used_at=NOW - 5 * WINDOW)
    with_load.loads["edge"] = EdgeLoad(waiting=1, inflight=0, at=NOW)
    assert not expired(with_load, NOW)
    # A load report older than LOAD_TTL is history, not use.
    with_load.loads["edge"] = EdgeLoad(waiting=1, inflight=0, at=NOW - LOAD_TTL - 1)
    assert expired(with_load, NOW)


def test_the_default_pool_with_min_containers_and_retired_pools_do_not_expire_here() -> None:
    assert not expired(pool("root=.", function(min_containers=1), used_at=0.0), NOW)
    retired = pool("root=x", used_at=0.0)
    retired.retired = True  # the tick deletes those once drained, by their own rule
    assert not expired(retired, NOW)


def test_a_report_marks_the_pool_used() -> None:
    target = pool("root=x", used_at=0.0)
    target.report("edge", waiting=1, inflight=0, now=NOW)
    assert target.used_at == NOW and target.in_use(NOW)


# -- which idle containers other parameter sets give up ---------------------------------------


def test_reclaim_takes_the_longest_idle_ready_containers_of_sets_nobody_waits_on() -> None:
    a, b, busy_set = pool("root=a"), pool("root=b"), pool("root=busy")
    old = add(a, idle_for=RECLAIM_IDLE + 30)
    newer = add(b, idle_for=RECLAIM_IDLE + 5)
    add(a, inflight=1, idle_for=0)  # serving
    add(b, idle_for=RECLAIM_IDLE / 2)  # may not have shown its first request yet
    add(b, State.BOOTING, idle_for=99)
    add(busy_set, idle_for=99)
    busy_set.report("edge", waiting=2, inflight=0, now=NOW)  # requests wait there: it keeps its own
    found = reclaimable([a, b, busy_set], NOW, 5)
    assert [(p.key.params, c.container_id) for p, c in found] == [
        ("root=a", old.container_id),
        ("root=b", newer.container_id),
    ]
    assert reclaimable([a, b, busy_set], NOW, 1) == [(a, old)]
    assert reclaimable([a, b], NOW, 0) == []


def test_reclaim_leaves_the_default_pool_its_floor() -> None:
    default = pool("root=.", function(min_containers=1))
    oldest = add(default, idle_for=99)
    assert reclaimable([default], NOW, 1) == []
    add(default, idle_for=50)
    assert reclaimable([default], NOW, 2) == [(default, oldest)]


# -- the cap on live parameter sets, as the scheduler applies it -------------------------------


def assigner(cap: int) -> Assigner:
    store = AppStore(MemoryKV(), MemoryKV())  # type: ignore[arg-type]
    spec = spec_pb2.AppSpec(name="a", functions=[function()])
    store.records["live.a"] = state_pb2.AppRecord(spec=spec, version=1)

    async def no_env(_: spec_pb2.FunctionSpec) -> dict[str, str]:
        return {}

    return Assigner(None, store, Agents(), no_env, max_parameter_sets=cap, effects=Recorder())


def key(params: str, *, version: int = 1, fn: str = "f") -> bus_pb2.PoolKey:
    return bus_pb2.PoolKey(app="live.a", function=fn, version=version, params=params)


def test_a_new_parameter_set_past_the_cap_is_refused_and_nothing_is_made() -> None:
    sched = assigner(cap=2)
    first, second = sched._pool(key("root=a")), sched._pool(key("root=b"))
    assert first is not None and second is not None
    with pytest.raises(TooManyParameterSets) as refused:
        sched._pool(key("root=c"))
    assert TOO_MANY_PARAMETER_SETS in str(refused.value) and "allows 2" in str(refused.value)
    # Both pools were just made: the soonest could go in one window (no container, no load).
    assert refused.value.retry_after == WINDOW
    assert len(sched.pools) == 2
    # Known sets still get their pool; other versions are not this function's live pools.
    assert sched._pool(key("root=a")) is first
    assert sched._pool(key("root=c", version=2)) is None


def test_an_expired_pool_frees_its_place_on_the_next_tick() -> None:
    sched = assigner(cap=2)
    first = sched._pool(key("root=a"))
    assert first is not None and sched._pool(key("root=b")) is not None
    sched.tick()
    assert len(sched.pools) == 2  # not idle long enough yet
    first.used_at = time.monotonic() - WINDOW - 1
    sched.tick()
    assert len(sched.pools) == 1
    assert sched._pool(key("root=c")) is not None


def test_retired_pools_do_not_count_and_zero_is_no_cap() -> None:
    sched = assigner(cap=1)
    only = sched._pool(key("root=a"))
    assert only is not None
    only.retired = True
    assert sched._pool(key("root=b")) is not None
    unlimited = assigner(cap=0)
    for n in range(50):
        assert unlimited._pool(key(f"root={n}")) is not None
