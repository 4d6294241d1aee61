"""Container slots the scheduler leased to this edge, and the requests waiting for one.

A warm request takes a free slot here without any bus round trip to the scheduler. Requests that
find no free slot queue in arrival order; the edge then tells the scheduler how many wait (Demand),
and the scheduler answers by leasing more (booting containers if needed). Several edges may hold
slots of one container: a later LeaseGrant for a container already held sets this edge's share
of it, larger or smaller.

The edge keeps a pool's state only while it holds a lease or a waiter there (`on_unused` tells the
edge when neither is left), so its memory follows the scheduler's live pools: those go away once
idle, and a refused parameter set leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from berth.v1 import bus_pb2, state_pb2

DEMAND_REFRESH = 1.0
# How long requests stay queued while no scheduler listens (SchedulerAway) before they fail with a
# 503: a restarted scheduler (`docker restart`, an upgrade, a crash its supervisor recovers) answers
# again within seconds, and warm requests never needed it; failing at the first refusal failed
# every request that happened to queue meanwhile. The Demand is sent again every UNREACHABLE_RETRY.
# Any other failure (the bus itself away) still fails the waiters at once.
SCHEDULER_GRACE = 30.0
UNREACHABLE_RETRY = 0.5


class SchedulerAway(Exception):
    """The bus answered that no scheduler listens for Demands (one is restarting)."""


class PoolFailed(Exception):
    """The scheduler could not serve the pool; `status` and the message go to the client, with
    `retry_after` seconds as a Retry-After when the scheduler gave one."""

    def __init__(self, status: int, message: str, *, retry_after: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass
class Lease:
    container_id: str
    data_subject: str
    slots: int
    inflight: int = 0
    revoked: bool = False


class PoolSlots:
    def __init__(
        self,
        key: bus_pb2.PoolKey,
        ask: Callable[[bus_pb2.PoolKey, int, int], Coroutine[Any, Any, None]],
        released: Callable[[str], Coroutine[Any, Any, None]],
        *,
        on_unused: Callable[[PoolSlots], None] | None = None,
        scheduler_grace: float = SCHEDULER_GRACE,
    ) -> None:
        self.key = key
        self._scheduler_grace = scheduler_grace
        self._ask = ask
        self._released = released
        self._on_unused = on_unused
        self.leases: dict[str, Lease] = {}
        self._waiters: collections.deque[asyncio.Future[Lease]] = collections.deque()
        self._asking = False
        self._asked_for = 0
        self._grew = asyncio.Event()

    def _free(self) -> Lease | None:
        for lease in self.leases.values():
            if not lease.revoked and lease.inflight < lease.slots:
                return lease
        return None

    async def acquire(self, timeout: float) -> Lease:
        lease = self._free()
        if lease is not None and not self._waiters:
            lease.inflight += 1
            return lease
        waiter: asyncio.Future[Lease] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._ask_soon()
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except BaseException:
            # Timed out, or the request was cancelled (its client left): a slot granted at the
            # last moment must go back, or it stays taken until the lease is revoked.
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release(waiter.result())
            else:
                waiter.cancel()
            raise
        finally:
            if not waiter.done():
                waiter.cancel()
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            self._settle()

    def unused(self) -> bool:
        return not self.leases and not self._waiters

    def _settle(self) -> None:
        """Tells the owner when the pool holds nothing any more, so it can forget it."""
        if self._on_unused is not None and self.unused():
            self._on_unused(self)

    def _waiting(self) -> int:
        return sum(1 for w in self._waiters if not w.done())

    def _ask_soon(self) -> None:
        if self._asking:
            if self._waiting() > self._asked_for:
                self._grew.set()
            return
        if self._waiting() == 0:
            self._asked_for = 0
            return
        self._asking = True
        asyncio.get_running_loop().create_task(self._ask_loop())

    async def _ask_loop(self) -> None:
        """One Demand in flight at a time per pool: sent when requests queue, again as soon as the
        queue grows past what was reported, and every DEMAND_REFRESH seconds while any wait, so
        the scheduler's view of the load stays fresh (it forgets load it has not heard of)."""
        unreachable_since: float | None = None
        try:
            while (waiting := self._waiting()) > 0:
                self._asked_for = waiting
                self._grew.clear()
                try:
                    await self._ask(self.key, waiting, self.inflight())
                except SchedulerAway as exc:
                    now = asyncio.get_running_loop().time()
                    unreachable_since = now if unreachable_since is None else unreachable_since
                    if now - unreachable_since >= self._scheduler_grace:
                        self.fail(503, f"the scheduler is unreachable: {exc}")
                        return
                    # The waiters keep their place (a lease released meanwhile still serves them).
                    await asyncio.sleep(UNREACHABLE_RETRY)
                    continue
                except Exception as exc:  # noqa: BLE001 - the bus is away: fail the waiters
                    self.fail(503, f"the scheduler is unreachable: {exc}")
                    return
                unreachable_since = None
                if self._waiting() > self._asked_for:
                    continue
                try:
                    await asyncio.wait_for(self._grew.wait(), DEMAND_REFRESH)
                except TimeoutError:
                    pass
        finally:
            self._asking = False

    def inflight(self) -> int:
        return sum(lease.inflight for lease in self.leases.values())

    def release(self, lease: Lease) -> None:
        lease.inflight -= 1
        if lease.revoked:
            if lease.inflight == 0 and self.leases.pop(lease.container_id, None) is not None:
                asyncio.get_running_loop().create_task(self._released(lease.container_id))
                self._settle()
            return
        self._hand_over(lease)

    def _hand_over(self, lease: Lease) -> None:
        while self._waiters and lease.inflight < lease.slots and not lease.revoked:
            waiter = self._waiters.popleft()
            if not waiter.done():
                lease.inflight += 1
                waiter.set_result(lease)

    def grant(self, grant: bus_pb2.LeaseGrant) -> None:
        """A lease, or a new share of one already held: `slots` is this edge's whole share of the
        container, the scheduler dividing its slots among edges. A smaller share takes effect as
        requests in flight there end (no new one starts past it); a larger one serves waiters now."""
        lease = self.leases.get(grant.container_id)
        if lease is None:
            lease = Lease(grant.container_id, grant.data_subject, max(1, grant.slots))
            self.leases[lease.container_id] = lease
        else:
            lease.slots = max(1, grant.slots)
        self._hand_over(lease)
        if self._waiting() > 0:
            self._asked_for = 0
            self._ask_soon()

    def revoke(self, container_id: str) -> None:
        lease = self.leases.get(container_id)
        if lease is None:
            asyncio.get_running_loop().create_task(self._released(container_id))
            return
        lease.revoked = True
        if lease.inflight == 0:
            del self.leases[container_id]
            asyncio.get_running_loop().create_task(self._released(container_id))
        if self._waiters and self._free() is None:
            self._asked_for = 0
            self._ask_soon()
        self._settle()

    def drop(self, container_id: str) -> None:
        """The container is gone; forget the lease without waiting for its streams, and make sure
        streams still ending on it cannot hand its slot to a waiting request."""
        lease = self.leases.pop(container_id, None)
        if lease is not None:
            lease.revoked = True
        if self._waiters and self._free() is None:
            self._asked_for = 0
            self._ask_soon()
        self._settle()

    def fail(self, status: int, message: str, *, retry_after: int = 0) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(PoolFailed(status, message, retry_after=retry_after))
        self._asked_for = 0
        self._settle()


async def acquire_current(
    slots_for: Callable[[bus_pb2.PoolKey], PoolSlots],
    key: bus_pb2.PoolKey,
    fetch_route: Callable[[], Awaitable[state_pb2.Route | None]],
    missing: str,
    timeout: float,
) -> tuple[PoolSlots, Lease]:
    """A slot of `key`'s pool, for a web request or a function call alike. A 404 means the
    scheduler no longer has that version: either the app was stopped, or the edge's copy of the
    route lagged a redeploy. The route is re-read (`fetch_route`) and its new version tried once;
    gone is a 404 saying `missing`."""
    slots = slots_for(key)
    try:
        return slots, await slots.acquire(timeout)
    except PoolFailed as exc:
        if exc.status != 404:
            raise
        fresh = await fetch_route()
        if fresh is None:
            raise PoolFailed(404, missing) from None
        if fresh.version == key.version:
            raise
    key = bus_pb2.PoolKey(app=key.app, function=key.function, version=fresh.version, params=key.params)
    slots = slots_for(key)
    return slots, await slots.acquire(timeout)
