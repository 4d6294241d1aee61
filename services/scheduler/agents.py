"""Agents known from their heartbeats, and where to place the next container."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from berth.v1 import bus_pb2

AGENT_TIMEOUT = 5.0


@dataclass
class AgentView:
    agent_id: str
    capacity: int
    seen: float = field(default_factory=time.monotonic)
    containers: dict[str, bus_pb2.ContainerStatus] = field(default_factory=dict)
    placed: int = 0  # containers the scheduler started here that heartbeats may not show yet
    isolation: str = ""  # as the agent reports it: "none" means its containers are not isolated


class Agents:
    def __init__(self) -> None:
        self._agents: dict[str, AgentView] = {}

    def heartbeat(self, beat: bus_pb2.AgentHeartbeat) -> AgentView:
        view = self._agents.get(beat.agent_id)
        if view is None:
            view = self._agents[beat.agent_id] = AgentView(beat.agent_id, beat.capacity)
        view.seen = time.monotonic()
        view.capacity = beat.capacity
        view.containers = {c.container_id: c for c in beat.containers}
        view.isolation = beat.isolation
        return view

    def unisolated(self) -> list[str]:
        """Live agents that run containers without isolation, for `berth app list` to warn about."""
        return sorted(a.agent_id for a in self.alive() if a.isolation == "none")

    def alive(self) -> list[AgentView]:
        now = time.monotonic()
        return [a for a in self._agents.values() if now - a.seen < AGENT_TIMEOUT]

    def dead(self) -> list[str]:
        now = time.monotonic()
        return [a.agent_id for a in self._agents.values() if now - a.seen >= AGENT_TIMEOUT]

    def forget(self, agent_id: str) -> None:
        self._agents.pop(agent_id, None)

    def place(self, running: dict[str, int]) -> str | None:
        """The live agent with the most free capacity, given how many containers each runs."""
        best: tuple[int, str] | None = None
        for agent in self.alive():
            free = agent.capacity - running.get(agent.agent_id, 0)
            if free > 0 and (best is None or free > best[0]):
                best = (free, agent.agent_id)
        return best[1] if best else None
