"""Agents known from their heartbeats: which are alive, what each offers, and where the next
container fits (services/scheduler/placement.py holds the policy).

Agents beat every second. One silent for AGENT_TIMEOUT is dead: the scheduler's tick (every
second) then drops its containers from their pools, tells the edges holding them that they are
lost, and boots replacements on the other agents, so a dead agent is acted on within
AGENT_TIMEOUT + one tick (4 s), inside the 5 s the platform promises. Three missed beats rather
than one or two: a busy event loop or a garbage-collection pause must not cost a healthy agent
its containers. An agent that comes back under the same id is simply alive again; what it still
runs is adopted or stopped from its heartbeats (adoption.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from berth.v1 import bus_pb2
from services.scheduler import placement

AGENT_TIMEOUT = 3.0
# With no agent alive, requests stay queued this long after one was last heard of before they fail
# (503): the only agent restarting (`berth up` starts it again within a second or two, longer on a
# loaded host) must not fail the requests that wait for it.
RESTART_GRACE = 10.0


@dataclass
class AgentView:
    agent_id: str
    capacity: int
    seen: float = field(default_factory=time.monotonic)
    isolation: str = ""  # as the agent reports it: "none" means its containers are not isolated
    cpu: float = 0.0  # cores it offers containers; 0: not counted
    memory_mib: int = 0  # MiB it offers containers; 0: not counted


class Agents:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock  # the Assigner's, so tests pass time in
        self._agents: dict[str, AgentView] = {}
        self._last_beat = -math.inf  # any agent's, kept when dead agents are forgotten

    def heartbeat(self, beat: bus_pb2.AgentHeartbeat, now: float | None = None) -> AgentView:
        view = self._agents.get(beat.agent_id)
        if view is None:
            view = self._agents[beat.agent_id] = AgentView(beat.agent_id, beat.capacity)
        view.seen = self._clock() if now is None else now
        self._last_beat = max(self._last_beat, view.seen)
        view.capacity = beat.capacity
        view.isolation = beat.isolation
        view.cpu = beat.cpu
        view.memory_mib = beat.memory_mib
        return view

    def unisolated(self) -> list[str]:
        """Live agents that run containers without isolation, for `berth app list` to warn about."""
        return sorted(a.agent_id for a in self.alive() if a.isolation == "none")

    def alive(self, now: float | None = None) -> list[AgentView]:
        now = self._clock() if now is None else now
        return [a for a in self._agents.values() if now - a.seen < AGENT_TIMEOUT]

    def dead(self, now: float | None = None) -> list[str]:
        """Agents silent for AGENT_TIMEOUT or longer (until forgotten)."""
        now = self._clock() if now is None else now
        return sorted(a.agent_id for a in self._agents.values() if now - a.seen >= AGENT_TIMEOUT)

    def absent(self, now: float | None = None) -> bool:
        """No agent is alive, and none beat within AGENT_TIMEOUT + RESTART_GRACE (or ever):
        requests cannot wait for one to come back."""
        now = self._clock() if now is None else now
        return not self.alive(now) and now - self._last_beat >= AGENT_TIMEOUT + RESTART_GRACE

    def forget(self, agent_id: str) -> None:
        self._agents.pop(agent_id, None)

    def rooms(
        self, placed: Iterable[tuple[str, placement.Request]], now: float | None = None
    ) -> list[placement.Room]:
        """What each live agent offers, less what `placed` (agent id, the container's request:
        every container the scheduler has on an agent) takes."""
        used: dict[str, tuple[int, float, int]] = {}
        for agent_id, request in placed:
            count, cpu, memory = used.get(agent_id, (0, 0.0, 0))
            used[agent_id] = (count + 1, cpu + request.cpu, memory + request.memory_mib)
        rooms = []
        for agent in self.alive(now):
            count, cpu, memory = used.get(agent.agent_id, (0, 0.0, 0))
            rooms.append(
                placement.Room(
                    agent.agent_id,
                    agent.capacity,
                    cpu=agent.cpu,
                    memory_mib=agent.memory_mib,
                    containers=count,
                    cpu_used=cpu,
                    memory_used_mib=memory,
                )
            )
        return rooms

    def place(
        self,
        placed: dict[str, int] | Iterable[tuple[str, placement.Request]],
        request: placement.Request | None = None,
        now: float | None = None,
    ) -> str | None:
        """The live agent the next container should boot on (placement.choose), given what is
        placed already: a count per agent, or (agent id, request) per container."""
        if isinstance(placed, dict):
            placed = [(agent_id, placement.Request()) for agent_id, n in placed.items() for _ in range(n)]
        return placement.choose(self.rooms(placed, now), request or placement.Request())
