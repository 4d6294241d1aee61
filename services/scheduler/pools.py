"""Container pools: one per deployed function version and set of class parameters.

A parametrized class gets a pool per distinct set of values its callers send, so pools are
bounded: at most `max_parameter_sets` live per function (the scheduler refuses a new set beyond
that), a pool with nothing in it for its scale-down window is deleted, and `max_containers` counts
a function's containers across all its pools.
"""

from __future__ import annotations

import enum
import functools
import math
import time
from dataclasses import dataclass, field

from berth import _spec_rules as spec_rules
from berth.v1 import bus_pb2, spec_pb2
from services.common.pools import ParameterError, canonical_params, pool_id

__all__ = ["ContainerRecord", "Pool", "State", "function_id", "pool_id"]

LOAD_TTL = 3.0
# Live pools (distinct parameter sets) per function version. Each may hold containers, so this is
# what one stranger choosing query values can make a function cost; legitimate uses (a handful of
# configurations) fit well below it. 0: no cap.
DEFAULT_MAX_PARAMETER_SETS = 16
TOO_MANY_PARAMETER_SETS = "too many distinct parameter sets"


def function_id(key: bus_pb2.PoolKey) -> str:
    """The function version a pool belongs to: what max_containers and the pool cap count over."""
    return f"{key.app}/{key.function}/{key.version}"


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
    leased_to: str = ""  # an edge holding slots of it (the only one unless shared), "" when none
    # Slots each edge holds (sum <= the pool's max_inputs): several edges may share a container
    # (leasing.split). Empty for an adopted container whose holder is unknown.
    shares: dict[str, int] = field(default_factory=dict)
    # Edges whose share was revoked to give it to others, until they answer LeaseReleased: one of
    # them is not offered slots again before that, so its late release cannot void a new share.
    leaving: set[str] = field(default_factory=set)
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
    # When the pool last held a container or an edge's load; it is deleted a scale-down window
    # after that (autoscaler.expired).
    used_at: float = field(default_factory=time.monotonic)

    @functools.cached_property
    def floor(self) -> int:
        """Containers kept however idle: min_containers, for the default parameter set's pool only
        (the one a deploy warms). Pools of values callers chose scale to zero and go away, so
        nobody can pin containers by inventing values."""
        try:
            default = canonical_params(self.function.parameters, b"")
        except ParameterError:
            return 0  # a required parameter: there is no default pool
        return self.function.scaling.min_containers if self.key.params == default else 0

    # Deploys store resolved values (spec_rules.resolve_app); the rules still apply to a spec
    # that never went through one.
    @property
    def max_inputs(self) -> int:
        return spec_rules.max_inputs(self.function.scaling)

    @property
    def target(self) -> int:
        """Inputs per container the autoscaler aims for (concurrent's target_inputs)."""
        return spec_rules.target_inputs(self.function.scaling)

    @property
    def scaledown_window(self) -> float:
        return spec_rules.scaledown_window(self.function.scaling)

    def report(self, edge_id: str, *, waiting: int, inflight: int, now: float) -> None:
        self.loads[edge_id] = EdgeLoad(waiting=waiting, inflight=inflight, at=now)
        self.used_at = now

    def in_use(self, now: float) -> bool:
        """Holds a container (booting, serving, draining) or load an edge reported lately."""
        return bool(self.containers) or any(load.waiting or load.inflight for _, load in self._fresh(now))

    def _fresh(self, now: float) -> list[tuple[str, EdgeLoad]]:
        # Edges repeat their report every second while requests queue; older ones are history.
        return [(edge, load) for edge, load in self.loads.items() if now - load.at <= LOAD_TTL]

    def waiting(self, now: float) -> dict[str, int]:
        return {edge: load.waiting for edge, load in self._fresh(now) if load.waiting > 0}

    def demand(self, now: float) -> dict[str, int]:
        """Each edge's fresh load on the pool (waiting + in flight): what a container's slots are
        split by (leasing.split)."""
        return {edge: load.waiting + load.inflight for edge, load in self._fresh(now)}

    def inflight(self, now: float) -> dict[str, int]:
        """Requests each edge lately reported running on the pool."""
        return {edge: load.inflight for edge, load in self._fresh(now)}

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

    def has_traffic(self, now: float) -> bool:
        """Requests run on a container (its agent's heartbeat says) or an edge reported some lately."""
        return any(c.inflight for c in self.containers.values()) or any(
            load.waiting or load.inflight for _, load in self._fresh(now)
        )

    def buffer(self, now: float) -> int:
        """Idle containers kept beyond what the load needs (buffer_containers), while the pool has
        traffic: the next burst finds them warm. An idle pool keeps none, so it still scales to
        zero."""
        return self.function.scaling.buffer_containers if self.has_traffic(now) else 0

    def wanted(self, now: float, *, with_load: bool = True) -> int:
        """Containers to add so the pool fits its load (requests running plus queued, as the edges
        report it) at `target` inputs each plus its buffer, and at least its floor; before
        max_containers. Sizing to the load rather than the queue keeps a burst from booting more
        containers than there are concurrent requests. Without a fresh load report (the tick),
        the containers serving requests now stand for the load, so the buffer is kept up."""
        load = sum(entry.waiting + entry.inflight for _, entry in self._fresh(now)) if with_load else 0
        running = self.count(State.BOOTING, State.READY)
        busy = sum(1 for c in self.containers.values() if c.state is State.READY and c.inflight)
        need = max(0, max(math.ceil(load / self.target), busy) + self.buffer(now) - running)
        return max(need, self.floor - running)

    def boots_needed(self, now: float, *, with_load: bool = True, others: int = 0) -> int:
        """`wanted`, within max_containers. That counts every container of the function that may
        still run: this pool's (draining ones too, until they are gone) and `others`, those of the
        function's other parameter sets and those being stopped."""
        need = self.wanted(now, with_load=with_load)
        limit = self.function.scaling.max_containers
        if limit:
            need = min(need, max(0, limit - len(self.containers) - others))
        return need

    def expires_in(self, now: float) -> float:
        """Seconds until this pool could be deleted if no request came: an estimate for clients
        told to retry (an idle container drains after the window, then the empty pool after
        another)."""
        window = self.scaledown_window
        if self.floor:
            return math.inf
        busy = any(c.inflight or c.state is State.BOOTING for c in self.containers.values())
        if busy or any(load.waiting or load.inflight for _, load in self._fresh(now)):
            return 2 * window
        if self.containers:
            newest = max(c.idle_since for c in self.containers.values())
            return max(0.0, window - (now - newest)) + window
        return max(0.0, window - (now - self.used_at))
