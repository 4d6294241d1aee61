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
LOAD_TTL = 3.0


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
class EdgeLoad:
    """What one edge last reported for a pool, and when."""

    waiting: int
    inflight: int
    at: float


@dataclass
class Pool:
    key: bus_pb2.PoolKey
    function: spec_pb2.FunctionSpec
    containers: dict[str, ContainerRecord] = field(default_factory=dict)
    loads: dict[str, EdgeLoad] = field(default_factory=dict)
    # The current version's pools serve; an old version's pools only drain.
    retired: bool = False

    @property
    def max_inputs(self) -> int:
        return max(1, self.function.scaling.max_inputs)

    @property
    def target(self) -> int:
        """Inputs per container the autoscaler aims for (concurrent's target_inputs)."""
        target = self.function.scaling.target_inputs or self.max_inputs
        return max(1, min(target, self.max_inputs))

    @property
    def scaledown_window(self) -> float:
        return self.function.scaling.scaledown_window or DEFAULT_SCALEDOWN_WINDOW

    def report(self, edge_id: str, *, waiting: int, inflight: int, now: float) -> None:
        self.loads[edge_id] = EdgeLoad(waiting=waiting, inflight=inflight, at=now)

    def _fresh(self, now: float) -> list[tuple[str, EdgeLoad]]:
        # Edges repeat their report every second while requests queue; older ones are history.
        return [(edge, load) for edge, load in self.loads.items() if now - load.at <= LOAD_TTL]

    def waiting(self, now: float) -> dict[str, int]:
        return {edge: load.waiting for edge, load in self._fresh(now) if load.waiting > 0}

    def took(self, edge_id: str, slots: int) -> None:
        """A lease went to `edge_id`: that many of its waiting requests are served."""
        load = self.loads.get(edge_id)
        if load is not None:
            moved = min(load.waiting, slots)
            load.waiting -= moved
            load.inflight += moved

    def forget_waiting(self) -> None:
        for load in self.loads.values():
            load.waiting = 0

    def count(self, *states: State) -> int:
        return sum(1 for c in self.containers.values() if c.state in states)

    def unleased_ready(self) -> list[ContainerRecord]:
        return [c for c in self.containers.values() if c.state is State.READY and not c.leased_to]

    def boots_needed(self, now: float, *, with_load: bool = True) -> int:
        """Containers to add so the pool fits its load (requests running plus queued, as the edges
        report it) at `target` inputs each, within [min_containers, max_containers]. Sizing to
        the load rather than the queue keeps a burst from booting more containers than there
        are concurrent requests."""
        load = sum(entry.waiting + entry.inflight for _, entry in self._fresh(now)) if with_load else 0
        running = self.count(State.BOOTING, State.READY)
        need = max(0, math.ceil(load / self.target) - running)
        need = max(need, self.function.scaling.min_containers - running)
        limit = self.function.scaling.max_containers
        if limit:
            need = min(need, max(0, limit - running))
        return need
