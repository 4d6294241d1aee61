"""Assigning requests to containers: leases to edges, boots through agents, drains and stops.

Edges hold leases on container slots, so a warm request never waits on the scheduler; the
scheduler hears from an edge only when requests queue there (Demand) and answers with grants,
booting containers as needed. When edges queue for a pool with nothing free or booting, a
container's slots are shared among them in proportion to their load (leasing.split; a LeaseGrant
sets an edge's whole share, so a smaller one shrinks it). Every decision is event-driven; the
autoscaler's tick only ages idle containers and idle pools out.

Parameter sets are bounded here, where all edges' demand meets: a Demand for a new pool of a
function that already has `max_parameter_sets` live ones is refused with a 429 before anything
boots, and max_containers counts a function's containers across all its pools.

Decisions are made by pure modules (leasing: which container goes to which edge; pools: how many
to boot; autoscaler: what to drain; adoption: what to adopt; backoff: when to boot again after
start failures); this class keeps the state, feeds them the time (its `clock`) and carries their
answers out through `Effects` (grant, revoke, fail, boot, stop; services/scheduler/effects.py).

A function version whose containers fail at start is held back (backoff.py): its requests get a
503 "<function> fails at start: <error>" at once while it waits, and `failing()` shows it to
`berth app list` until one of its containers starts fine.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import urllib.parse
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from nats.aio.client import Client

from berth import _spec_rules as spec_rules
from berth.v1 import bus_pb2, control_pb2, spec_pb2, state_pb2
from services.common import logs, subjects, tracing
from services.common.pools import ParameterError, canonical_params
from services.scheduler import adoption, autoscaler, backoff, leasing, metrics, placement
from services.scheduler.agents import Agents
from services.scheduler.effects import Effects, NatsEffects
from services.scheduler.pools import (
    DEFAULT_MAX_PARAMETER_SETS,
    TOO_MANY_PARAMETER_SETS,
    ContainerRecord,
    Pool,
    State,
    function_id,
    pool_id,
)
from services.scheduler.state import AppStore

log = logging.getLogger("berth.scheduler")

BOOT_MARGIN = 15.0  # seconds on top of the function's startup budget for the agent's own work
STOP_TIMEOUT = 30.0
STRANGER_GRACE = 5.0
ROLLOUT_LOAD = "rollout"  # the edge id a rollout's warm-up load is reported under (warm_pool)
# Refused parameter sets are logged once per function this often: each refusal is one request, so
# a flood of made-up values must not become a flood of log lines.
REFUSAL_LOG_INTERVAL = 60.0


class TooManyParameterSets(Exception):
    """A new pool would pass the function's cap on live parameter sets; the message is for users."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# A function version: (app key, function name, version).
FunctionKey = tuple[str, str, int]


def function_key(key: bus_pb2.PoolKey) -> FunctionKey:
    return (key.app, key.function, key.version)


