"""Placing containers on live agents, and noticing dead ones."""

import time

from berth.v1 import bus_pb2
from services.scheduler.agents import AGENT_TIMEOUT, Agents, AgentView


def agents_with(*views: AgentView) -> Agents:
    """Agents that heard from each view, with the view's own `seen` time kept."""
    agents = Agents()
    for view in views:
        heard = agents.heartbeat(bus_pb2.AgentHeartbeat(agent_id=view.agent_id, capacity=view.capacity))
        heard.seen = view.seen
    return agents


def test_place_picks_the_most_free_capacity() -> None:
    agents = agents_with(AgentView("a", 4), AgentView("b", 8), AgentView("c", 6))
    assert agents.place({}) == "b"
    assert agents.place({"b": 5}) == "c"


def test_place_returns_none_when_all_are_full() -> None:
    agents = agents_with(AgentView("a", 2), AgentView("b", 1))
    assert agents.place({"a": 2, "b": 3}) is None


def test_place_with_no_agents() -> None:
    assert Agents().place({}) is None


def test_dead_agents_are_not_placed_on() -> None:
    stale = time.monotonic() - AGENT_TIMEOUT - 1
    agents = agents_with(AgentView("old", 100, seen=stale), AgentView("new", 1))
    assert agents.place({}) == "new"
    assert agents.dead() == ["old"]
    assert [a.agent_id for a in agents.alive()] == ["new"]


def test_heartbeat_registers_and_refreshes() -> None:
    agents = agents_with(AgentView("a", 1, seen=time.monotonic() - AGENT_TIMEOUT - 1))
    assert agents.dead() == ["a"]
    beat = bus_pb2.AgentHeartbeat(agent_id="a", capacity=3)
    view = agents.heartbeat(beat)
    assert view.capacity == 3
    assert agents.dead() == []
    agents.heartbeat(bus_pb2.AgentHeartbeat(agent_id="b", capacity=2))
    assert sorted(a.agent_id for a in agents.alive()) == ["a", "b"]


def test_forget() -> None:
    agents = agents_with(AgentView("a", 1))
    agents.forget("a")
    agents.forget("unknown")
    assert agents.place({}) is None


def test_agents_without_isolation_are_named_for_the_warning() -> None:
    agents = Agents()
    agents.heartbeat(bus_pb2.AgentHeartbeat(agent_id="a", capacity=4, isolation="uid+namespaces"))
    agents.heartbeat(bus_pb2.AgentHeartbeat(agent_id="b", capacity=4, isolation="none"))
    assert agents.unisolated() == ["b"]
