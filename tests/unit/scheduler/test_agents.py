"""Placing containers on live agents, and noticing dead ones."""

import time

from berth.v1 import bus_pb2
from services.scheduler.agents import AGENT_TIMEOUT, RESTART_GRACE, Agents, AgentView
from services.scheduler.placement import Request, Room


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


def test_an_agent_silent_for_three_seconds_is_dead_well_within_five() -> None:
    # The scheduler ticks every second, so a dead agent is acted on by AGENT_TIMEOUT + 1 s.
    assert AGENT_TIMEOUT + 1.0 <= 5.0
    agents = Agents()
    agents.heartbeat(bus_pb2.AgentHeartbeat(agent_id="a", capacity=4), now=100.0)
    agents.heartbeat(bus_pb2.AgentHeartbeat(agent_id="b", capacity=4), now=100.0)
    agents.heartbeat(bus_pb2.AgentHeartbeat(agent_id="b", capacity=4), now=102.5)
    assert agents.dead(now=102.9) == []  # two missed beats: a pause, not a death
    assert agents.dead(now=103.0) == ["a"]
    assert [a.agent_id for a in agents.alive(now=103.0)] == ["b"]
    assert agents.place({}, now=103.0) == "b"  # never placed on a dead agent
    # Back under the same id (restarted, or resumed): alive again at its next beat.
    agents.heartbeat(bus_pb2.AgentHeartbeat(agent_id="a", capacity=4), now=104.0)
    assert agents.dead(now=104.0) == []


def test_rooms_count_placed_containers_and_their_requests() -> None:
    agents = Agents()
    beat = bus_pb2.AgentHeartbeat(agent_id="a", capacity=4, cpu=4, memory_mib=4096)
    agents.heartbeat(beat, now=10.0)
    agents.heartbeat(bus_pb2.AgentHeartbeat(agent_id="b", capacity=4, cpu=1, memory_mib=1024), now=10.0)
    placed = [("a", Request(cpu=1, memory_mib=512)), ("a", Request(cpu=1)), ("gone", Request(cpu=9))]
    rooms = {r.agent_id: r for r in agents.rooms(placed, now=10.0)}
    assert rooms["a"] == Room("a", 4, cpu=4, memory_mib=4096, containers=2, cpu_used=2, memory_used_mib=512)
    assert rooms["b"] == Room("b", 4, cpu=1, memory_mib=1024)
    # b has more free slots but not the 2 cores asked for.
    assert agents.place(placed, Request(cpu=2), now=10.0) == "a"
    assert agents.place(placed, Request(cpu=0.5), now=10.0) == "b"


def test_with_no_agent_alive_requests_wait_a_grace_for_one_to_come_back() -> None:
    assert Agents().absent(now=0.0)  # never any agent: fail at once
    agents = Agents()
    agents.heartbeat(bus_pb2.AgentHeartbeat(agent_id="a", capacity=1), now=100.0)
    assert not agents.absent(now=100.5)
    dead_at = 100.0 + AGENT_TIMEOUT
    assert agents.dead(now=dead_at) == ["a"]
    agents.forget("a")
    assert not agents.absent(now=dead_at)  # it may be restarting
    assert agents.absent(now=dead_at + RESTART_GRACE)
    agents.heartbeat(bus_pb2.AgentHeartbeat(agent_id="a", capacity=1), now=dead_at + RESTART_GRACE + 1)
    assert not agents.absent(now=dead_at + RESTART_GRACE + 1)
