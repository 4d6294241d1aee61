"""Zero-downtime rollout of a new app version (a deploy or a rollback): warm, then move, then drain.

1. **Warm**: the new version's record is *staged* (AppStore.stage: the Assigner boots from it, no
   edge knows it yet) and each pool of the serving version gets a twin in the new version, booted
   to as many containers as the old one has ready. An old version with nothing warm needs no
   wait: its next request is a cold start either way.
2. **Move**: only once every twin is ready are the routes written (AppStore.publish), so edges
   send new requests to containers that already run. Requests still queued for the old version
   are refused by the scheduler as "no longer deployed", and the edge re-reads the route and
   asks the new version (services/edge/app.py).
3. **Drain**: the old version's pools retire: their leases are revoked, edges let the requests in
   flight finish and give the containers back, and only then are they stopped.

A version that cannot start (a boot fails, or none is ready in its startup budget) is never
routed to: the rollout fails with the reason, the twins are stopped, and the old version keeps
serving. So is one that a newer deploy overtook while it warmed (versions only move forward).

`targets` and `judge` are pure (time passed in); `Rollout` carries them out through the AppStore
and the Assigner.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from berth import _spec_rules as spec_rules
from berth.v1 import bus_pb2, spec_pb2, state_pb2
from services.common import logs
from services.common.pools import ParameterError, canonical_params
from services.scheduler.assignment import BOOT_MARGIN, Assigner
from services.scheduler.pools import Pool, State, pool_id
from services.scheduler.state import AppStore

log = logging.getLogger("berth.scheduler")

# How often a warming rollout looks at its containers: boots take a second or more, so this only
# bounds how late the switch follows the last container becoming ready.
POLL_INTERVAL = 0.05
# On top of the slowest function's startup budget (plus the Assigner's BOOT_MARGIN, after which
# a boot is reported failed anyway): the rollout must end even if an answer is lost.
DEADLINE_SLACK = 5.0


class RolloutFailed(Exception):
    """The new version was not routed to; the message says why and that the old one serves on."""


@dataclass(frozen=True)
class Target:
    """A pool of the new version to warm before traffic moves: `count` ready containers."""

    key: bus_pb2.PoolKey
    count: int


class Phase(enum.Enum):
    WAIT = "wait"
    MOVE = "move"
    FAIL = "fail"


@dataclass(frozen=True)
class Verdict:
    phase: Phase
    reason: str = ""


@dataclass(frozen=True)
class Warming:
    """What one target's pool holds right now."""

    target: Target
    ready: int
    booting: int
    failure: str = ""  # the first boot failure of the pool while it warms, "" for none


def targets(old_pools: Iterable[Pool], serving: int, new: state_pb2.AppRecord) -> list[Target]:
    """The pools of version `new` to warm: for each live pool of the `serving` version with ready
    containers, the same function and parameter set, to as many. Functions the new version no
    longer serves on the web, and parameter sets its parameters no longer accept, get none."""
    functions = {f.name: f for f in new.spec.functions}  # web or callable: all have pools
    counts: dict[tuple[str, str, str], int] = {}
    for pool in old_pools:
        if pool.retired or pool.key.version != serving:
            continue
        ready = pool.count(State.READY)
        function = functions.get(pool.key.function)
        if not ready or function is None or not _accepts(function, pool.key.params):
            continue
        where = (pool.key.app, pool.key.function, pool.key.params)
        counts[where] = counts.get(where, 0) + ready
    return [
        Target(bus_pb2.PoolKey(app=a, function=f, version=new.version, params=p), n)
        for (a, f, p), n in sorted(counts.items())
    ]


def _accepts(function: spec_pb2.FunctionSpec, params: str) -> bool:
    """Whether `params` (canonical, of the old version) is a parameter set of `function` as is."""
    try:
        return canonical_params(function.parameters, params.encode()) == params
    except ParameterError:
        return False


def judge(warming: list[Warming], *, now: float, deadline: float) -> Verdict:
    """MOVE once every target has its count ready (or every container it could place: the agents
    may be full), FAIL at the first boot failure or past `deadline`, else WAIT."""
    for pool in warming:
        if pool.failure:
            return Verdict(Phase.FAIL, pool.failure)
    if all(p.ready >= p.target.count or (p.booting == 0 and p.ready > 0) for p in warming):
        return Verdict(Phase.MOVE)
    if now >= deadline:
        ready = sum(p.ready for p in warming)
        wanted = sum(p.target.count for p in warming)
        return Verdict(Phase.FAIL, f"only {ready} of {wanted} containers were ready in time")
    return Verdict(Phase.WAIT)


