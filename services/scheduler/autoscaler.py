"""Scale-down decisions: which containers of a pool to drain or stop now. Pure, so the policy can
be read and tested apart from the messaging that carries it out (Assigner.tick).

Scale-up is not here: it is event-driven, done when an edge's Demand arrives (Assigner.on_demand),
sized by Pool.boots_needed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from services.scheduler.pools import ContainerRecord, Pool, State

# A draining container whose edge never released its lease (the edge may have died) is stopped
# after this long anyway.
RELEASE_TIMEOUT = 30.0


class Action(enum.Enum):
    LOST = "lost"  # its agent stopped sending heartbeats: forget it
    DRAIN = "drain"  # idle for scaledown_window and above min_containers: take back and stop
    STOP = "stop"  # draining, but never released: stop it regardless


@dataclass(frozen=True)
class Decision:
    container: ContainerRecord
    action: Action


def decide(pool: Pool, now: float, dead_agents: set[str]) -> list[Decision]:
    decisions = []
    ready = pool.count(State.READY)
    floor = pool.function.scaling.min_containers
    for container in pool.containers.values():
        if container.agent_id in dead_agents:
            decisions.append(Decision(container, Action.LOST))
            continue
        idle = container.inflight == 0 and now - container.idle_since >= pool.scaledown_window
        if container.state is State.READY and idle and ready > floor:
            decisions.append(Decision(container, Action.DRAIN))
            ready -= 1
        elif container.state is State.DRAINING and now - container.idle_since > RELEASE_TIMEOUT:
            decisions.append(Decision(container, Action.STOP))
    return decisions
