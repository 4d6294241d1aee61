"""Scale-down decisions: which containers of a pool to drain or stop now, which idle pools to
delete, and which idle containers a function's other parameter sets give up when one set has
requests waiting at max_containers. Pure, so the policy can be read and tested apart from the
messaging that carries it out (Assigner.tick, Assigner._boot_as_needed).

Scale-up is not here: it is event-driven, done when an edge's Demand arrives (Assigner.on_demand),
sized by Pool.boots_needed.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from services.scheduler.pools import ContainerRecord, Pool, State

# A draining container whose edge never released its lease (the edge may have died) is stopped
# after this long anyway.
RELEASE_TIMEOUT = 30.0
# A container is only taken from its parameter set for another after this long without a request:
# one just booted and leased may not have shown its first request in a heartbeat yet.
RECLAIM_IDLE = 1.0


class Action(enum.Enum):
    LOST = "lost"  # its agent stopped sending heartbeats: forget it
    DRAIN = "drain"  # idle for scaledown_window and above min_containers: take back and stop
    STOP = "stop"  # draining, but never released: stop it regardless


@dataclass(frozen=True)
class Decision:
    container: ContainerRecord
    action: Action


def decide(pool: Pool, now: float, dead_agents: set[str]) -> list[Decision]:
    """A ready container idle for the scale-down window drains unless the pool needs it for its
    floor (min_containers) or, while it has traffic, for its buffer of idle containers."""
    decisions = []
    ready = pool.count(State.READY)
    spare = sum(1 for c in pool.containers.values() if c.state is State.READY and not c.inflight)
    floor, buffer = pool.floor, pool.buffer(now)
    for container in pool.containers.values():
        if container.agent_id in dead_agents:
            decisions.append(Decision(container, Action.LOST))
            continue
        idle = container.inflight == 0 and now - container.idle_since >= pool.scaledown_window
        if container.state is State.READY and idle and ready > floor and spare > buffer:
            decisions.append(Decision(container, Action.DRAIN))
            ready -= 1
            spare -= 1
        elif container.state is State.DRAINING and now - container.idle_since > RELEASE_TIMEOUT:
            decisions.append(Decision(container, Action.STOP))
    return decisions


def expired(pool: Pool, now: float) -> bool:
    """A pool of the current version with no container and no load for its scale-down window (so
    no edge holds a lease on it either) is deleted: pools of values callers made up must not
    accumulate. The default pool stays while it keeps min_containers warm."""
    return (
        not pool.retired
        and not pool.floor
        and not pool.in_use(now)
        and (now - pool.used_at >= pool.scaledown_window)
    )


def reclaimable(siblings: Iterable[Pool], now: float, count: int) -> list[tuple[Pool, ContainerRecord]]:
    """Up to `count` containers other parameter sets of a function can give up to one with requests
    waiting at max_containers: ready, no request running for RECLAIM_IDLE, in a pool with none
    waiting, above the pool's floor; the longest idle first. Draining is graceful, so a request
    that slipped in meanwhile still completes."""
    if count <= 0:
        return []
    found: list[tuple[float, Pool, ContainerRecord]] = []
    for pool in siblings:
        if pool.waiting(now):
            continue
        spare = pool.count(State.READY) - pool.floor
        idle = [
            (c.idle_since, pool, c)
            for c in pool.containers.values()
            if c.state is State.READY and c.inflight == 0 and now - c.idle_since >= RECLAIM_IDLE
        ]
        idle.sort(key=lambda entry: entry[0])
        found.extend(idle[: max(0, spare)])
    found.sort(key=lambda entry: entry[0])
    return [(pool, container) for _, pool, container in found[:count]]
