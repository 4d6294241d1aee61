"""PoolSlots with the edge's own `ask`/`released` callbacks replaced by recorders; `gate` holds
a Demand in flight. Free slots need no round trip, waiters queue FIFO, one Demand at a time."""

import asyncio

import pytest

from berth.v1 import bus_pb2
from services.edge.leases import PoolFailed, PoolSlots, SchedulerAway

KEY = bus_pb2.PoolKey(app="a", function="f", version=1)


class Scheduler:
    def __init__(self) -> None:
        self.asks: list[int] = []
        self.inflight: list[int] = []
        self.released: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def ask(self, key: bus_pb2.PoolKey, waiting: int, inflight: int) -> None:
        assert key == KEY
        self.asks.append(waiting)
        self.inflight.append(inflight)
        await self.gate.wait()

    async def release(self, container_id: str) -> None:
        self.released.append(container_id)


async def settle() -> None:
    """Lets every ready callback and task run (no time passes)."""
    for _ in range(10):
        await asyncio.sleep(0)


def grant(cid: str, slots: int = 1) -> bus_pb2.LeaseGrant:
    return bus_pb2.LeaseGrant(pool=KEY, container_id=cid, data_subject=f"d.{cid}", slots=slots)


@pytest.fixture
def sched() -> Scheduler:
    return Scheduler()


@pytest.fixture
def slots(sched: Scheduler) -> PoolSlots:
    return PoolSlots(KEY, sched.ask, sched.release)


async def test_free_slot_taken_without_asking(sched: Scheduler, slots: PoolSlots) -> None:
    slots.grant(grant("c1", slots=2))
    first = await slots.acquire(timeout=1)
    second = await slots.acquire(timeout=1)
    assert first is second and first.container_id == "c1" and first.inflight == 2
    slots.release(first)
    assert (await slots.acquire(timeout=1)) is first
    await settle()
    assert sched.asks == []


async def test_no_slot_asks_once_and_waits(sched: Scheduler, slots: PoolSlots) -> None:
    waiter = asyncio.ensure_future(slots.acquire(timeout=5))
    await settle()
    assert sched.asks == [1] and not waiter.done()
    slots.grant(grant("c1"))
    lease = await waiter
    assert lease.container_id == "c1" and lease.data_subject == "d.c1" and lease.inflight == 1
    assert sched.asks == [1]


async def test_grant_serves_waiters_in_order_up_to_slots(sched: Scheduler, slots: PoolSlots) -> None:
    sched.gate.clear()  # the Demand stays in flight: no further asks interfere
    waiters = [asyncio.ensure_future(slots.acquire(timeout=5)) for _ in range(3)]
    await settle()
    slots.grant(grant("c1", slots=2))
    await settle()
    assert [w.done() for w in waiters] == [True, True, False]
    slots.grant(grant("c2"))
    leases = await asyncio.gather(*waiters)
    assert [lease.container_id for lease in leases] == ["c1", "c1", "c2"]
    sched.gate.set()


async def test_release_hands_slot_to_next_waiter(sched: Scheduler, slots: PoolSlots) -> None:
    slots.grant(grant("c1"))
    lease = await slots.acquire(timeout=1)
    sched.gate.clear()
    second = asyncio.ensure_future(slots.acquire(timeout=5))
    third = asyncio.ensure_future(slots.acquire(timeout=5))
    await settle()
    slots.release(lease)
    await settle()
    assert second.done() and not third.done()
    slots.release(await second)
    assert (await third) is lease
    sched.gate.set()


async def test_revoke_waits_for_inflight_then_releases(sched: Scheduler, slots: PoolSlots) -> None:
    slots.grant(grant("c1", slots=2))
    a = await slots.acquire(timeout=1)
    b = await slots.acquire(timeout=1)
    slots.revoke("c1")
    slots.release(a)
    await settle()
    assert sched.released == []
    slots.release(b)
    await settle()
    assert sched.released == ["c1"] and "c1" not in slots.leases


async def test_revoked_lease_takes_no_new_requests(sched: Scheduler, slots: PoolSlots) -> None:
    slots.grant(grant("c1", slots=4))
    lease = await slots.acquire(timeout=1)
    slots.revoke("c1")
    waiter = asyncio.ensure_future(slots.acquire(timeout=5))
    await settle()
    assert not waiter.done()
    assert sched.asks == [1]
    slots.grant(grant("c2"))
    assert (await waiter).container_id == "c2"
    slots.release(lease)
    await settle()
    assert sched.released == ["c1"]


async def test_revoke_idle_or_unknown_releases_at_once(sched: Scheduler, slots: PoolSlots) -> None:
    slots.grant(grant("c1"))
    slots.revoke("c1")
    slots.revoke("gone")
    await settle()
    assert sched.released == ["c1", "gone"]
    assert slots.leases == {}


