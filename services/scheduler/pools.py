"""Container pools: one per deployed function version and set of class parameters."""

from __future__ import annotations

import enum
import math
import time
from dataclasses import dataclass, field

from berth.v1 import bus_pb2, spec_pb2
from services.common.pools import pool_id

__all__ = ["ContainerRecord", "Pool", "State", "pool_id"]

DEFAULT_SCALEDOWN_WINDOW = 60.0


class State(enum.Enum):
    BOOTING = "booting"
    READY = "ready"
    DRAINING = "draining"


@dataclass
class ContainerRecord:
    container_id: str
    agent_id: str
    state: State = State.BOOTING
    data_subject: str = ""
    leased_to: str = ""  # edge id, "" when no edge holds it
    inflight: int = 0
    idle_since: float = field(default_factory=time.monotonic)
    drain_reason: str = ""


@dataclass
class Pool:
    key: bus_pb2.PoolKey
    function: spec_pb2.FunctionSpec
    containers: dict[str, ContainerRecord] = field(default_factory=dict)
    # Requests each edge reported waiting for this pool, beyond the slots it holds.
    demand: dict[str, int] = field(default_factory=dict)
    # The current version's pools serve; an old version's pools only drain.
    retired: bool = False

    @property
    def max_inputs(self) -> int:
        return max(1, self.function.scaling.max_inputs)

    @property
    def scaledown_window(self) -> float:
        return self.function.scaling.scaledown_window or DEFAULT_SCALEDOWN_WINDOW

    def count(self, *states: State) -> int:
        return sum(1 for c in self.containers.values() if c.state in states)

    def unleased_ready(self) -> list[ContainerRecord]:
        return [c for c in self.containers.values() if c.state is State.READY and not c.leased_to]

    def boots_needed(self) -> int:
        """How many more containers the waiting requests call for, within max_containers."""
        waiting = sum(self.demand.values())
        wanted = math.ceil(waiting / self.max_inputs)
        spare = self.count(State.BOOTING) + len(self.unleased_ready())
        need = max(0, wanted - spare)
        minimum = self.function.scaling.min_containers
        need = max(need, minimum - self.count(State.BOOTING, State.READY))
        limit = self.function.scaling.max_containers
        if limit:
            need = min(need, max(0, limit - self.count(State.BOOTING, State.READY)))
        return need