class Assigner:
    def __init__(
        self,
        nc: Client | None,
        store: AppStore,
        agents: Agents,
        resolve_env: Callable[[spec_pb2.FunctionSpec], Coroutine[Any, Any, dict[str, str]]],
        *,
        max_parameter_sets: int = DEFAULT_MAX_PARAMETER_SETS,
        effects: Effects | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if effects is None:
            assert nc is not None, "an Assigner needs a NATS client or its Effects"
            effects = NatsEffects(nc)
        self._effects = effects
        self._clock = clock
        self._store = store
        self._agents = agents
        self._resolve_env = resolve_env
        self.max_parameter_sets = max_parameter_sets  # 0: no cap
        self.pools: dict[str, Pool] = {}
        # Containers whose stop order is out, by id, with their function: they still run until the
        # agent answers, so max_containers counts them.
        self._stopping: dict[str, str] = {}
        self._refusals_logged: dict[str, float] = {}
        self._tracer = tracing.setup("scheduler")
        self._tasks: set[asyncio.Task[None]] = set()
        self._strangers: dict[str, float] = {}
        self._missing: dict[str, float] = {}  # container id -> first heartbeat that lacked it
        # Containers asked back from their edge so another edge gets its share (placement.take_back),
        # with the edge each goes to once released.
        self._recalled: dict[str, str] = {}
        # Function versions whose containers fail at start, until one starts fine (backoff.py).
        self._start_failures: dict[FunctionKey, backoff.StartFailures] = {}

    # -- events ------------------------------------------------------------------------------

    async def on_demand(self, demand: bus_pb2.Demand) -> None:
        with self._tracer.start_as_current_span(
            "scheduler.assign", attributes={"pool": pool_id(demand.pool)}
        ):
            try:
                pool = self._pool(demand.pool)
            except TooManyParameterSets as exc:
                self._log_refusal(demand.pool, exc)
                await self._fail_edge(demand.edge_id, demand.pool, 429, str(exc), retry_after=exc.retry_after)
                return
            if pool is None:
                await self._fail_edge(
                    demand.edge_id, demand.pool, 404, "this app version is no longer deployed"
                )
                return
            now = self._clock()
            pool.report(demand.edge_id, waiting=demand.waiting, inflight=demand.inflight, now=now)
            for container in leasing.for_demand(pool, demand.edge_id, now):
                await self._grant(pool, container, demand.edge_id)
            self._boot_as_needed(pool, to_load=True)
            if pool.max_inputs > 1:
                await self._divide(pool, now)
            else:
                await self._share(pool, now)
            await self._fail_if_held_back(pool)

    async def on_released(self, released: bus_pb2.LeaseReleased) -> None:
        found = self._find(released.container_id)
        if found is None:
            return
        pool, container = found
        edge_id = released.edge_id
        if edge_id in container.leaving and edge_id not in container.shares:
            container.leaving.discard(edge_id)  # a share it gave up to other edges (_reshare)
            return
        if not adoption.releasable(container, edge_id):
            return
        container.shares.pop(edge_id, None)
        container.leaving.discard(edge_id)
        if container.shares:
            # Other edges still hold it: they take the freed slots (or it drains once they're done).
            container.leased_to = next(iter(container.shares))
            if container.state is not State.DRAINING and not pool.retired:
                demand = pool.demand(self._clock())
                holders = {e: max(1, demand.get(e, 0)) for e in container.shares}
                await self._reshare(pool, container, leasing.split(pool.max_inputs, holders))
            return
        container.leased_to = ""
        taker = self._recalled.pop(container.container_id, "")
        if container.state is State.DRAINING:
            self._spawn(self._stop(pool, container))
        elif taker and pool.waiting(self._clock()).get(taker, 0) > 0 and not pool.retired:
            await self._grant(pool, container, taker)  # not back to the edge it was taken from
        else:
            await self._offer(pool, container)

    async def on_exited(self, exited: bus_pb2.ContainerExited) -> None:
        found = self._find(exited.container_id)
        if found is None:
            return
        pool, container = found
        pool.containers.pop(container.container_id, None)
        if container.leased_to:
            await self._revoke(container)
        logs.event(log, "container exited", container=container.container_id, code=exited.exit_code)
        self._boot_as_needed(pool)

    async def on_edge_hello(self, hello: bus_pb2.EdgeHello) -> None:
        """An edge (re)started: leases it held are void."""
        for pool in self.pools.values():
            pool.loads.pop(hello.edge_id, None)
            for container in pool.containers.values():
                container.leaving.discard(hello.edge_id)
                held = container.shares.pop(hello.edge_id, None) is not None
                if held or container.leased_to == adoption.UNKNOWN_HOLDER:
                    container.leased_to = next(iter(container.shares), "")
                    if not container.leased_to and container.state is State.DRAINING:
                        self._spawn(self._stop(pool, container))

    @property
    def agents(self) -> Agents:
        return self._agents

    def on_heartbeat(self, beat: bus_pb2.AgentHeartbeat) -> None:
        self._agents.heartbeat(beat)
        now = self._clock()
        for status in beat.containers:
            found = self._find(status.container_id)
            if found is None:
                if not self._adopt(beat.agent_id, status, now):
                    self._reap_stranger(beat.agent_id, status.container_id, now)
                continue
            _, container = found
            container.inflight = status.inflight
            container.idle_since = now - status.idle_ms / 1000
        self._forget_lost(beat, now)

    def _adopt(self, agent_id: str, status: bus_pb2.ContainerStatus, now: float) -> bool:
        """Takes a running container of a current pool into it (a restarted scheduler's)."""
        try:
            pool = self._pool(status.pool)
        except TooManyParameterSets:
            pool = None
        if not adoption.adoptable(status, pool):
            return False
        assert pool is not None
        pool.containers[status.container_id] = adoption.adopted(agent_id, status, now)
        self._strangers.pop(status.container_id, None)
        logs.event(log, "container adopted", container=status.container_id, agent=agent_id)
        return True

    def _forget_lost(self, beat: bus_pb2.AgentHeartbeat, now: float) -> None:
        """Containers the agent no longer reports (it restarted without them) are replaced."""
        reported = {c.container_id for c in beat.containers}
        agent = beat.agent_id
        on_agent = [c for p in self.pools.values() for c in p.containers.values() if c.agent_id == agent]
        for container_id in adoption.lost(on_agent, reported, self._missing, now):
            found = self._find(container_id)
            if found is None:
                continue
            pool, container = found
            pool.containers.pop(container_id, None)
            logs.event(log, "container lost", logging.WARNING, container=container_id, agent=beat.agent_id)
            if container.leased_to:
                self._spawn(self._revoke(container, lost=True))
            # Sized to the edges' latest load: their requests for it are waiting right now.
            self._boot_as_needed(pool, to_load=True)

    def _reap_stranger(self, agent_id: str, container_id: str, now: float) -> None:
        """A container no pool knows: its boot answer came too late (a timed-out boot), or this
        scheduler restarted. Nothing can route to it, so it is stopped rather than left running."""
        first = self._strangers.setdefault(container_id, now)
        if now - first < STRANGER_GRACE:
            return
        del self._strangers[container_id]
        order = bus_pb2.StopOrder(container_id=container_id, reason="unknown to the scheduler")
        self._spawn(self._stop_order(agent_id, order))

    async def _stop_order(self, agent_id: str, order: bus_pb2.StopOrder) -> None:
        try:
            await self._effects.stop(agent_id, order, STOP_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - the agent may be gone; nothing else to do
            logs.event(log, "stop failed", logging.WARNING, container=order.container_id, error=exc)

    # -- app lifecycle -----------------------------------------------------------------------

    def retire(self, app_key: str, *, keep_version: int = 0, reason: str) -> None:
        """Pools of `app_key` other than `keep_version` stop taking requests and drain."""
        for pool in self.pools.values():
            if pool.key.app == app_key and pool.key.version != keep_version and not pool.retired:
                pool.retired = True
                for container in list(pool.containers.values()):
                    self.drain(pool, container, reason)

    def warm(self, record: state_pb2.AppRecord) -> None:
        """Boots min_containers for each function's default pool right after a deploy, rather
        than at its first request. Pools of other parameter values warm up once first used."""
        key_prefix = subjects.app_key(record.spec.name, record.ephemeral)
        for function in record.spec.functions:
            if not function.scaling.min_containers:
                continue
            try:
                params = canonical_params(function.parameters, b"")
            except ParameterError:
                continue  # a required parameter: there is no default pool to keep warm
            key = bus_pb2.PoolKey(
                app=key_prefix, function=function.name, version=record.version, params=params
            )
            try:
                pool = self._pool(key)
            except TooManyParameterSets:
                continue  # only once this version's pools are taken: the default pool is kept
            if pool is not None:
                self._boot_as_needed(pool)

    def warm_pool(self, key: bus_pb2.PoolKey, count: int) -> int:
        """Boots the pool of `key` toward `count` containers before any edge asks for it: a version
        being rolled out (services/scheduler/rollout.py) is warmed before its routes are written.
        Returns how many it holds (fewer when the agents are full). The count goes in as a load
        report of the rollout's own, so placement, max_containers and backoff apply as to any
        load, and it ages out like one (pools.LOAD_TTL)."""
        try:
            pool = self._pool(key)
        except TooManyParameterSets:
            return 0
        if pool is None:
            return 0
        pool.report(ROLLOUT_LOAD, waiting=0, inflight=count * pool.target, now=self._clock())
        self._boot_as_needed(pool, to_load=True)
        return len(pool.containers)

    def containers_of(self, app_key: str) -> list[ContainerRecord]:
        return [c for p in self.pools.values() if p.key.app == app_key for c in p.containers.values()]

    def failing(self, app_key: str) -> list[tuple[str, backoff.StartFailures]]:
        """(function name, its start failures) of the app's current version's functions that fail
        at start, by name: what `berth app list` shows until a container of theirs starts fine."""
        record = self._store.get(app_key)
        if record is None:
            return []
        return sorted(
            (function, failures)
            for (app, function, version), failures in self._start_failures.items()
            if app == app_key and version == record.version
        )

    def failing_functions(self, app_key: str) -> list[control_pb2.FailingFunction]:
        """`failing()` as ListApps shows it."""
        now = self._clock()
        return [
            control_pb2.FailingFunction(
                function=function,
                last_error=failures.last_error,
                failures=failures.count,
                retry_in_ms=int(backoff.retry_in(failures, now) * 1000),
            )
            for function, failures in self.failing(app_key)
        ]

    # -- scaling -----------------------------------------------------------------------------

    def drain(self, pool: Pool, container: ContainerRecord, reason: str) -> None:
        if container.state is State.DRAINING:
            return
        container.state = State.DRAINING
        container.drain_reason = reason
        container.idle_since = self._clock()
        if container.leased_to:
            self._spawn(self._revoke(container))
        elif container.container_id in pool.containers:
            self._spawn(self._stop(pool, container))

    def tick(self) -> None:
        """Ages idle containers and pools out, keeps min_containers warm, forgets dead agents."""
        now = self._clock()
        dead = set(self._agents.dead())
        for pid, pool in list(self.pools.items()):
            if pool.in_use(now):
                pool.used_at = now
            elif autoscaler.expired(pool, now):
                # Nothing runs there and no edge holds a lease: edges forget their side of the
                # pool once its last lease and waiter are gone (services/edge/leases.py).
                del self.pools[pid]
                logs.event(log, "idle pool deleted", pool=pid)
                continue
            lost = False
            for decision in autoscaler.decide(pool, now, dead):
                container = decision.container
                if decision.action is autoscaler.Action.LOST:
                    # Its agent stopped beating (agents.py): what runs there will never answer, so
                    # the edges fail it at once and the pool is refilled on the live agents.
                    pool.containers.pop(container.container_id, None)
                    logs.event(
                        log,
                        "container lost",
                        logging.WARNING,
                        container=container.container_id,
                        agent=container.agent_id,
                        reason="agent dead",
                    )
                    if container.leased_to:
                        self._spawn(self._revoke(container, lost=True))
                    lost = True
                elif decision.action is autoscaler.Action.DRAIN:
                    self.drain(pool, container, "scaled down after being idle")
                else:
                    container.leased_to = ""
                    container.shares.clear()
                    self._spawn(self._stop(pool, container))
            if pool.retired and not pool.containers:
                del self.pools[pid]
            elif not pool.retired:
                self._boot_as_needed(pool, to_load=lost)
        for agent_id in dead:
            self._agents.forget(agent_id)
        self._forget_start_failures()

    def _forget_start_failures(self) -> None:
        """Start failures of versions neither serving nor being rolled out: memory follows what is
        deployed."""
        for key in list(self._start_failures):
            if self._store.record_of(key[0], key[2]) is None:
                del self._start_failures[key]

    def _boot_as_needed(self, pool: Pool, *, to_load: bool = False) -> None:
        """Boots toward min_containers, and toward the reported load when a Demand has just
        arrived. Only fresh Demands size the pool to load: a load report can outlive the requests
        it counted, and acting on it from the tick would undo a scale-down."""
        if pool.retired:
            return
        now = self._clock()
        others = self._others(pool)
        boots = pool.boots_needed(now, with_load=to_load, others=others)
        failures = self._start_failures.get(function_key(pool.key))
        booting = sum(p.count(State.BOOTING) for p in [pool, *self._siblings(pool)])
        boots = backoff.boots_allowed(failures, boots, booting, now)
        if to_load and failures is None:
            self._reclaim(pool, pool.wanted(now) - boots, now)
        for _ in range(boots):
            container_id = f"c{uuid.uuid4().hex[:12]}"
            request = placement.request_of(pool.function)
            agent_id = self._agents.place(self._placed(), request)
            if agent_id is None:
                if self._agents.absent():
                    self._spawn(self._fail_pool(pool, 503, "no agent is running to start a container on"))
                elif self._agents.alive() and placement.never_fits(self._agents.rooms([]), request):
                    self._spawn(self._fail_pool(pool, 503, placement.too_big(request)))
                # Otherwise every agent is full, or the only one is restarting: requests stay
                # queued, and the next tick (or the edge's next Demand) tries again.
                return
            container = ContainerRecord(container_id=container_id, agent_id=agent_id)
            pool.containers[container_id] = container
            self._spawn(self._boot(pool, container))

    async def _boot(self, pool: Pool, container: ContainerRecord) -> None:
        record = self._store.record_of(pool.key.app, pool.key.version)
        if record is None:
            pool.containers.pop(container.container_id, None)
            return
        budget = spec_rules.boot_budget(pool.function)
        order = bus_pb2.BootOrder(
            container_id=container.container_id,
            pool=pool.key,
            function=pool.function,
            image=record.images[pool.function.name],
            bundle_id=record.bundle_id,
            entry_module=record.spec.entry_module,
            parameters=dict(urllib.parse.parse_qsl(pool.key.params, keep_blank_values=True)),
        )
        with self._tracer.start_as_current_span(
            "scheduler.boot", attributes={"container": container.container_id}
        ):
            try:
                order.env.update(await self._resolve_env(pool.function))
                result = await self._effects.boot(container.agent_id, order, budget + BOOT_MARGIN)
                error = result.error
            except TimeoutError:
                error = f"the container did not start within {budget:.0f}s"
            except Exception as exc:  # noqa: BLE001 - e.g. a secret that vanished; reported to users
                error = str(exc) or type(exc).__name__
        key = function_key(pool.key)
        if error:
            pool.containers.pop(container.container_id, None)
            self._store.staged_boot_failed(pool.key, error)  # a rollout fails on it (rollout.py)
            failures = self._start_failures[key] = backoff.failed(
                self._start_failures.get(key), error, self._clock()
            )
            logs.event(
                log, "boot failed", logging.WARNING, container=container.container_id, error=error,
                failures=failures.count, retry_in=f"{backoff.delay(failures.count):g}s",
            )
            # The whole error, not just its first line: the edge logs it under the request id.
            await self._fail_function(pool, f"{pool.key.function} fails at start: {error}")
            return
        if self._start_failures.pop(key, None) is not None:
            logs.event(log, "function starts again", function=function_id(pool.key))
        container.state = State.READY
        metrics.booted(pool.key, result.boot_seconds)
        container.data_subject = result.data_subject
        container.idle_since = self._clock()
        if pool.retired or container.container_id not in pool.containers:
            self.drain(pool, container, "app version replaced while booting")
            return
        await self._offer(pool, container)

    async def _offer(self, pool: Pool, container: ContainerRecord) -> None:
        """Leases a free container to the edge with the most requests waiting, if any waits."""
        if pool.retired:
            self.drain(pool, container, "app version replaced")
            return
        # Fewest held first (placement.fair_offer): with several edges queueing, one edge must
        # not collect every container that frees up.
        edge_id = placement.fair_offer(pool.waiting(self._clock()), self._held(pool))
        if edge_id is not None:
            await self._grant(pool, container, edge_id)

    def _held(self, pool: Pool) -> dict[str, int]:
        """Containers of `pool` each edge holds, those asked back excluded."""
        held: dict[str, int] = {}
        for c in pool.containers.values():
            if c.container_id not in self._recalled:
                for holder in c.shares:
                    held[holder] = held.get(holder, 0) + 1
        return held

    async def _divide(self, pool: Pool, now: float) -> None:
        """With nothing free or booting for edges still queueing, splits containers' slots among
        the edges that want them (leasing.reshare), rather than whole containers taking turns.
        An edge queueing with no slot in the pool is offered a share of one container, the least
        shared; holders rebalance by their load on every container someone queues for."""
        if pool.retired or pool.unleased_ready() or pool.count(State.BOOTING):
            return
        waiting = pool.waiting(now)
        if not waiting:
            return
        holding = {edge for c in pool.containers.values() for edge in c.shares}
        needy = sorted(edge for edge in waiting if edge not in holding)
        shared = [
            c
            for c in pool.containers.values()
            if c.state is State.READY and c.shares and c.container_id not in self._recalled
        ]
        for container in sorted(shared, key=lambda c: (len(c.shares), c.inflight, c.container_id)):
            shares = leasing.reshare(pool, container, needy, now)
            if shares is not None:
                needy = [edge for edge in needy if edge not in shares]
                await self._reshare(pool, container, shares)

    async def _reshare(self, pool: Pool, container: ContainerRecord, shares: dict[str, int]) -> None:
        """Sets the container's slots per edge to `shares`. A LeaseGrant carries an edge's whole
        share (a smaller one means "shrink to": the edge starts no more than that, and its requests
        in flight finish); an edge left out gets a LeaseRevoke and answers once its requests end."""
        for edge in [e for e in container.shares if e not in shares]:
            del container.shares[edge]
            container.leaving.add(edge)
            await self._effects.revoke(edge, bus_pb2.LeaseRevoke(container_id=container.container_id))
        # Shrinks go out before grows, so the container is oversubscribed as briefly as may be.
        grows = sorted(shares.items(), key=lambda item: item[1] > container.shares.get(item[0], 0))
        for edge, slots in grows:
            before = container.shares.get(edge, 0)
            if slots == before:
                continue
            container.shares[edge] = slots
            if slots > before:
                pool.took(edge, slots - before)
            grant = bus_pb2.LeaseGrant(
                pool=pool.key,
                container_id=container.container_id,
                data_subject=container.data_subject,
                slots=slots,
            )
            await self._effects.grant(edge, grant)
        container.leased_to = next(iter(container.shares), "")

    async def _share(self, pool: Pool, now: float) -> None:
        """With nothing free or booting for edges still queueing, asks one container back from the
        edge holding the most (placement.take_back); it is offered on once released."""
        if pool.retired or pool.unleased_ready() or pool.count(State.BOOTING):
            return
        decision = placement.take_back(pool.waiting(now), self._held(pool))
        if decision is None:
            return
        edge_id, taker = decision
        ready = [
            c
            for c in pool.containers.values()
            if c.leased_to == edge_id and c.state is State.READY and c.container_id not in self._recalled
        ]
        if ready:
            container = min(ready, key=lambda c: (c.inflight, c.container_id))
            self._recalled[container.container_id] = taker
            await self._revoke(container)

    async def _grant(self, pool: Pool, container: ContainerRecord, edge_id: str) -> None:
        container.leased_to = edge_id
        container.shares = {edge_id: pool.max_inputs}
        self._recalled.pop(container.container_id, None)
        pool.took(edge_id, pool.max_inputs)
        grant = bus_pb2.LeaseGrant(
            pool=pool.key,
            container_id=container.container_id,
            data_subject=container.data_subject,
            slots=pool.max_inputs,
        )
        await self._effects.grant(edge_id, grant)

    async def _revoke(self, container: ContainerRecord, *, lost: bool = False) -> None:
        revoke = bus_pb2.LeaseRevoke(container_id=container.container_id, lost=lost)
        if container.leased_to == adoption.UNKNOWN_HOLDER:
            # Adopted after a restart: which edge holds it is not known. Requests in flight on a
            # lost container would wait out the function's timeout, so every edge hears of it.
            if lost:
                await self._effects.revoke(subjects.EVERY_EDGE, revoke)
            return
        for edge_id in list(container.shares) or [container.leased_to]:
            await self._effects.revoke(edge_id, revoke)

    async def _stop(self, pool: Pool, container: ContainerRecord) -> None:
        if pool.containers.pop(container.container_id, None) is None:
            return
        order = bus_pb2.StopOrder(
            container_id=container.container_id, reason=container.drain_reason or "stopped"
        )
        function = self._stopping[container.container_id] = function_id(pool.key)
        try:
            await self._stop_order(container.agent_id, order)
        finally:
            del self._stopping[container.container_id]
        # Its place under max_containers is free now: give it to a parameter set still waiting
        # rather than to that set's next Demand, up to a second away.
        for sibling in list(self.pools.values()):
            if function_id(sibling.key) == function and sibling.waiting(self._clock()):
                self._boot_as_needed(sibling, to_load=True)

    # -- parameter sets ----------------------------------------------------------------------

    def _siblings(self, pool: Pool) -> list[Pool]:
        """The function's other live pools (other parameter sets of the same version)."""
        function = function_id(pool.key)
        return [
            p
            for p in self.pools.values()
            if p is not pool and not p.retired and function_id(p.key) == function
        ]

    def _others(self, pool: Pool) -> int:
        """Containers of `pool`'s function outside it that may still run, for max_containers."""
        function = function_id(pool.key)
        stopping = sum(1 for f in self._stopping.values() if f == function)
        return stopping + sum(len(p.containers) for p in self._siblings(pool))

    def _reclaim(self, pool: Pool, short: int, now: float) -> None:
        """`pool` has requests waiting for `short` containers max_containers does not allow: drain
        idle ones of other parameter sets, beyond those already on their way out."""
        if short <= 0 or not pool.function.scaling.max_containers:
            return
        function = function_id(pool.key)
        leaving = sum(1 for f in self._stopping.values() if f == function)
        leaving += sum(p.count(State.DRAINING) for p in [pool, *self._siblings(pool)])
        for sibling, container in autoscaler.reclaimable(self._siblings(pool), now, short - leaving):
            self.drain(sibling, container, "its place went to another parameter set (max_containers)")

    def _log_refusal(self, key: bus_pb2.PoolKey, refusal: TooManyParameterSets) -> None:
        function, now = function_id(key), self._clock()
        if now - self._refusals_logged.get(function, -math.inf) >= REFUSAL_LOG_INTERVAL:
            self._refusals_logged[function] = now
            logs.event(log, "parameter set refused", logging.WARNING, function=function, reason=str(refusal))

    def _refuse_new_pool(self, key: bus_pb2.PoolKey) -> None:
        """Raises TooManyParameterSets if the function already has its cap of live pools."""
        cap = self.max_parameter_sets
        if not cap:
            return
        function = function_id(key)
        live = [p for p in self.pools.values() if not p.retired and function_id(p.key) == function]
        if len(live) < cap:
            return
        now = self._clock()
        soonest = min(p.expires_in(now) for p in live)
        if math.isinf(soonest):
            soonest = live[0].scaledown_window
        raise TooManyParameterSets(
            f"{TOO_MANY_PARAMETER_SETS}: {key.function} already has {len(live)} live container pools, "
            f"one per set of parameter values, and this platform allows {cap} "
            f"(BERTH_MAX_PARAMETER_SETS); an unused pool gives up its place "
            f"{2 * live[0].scaledown_window:g} s after its last request",
            retry_after=max(1, math.ceil(soonest)),
        )

    async def _fail_pool(self, pool: Pool, status: int, message: str) -> None:
        for edge_id in pool.waiting(self._clock()):
            await self._fail_edge(edge_id, pool.key, status, message)
        pool.forget_waiting()

    async def _fail_function(self, pool: Pool, message: str) -> None:
        """A start failure: requests waiting in every pool of the function that has no container
        to serve them fail with a 503; a pool with containers keeps its queue for them."""
        for each in [pool, *self._siblings(pool)]:
            if not each.count(State.BOOTING, State.READY):
                await self._fail_pool(each, 503, message)

    async def _fail_if_held_back(self, pool: Pool) -> None:
        """While the function waits out a start failure and the pool has no container, its
        requests cannot be served before the next boot: they fail at once, naming the failure."""
        failures = self._start_failures.get(function_key(pool.key))
        if failures is None or pool.count(State.BOOTING, State.READY):
            return
        if backoff.waiting(failures, self._clock()):
            await self._fail_pool(pool, 503, backoff.message(pool.key.function, failures))

    async def _fail_edge(
        self, edge_id: str, key: bus_pb2.PoolKey, status: int, message: str, *, retry_after: int = 0
    ) -> None:
        failure = bus_pb2.PoolFailure(pool=key, status=status, message=message, retry_after=retry_after)
        await self._effects.fail(edge_id, failure)

    # -- lookups -----------------------------------------------------------------------------

    def _pool(self, key: bus_pb2.PoolKey) -> Pool | None:
        """The live pool for `key`, made if its version is current; None if it is not. Raises
        TooManyParameterSets rather than make one past the function's cap."""
        pid = pool_id(key)
        pool = self.pools.get(pid)
        if pool is not None:
            return None if pool.retired else pool
        record = self._store.record_of(key.app, key.version)  # serving, or warming (rollout.py)
        if record is None:
            return None
        function = next((f for f in record.spec.functions if f.name == key.function), None)
        if function is None:
            return None
        self._refuse_new_pool(key)
        pool = self.pools[pid] = Pool(key=key, function=function)
        return pool

    def _find(self, container_id: str) -> tuple[Pool, ContainerRecord] | None:
        for pool in self.pools.values():
            container = pool.containers.get(container_id)
            if container is not None:
                return pool, container
        return None

    def _placed(self) -> list[tuple[str, placement.Request]]:
        """(agent id, request) of every container placed, for placement to count what is taken."""
        return [
            (c.agent_id, placement.request_of(p.function))
            for p in self.pools.values()
            for c in p.containers.values()
        ]

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