async def test_fail_raises_in_every_waiter(sched: Scheduler, slots: PoolSlots) -> None:
    sched.gate.clear()
    waiters = [asyncio.ensure_future(slots.acquire(timeout=5)) for _ in range(3)]
    await settle()
    slots.fail(503, "no capacity")
    for waiter in waiters:
        with pytest.raises(PoolFailed, match="no capacity") as info:
            await waiter
        assert info.value.status == 503
    sched.gate.set()


async def test_unreachable_scheduler_fails_waiters(sched: Scheduler) -> None:
    async def broken(key: bus_pb2.PoolKey, waiting: int, inflight: int) -> None:
        raise ConnectionError("connection closed")

    pool = PoolSlots(KEY, broken, sched.release)
    with pytest.raises(PoolFailed, match="unreachable: connection closed") as info:
        await pool.acquire(timeout=5)
    assert info.value.status == 503


async def test_an_absent_scheduler_fails_waiters_past_the_grace(sched: Scheduler) -> None:
    async def away(key: bus_pb2.PoolKey, waiting: int, inflight: int) -> None:
        raise SchedulerAway("no responders")

    pool = PoolSlots(KEY, away, sched.release, scheduler_grace=0)
    with pytest.raises(PoolFailed, match="unreachable: no responders") as info:
        await pool.acquire(timeout=5)
    assert info.value.status == 503


async def test_a_restarting_scheduler_keeps_waiters_queued_until_it_answers(sched: Scheduler) -> None:
    asked: asyncio.Queue[bool] = asyncio.Queue()
    down = True

    async def restarting(key: bus_pb2.PoolKey, waiting: int, inflight: int) -> None:
        await asked.put(down)
        if down:
            raise SchedulerAway("no responders")

    pool = PoolSlots(KEY, restarting, sched.release)
    waiter = asyncio.ensure_future(pool.acquire(timeout=30))
    assert await asyncio.wait_for(asked.get(), 5) is True  # refused...
    assert await asyncio.wait_for(asked.get(), 5) is True  # ...and asked again, the request still queued
    assert not waiter.done()
    down = False
    while await asyncio.wait_for(asked.get(), 5):  # until a Demand gets through
        pass
    pool.grant(grant("c1"))
    assert (await asyncio.wait_for(waiter, 5)).container_id == "c1"


async def test_timeout_leaves_no_waiter(sched: Scheduler, slots: PoolSlots) -> None:
    sched.gate.clear()
    with pytest.raises(TimeoutError):
        await slots.acquire(timeout=0)
    sched.gate.set()
    await settle()
    slots.grant(grant("c1"))
    assert slots.leases["c1"].inflight == 0  # nobody took the slot for the timed-out request


async def test_second_waiter_waits_for_the_demand_in_flight(sched: Scheduler, slots: PoolSlots) -> None:
    sched.gate.clear()
    first = asyncio.ensure_future(slots.acquire(timeout=5))
    await settle()
    second = asyncio.ensure_future(slots.acquire(timeout=5))
    await settle()
    assert sched.asks == [1]
    sched.gate.set()
    await settle()
    assert sched.asks == [1, 2]
    slots.grant(grant("c1", slots=2))
    assert (await first) is (await second)


async def test_dropped_lease_is_not_handed_to_waiters(sched: Scheduler, slots: PoolSlots) -> None:
    slots.grant(grant("c1"))
    lease = await slots.acquire(timeout=1)
    sched.gate.clear()
    waiter = asyncio.ensure_future(slots.acquire(timeout=5))
    await settle()
    slots.drop("c1")  # the container is gone
    slots.release(lease)  # then its last stream ends
    handed_on = waiter.done()
    slots.fail(503, "test over")  # ends the waiter either way
    sched.gate.set()
    assert not handed_on, "the waiter was sent to a container that no longer exists"
    with pytest.raises(PoolFailed):
        await waiter


async def test_a_smaller_share_takes_effect_as_requests_in_flight_end(
    sched: Scheduler, slots: PoolSlots
) -> None:
    slots.grant(grant("c1", slots=4))
    held = [await slots.acquire(timeout=1) for _ in range(4)]
    slots.grant(grant("c1", slots=2))  # the scheduler shares the container with another edge
    lease = slots.leases["c1"]
    assert lease.inflight == 4 and lease.slots == 2
    sched.gate.clear()
    waiter = asyncio.ensure_future(slots.acquire(timeout=5))
    slots.release(held[0])
    slots.release(held[1])
    await settle()
    assert not waiter.done()  # 2 in flight: the share is full
    slots.release(held[2])
    assert (await waiter) is lease and lease.inflight == 2
    slots.grant(grant("c1", slots=3))  # a larger share serves at once, without a new lease
    assert slots.leases["c1"] is lease and lease.slots == 3
    assert (await slots.acquire(timeout=1)) is lease and lease.inflight == 3
    sched.gate.set()
