"""How many containers a pool's load calls for: requests running plus queued, as edges report."""

from berth.v1 import bus_pb2, spec_pb2
from services.scheduler.pools import LOAD_TTL, ContainerRecord, Pool, State

NOW = 1000.0


def make_pool(
    *, max_inputs: int = 0, target_inputs: int = 0, min_containers: int = 0, max_containers: int = 0
) -> Pool:
    scaling = spec_pb2.ScalingSpec(
        max_inputs=max_inputs,
        target_inputs=target_inputs,
        min_containers=min_containers,
        max_containers=max_containers,
    )
    return Pool(
        key=bus_pb2.PoolKey(app="a", function="f", version=1),
        function=spec_pb2.FunctionSpec(scaling=scaling),
    )


def add(pool: Pool, state: State, *, leased_to: str = "") -> ContainerRecord:
    record = ContainerRecord(f"c{len(pool.containers)}", "agent", state=state, leased_to=leased_to)
    pool.containers[record.container_id] = record
    return record


def test_no_load_needs_nothing() -> None:
    assert make_pool().boots_needed(NOW) == 0


def test_one_container_per_concurrent_request_by_default() -> None:
    pool = make_pool()
    pool.report("edge-1", waiting=2, inflight=0, now=NOW)
    pool.report("edge-2", waiting=1, inflight=0, now=NOW)
    assert pool.boots_needed(NOW) == 3


def test_load_counts_running_requests_so_bursts_do_not_overshoot() -> None:
    pool = make_pool()
    for _ in range(4):
        add(pool, State.READY, leased_to="edge-1")
    # 4 running and 28 queued: 32 concurrent requests need 32 containers, not 4 + 28 + more.
    pool.report("edge-1", waiting=28, inflight=4, now=NOW)
    assert pool.boots_needed(NOW) == 28
    for _ in range(28):
        add(pool, State.BOOTING)
    pool.report("edge-1", waiting=28, inflight=4, now=NOW + 0.5)
    assert pool.boots_needed(NOW + 0.5) == 0


def test_load_divided_by_max_inputs_rounds_up() -> None:
    pool = make_pool(max_inputs=4)
    pool.report("edge-1", waiting=5, inflight=0, now=NOW)
    assert pool.boots_needed(NOW) == 2
    pool.report("edge-1", waiting=4, inflight=0, now=NOW)
    assert pool.boots_needed(NOW) == 1


def test_target_inputs_scales_out_before_the_limit() -> None:
    pool = make_pool(max_inputs=10, target_inputs=2)
    pool.report("edge-1", waiting=0, inflight=6, now=NOW)
    assert pool.boots_needed(NOW) == 3
    assert make_pool(max_inputs=2, target_inputs=50).target == 2


def test_stale_reports_are_forgotten() -> None:
    pool = make_pool()
    pool.report("edge-1", waiting=5, inflight=0, now=NOW)
    assert pool.boots_needed(NOW + LOAD_TTL + 0.1) == 0
    assert pool.waiting(NOW + LOAD_TTL + 0.1) == {}
    assert pool.waiting(NOW) == {"edge-1": 5}


def test_a_grant_moves_waiting_requests_to_running() -> None:
    pool = make_pool(max_inputs=3)
    pool.report("edge-1", waiting=5, inflight=1, now=NOW)
    pool.took("edge-1", 3)
    assert pool.waiting(NOW) == {"edge-1": 2}
    assert pool.loads["edge-1"].inflight == 4
    pool.forget_waiting()
    assert pool.waiting(NOW) == {}


def test_draining_containers_do_not_count() -> None:
    pool = make_pool()
    add(pool, State.DRAINING)
    pool.report("edge-1", waiting=1, inflight=0, now=NOW)
    assert pool.boots_needed(NOW) == 1


def test_min_containers_is_a_floor() -> None:
    pool = make_pool(min_containers=3)
    add(pool, State.READY)
    assert pool.boots_needed(NOW) == 2


def test_max_containers_caps_boots() -> None:
    pool = make_pool(max_containers=2)
    pool.report("edge-1", waiting=10, inflight=0, now=NOW)
    assert pool.boots_needed(NOW) == 2
    add(pool, State.BOOTING)
    add(pool, State.READY, leased_to="edge-1")
    assert pool.boots_needed(NOW) == 0


def test_max_containers_wins_over_min_containers() -> None:
    assert make_pool(min_containers=5, max_containers=2).boots_needed(NOW) == 2


def test_count_and_unleased_ready() -> None:
    pool = make_pool()
    free = add(pool, State.READY)
    add(pool, State.READY, leased_to="edge-1")
    add(pool, State.BOOTING)
    add(pool, State.DRAINING)
    assert pool.count(State.READY) == 2
    assert pool.count(State.BOOTING, State.READY) == 3
    assert pool.count() == 0
    assert pool.unleased_ready() == [free]


def test_max_inputs_zero_means_one() -> None:
    assert make_pool(max_inputs=0).max_inputs == 1


def test_without_load_only_min_containers_count() -> None:
    pool = make_pool(min_containers=1)
    pool.report("edge-1", waiting=0, inflight=5, now=NOW)
    assert pool.boots_needed(NOW, with_load=False) == 1
    assert pool.boots_needed(NOW) == 5
