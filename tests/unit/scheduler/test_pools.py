"""How many containers a pool's waiting requests call for."""

from berth.v1 import bus_pb2, spec_pb2
from services.scheduler.pools import ContainerRecord, Pool, State


def make_pool(*, max_inputs: int = 0, min_containers: int = 0, max_containers: int = 0) -> Pool:
    scaling = spec_pb2.ScalingSpec(
        max_inputs=max_inputs, min_containers=min_containers, max_containers=max_containers
    )
    return Pool(
        key=bus_pb2.PoolKey(app="a", function="f", version=1),
        function=spec_pb2.FunctionSpec(scaling=scaling),
    )


def add(pool: Pool, state: State, *, leased_to: str = "") -> ContainerRecord:
    record = ContainerRecord(f"c{len(pool.containers)}", "agent", state=state, leased_to=leased_to)
    pool.containers[record.container_id] = record
    return record


def test_no_demand_needs_nothing() -> None:
    assert make_pool().boots_needed() == 0


def test_one_container_per_waiting_request_by_default() -> None:
    pool = make_pool()
    pool.demand = {"edge-1": 2, "edge-2": 1}
    assert pool.boots_needed() == 3


def test_demand_divided_by_max_inputs_rounds_up() -> None:
    pool = make_pool(max_inputs=4)
    pool.demand = {"edge-1": 5}
    assert pool.boots_needed() == 2
    pool.demand = {"edge-1": 4}
    assert pool.boots_needed() == 1


def test_booting_and_unleased_ready_containers_count_as_spare() -> None:
    pool = make_pool()
    pool.demand = {"edge-1": 4}
    add(pool, State.BOOTING)
    add(pool, State.READY)
    add(pool, State.READY, leased_to="edge-1")  # busy with another edge: not spare
    add(pool, State.DRAINING)
    assert pool.boots_needed() == 2


def test_spare_beyond_demand_never_goes_negative() -> None:
    pool = make_pool()
    pool.demand = {"edge-1": 1}
    for _ in range(3):
        add(pool, State.BOOTING)
    assert pool.boots_needed() == 0


def test_min_containers_is_a_floor() -> None:
    pool = make_pool(min_containers=3)
    assert pool.boots_needed() == 3
    add(pool, State.READY, leased_to="edge-1")
    add(pool, State.BOOTING)
    assert pool.boots_needed() == 1


def test_draining_containers_do_not_satisfy_min_containers() -> None:
    pool = make_pool(min_containers=1)
    add(pool, State.DRAINING)
    assert pool.boots_needed() == 1


def test_max_containers_caps_boots() -> None:
    pool = make_pool(max_containers=3)
    pool.demand = {"edge-1": 10}
    assert pool.boots_needed() == 3
    add(pool, State.READY, leased_to="edge-1")
    add(pool, State.BOOTING)
    assert pool.boots_needed() == 1


def test_at_max_containers_nothing_boots() -> None:
    pool = make_pool(max_containers=1)
    pool.demand = {"edge-1": 5}
    add(pool, State.READY, leased_to="edge-1")
    assert pool.boots_needed() == 0


def test_max_containers_wins_over_min_containers() -> None:
    pool = make_pool(min_containers=5, max_containers=2)
    assert pool.boots_needed() == 2


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