def budget(record: state_pb2.AppRecord) -> float:
    """Seconds the slowest function may take to start, as the Assigner counts a boot's."""
    budgets = [
        spec_rules.boot_budget(f)
        for f in record.spec.functions
    ]
    return max(budgets, default=0.0) + BOOT_MARGIN + DEADLINE_SLACK


def failed_message(version: int, serving: int, reason: str) -> str:
    return (
        f"version {version} did not start, so it gets no traffic: {reason}; version {serving} keeps serving"
    )


class Rollout:
    """One version's way in. `warm()` (yielding progress lines) before the routes are written,
    then `moved()` once they are; `close()` in a `finally` undoes whatever did not move."""

    def __init__(self, store: AppStore, assigner: Assigner, key: str, record: state_pb2.AppRecord) -> None:
        self._store = store
        self._assigner = assigner
        self._key = key
        self._record = record
        self._done = False
        serving = store.get(key)
        self._serving = serving.version if serving is not None else 0

    async def warm(self) -> AsyncIterator[str]:
        """Boots the new version's twins of the serving version's warm pools and waits until they
        are ready; RolloutFailed if they cannot be, or a newer version was published meanwhile."""
        if not self._serving:
            return
        version = self._record.version
        old = [p for p in self._assigner.pools.values() if p.key.app == self._key]
        wanted = targets(old, self._serving, self._record) if old else []
        if not wanted:
            return  # nothing warm: the next request boots the new version as it would the old
        self._store.stage(self._key, self._record)
        total = sum(t.count for t in wanted)
        yield f"warming version {version}: {total} container(s), as many as version {self._serving} has ready"
        started = time.monotonic()
        deadline = started + budget(self._record)
        placed = sum(self._assigner.warm_pool(t.key, t.count) for t in wanted)
        if not placed:
            # Every agent is full (the old version's containers hold the room): moving now queues
            # requests until the old version drains and frees it, where waiting would deadlock.
            yield f"no agent has room to warm version {version} beside version {self._serving}; moving now"
            return
        while True:
            verdict = judge(self._warming(wanted), now=time.monotonic(), deadline=deadline)
            if verdict.phase is Phase.FAIL:
                raise RolloutFailed(failed_message(version, self._serving, verdict.reason))
            if verdict.phase is Phase.MOVE:
                break
            await asyncio.sleep(POLL_INTERVAL)
        current = self._store.get(self._key)
        if current is not None and current.version > version:
            raise RolloutFailed(f"version {current.version} was deployed while version {version} warmed")
        took = f"{time.monotonic() - started:.1f}s"
        logs.event(log, "version warm", app=self._key, version=version, took=took)
        yield f"version {version} is warm ({took}); moving traffic to it"

    def _warming(self, wanted: list[Target]) -> list[Warming]:
        found = []
        for target in wanted:
            pool = self._assigner.pools.get(pool_id(target.key))
            containers = list(pool.containers.values()) if pool is not None else []
            found.append(
                Warming(
                    target,
                    ready=sum(1 for c in containers if c.state is State.READY),
                    booting=sum(1 for c in containers if c.state is State.BOOTING),
                    failure=self._store.staged_failure(target.key),
                )
            )
        return found

    def moved(self, reason: str) -> None:
        """The routes name the new version: the old one drains, min_containers are kept warm."""
        self._done = True
        self._store.unstage(self._key, self._record.version)
        self._assigner.retire(self._key, keep_version=self._record.version, reason=reason)
        self._assigner.warm(self._record)

    def close(self) -> None:
        """Stops what warmed for a version that did not move (failed, refused, cancelled)."""
        if self._done:
            return
        self._done = True
        self._store.unstage(self._key, self._record.version)
        reason = f"version {self._record.version} did not go live"
        for pool in list(self._assigner.pools.values()):
            if pool.key.app == self._key and pool.key.version == self._record.version and not pool.retired:
                pool.retired = True
                for container in list(pool.containers.values()):
                    self._assigner.drain(pool, container, reason)
