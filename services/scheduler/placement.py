"""Where the next container goes, and how a pool's containers are shared between edges. Pure
functions over plain numbers, so the policy can be read and tested apart from the messaging that
carries it out (Assigner._boot_as_needed, Assigner._offer, Assigner._share).

Placement: an agent fits a container when it has a free container slot (its `capacity`) and, for
what it reports (cpu cores, memory MiB; 0 = not counted), room for the container's `cpu=` and
`memory=` requests beside what the scheduler already placed there. `cpu=`/`memory=` are only
*enforced* by the Docker runtime, but they are requests either way: placing by them keeps one agent
from taking every heavy container. Among agents that fit, the one with the most free slots wins
(spreading containers, so losing one agent loses the fewest), then the most free memory, then the
id, so the choice is deterministic.

Sharing: a free container is leased to one edge whole (all `max_inputs` slots). When several
edges have requests waiting and no container is free or booting, a container of several slots is
divided among them (leasing.split, Assigner._divide). Single-slot containers cannot be divided, so
holdings are evened out: a freed container
goes to the waiting edge holding the fewest (fair_offer), and one is asked back from the edge
holding the most for an edge holding none or two fewer (take_back), so with a single container
the edges take turns rather than the first one that asked keeping it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from berth.v1 import spec_pb2


@dataclass(frozen=True)
class Room:
    """What one live agent offers, and what the scheduler has placed on it so far."""

    agent_id: str
    capacity: int  # containers it takes
    cpu: float = 0.0  # cores it offers; 0: cpu is not counted
    memory_mib: int = 0  # MiB it offers; 0: memory is not counted
    containers: int = 0
    cpu_used: float = 0.0
    memory_used_mib: int = 0


@dataclass(frozen=True)
class Request:
    """What one container asks for: the function's `cpu=` and `memory=` (0 when not given)."""

    cpu: float = 0.0
    memory_mib: int = 0


def fits(room: Room, request: Request) -> bool:
    if room.containers >= room.capacity:
        return False
    # A tiny epsilon: 0.1 + 0.2 placed must still leave room for 0.7 of 1.0.
    if room.cpu and request.cpu and room.cpu_used + request.cpu > room.cpu + 1e-9:
        return False
    return not (
        room.memory_mib and request.memory_mib and room.memory_used_mib + request.memory_mib > room.memory_mib
    )


def choose(rooms: Iterable[Room], request: Request) -> str | None:
    """The agent the container should boot on, or None when no live agent has room for it."""
    fitting = [room for room in rooms if fits(room, request)]
    if not fitting:
        return None

    def rank(room: Room) -> tuple[int, float, str]:
        free_memory = room.memory_mib - room.memory_used_mib if room.memory_mib else math.inf
        return (room.containers - room.capacity, -free_memory, room.agent_id)

    return min(fitting, key=rank).agent_id


def never_fits(rooms: Iterable[Room], request: Request) -> bool:
    """True when no live agent could take the container even with nothing else on it: its requests
    exceed every agent's size, so waiting for room will not help (a clear failure instead)."""
    empty = [Room(r.agent_id, r.capacity, r.cpu, r.memory_mib) for r in rooms]
    return bool(empty) and not any(fits(room, request) for room in empty)


def request_of(function: spec_pb2.FunctionSpec) -> Request:
    """A function's containers' request: its `cpu=` and `memory=`."""
    return Request(cpu=function.scaling.cpu, memory_mib=function.scaling.memory_mib)


def too_big(request: Request) -> str:
    """The failure users see when no agent could ever take a container of their function."""
    asked = []
    if request.cpu:
        asked.append(f"cpu={request.cpu:g}")
    if request.memory_mib:
        asked.append(f"memory={request.memory_mib}")
    return (
        f"no agent is large enough for this function's containers ({', '.join(asked)}): "
        "lower the request or add a larger agent"
    )


def fair_offer(waiting: Mapping[str, int], held: Mapping[str, int]) -> str | None:
    """The edge a container that just became free goes to: among edges with requests waiting, the
    one holding the fewest of the pool's containers, then the one with the most waiting, then the
    smallest id. None when no edge waits."""
    wanting = [edge for edge, n in waiting.items() if n > 0]
    if not wanting:
        return None
    return min(wanting, key=lambda edge: (held.get(edge, 0), -waiting[edge], edge))


def take_back(waiting: Mapping[str, int], held: Mapping[str, int]) -> tuple[str, str] | None:
    """(the edge that should give one of the pool's containers back, the edge it then goes to), so
    every edge queueing gets its share, for when no container is free or on its way
    (max_containers, or no agent has room).

    An edge with requests waiting and no container takes one from the edge holding the most; an
    edge holding k while another holds k + 2 or more evens them out by one. With one container
    and two edges queueing, that makes the container alternate between them rather than stay with
    whichever asked first. `held` counts containers per edge, those already asked back excluded.
    The neediest edge (fewest held, then most waiting, then id) is served first. None when the
    split is already as even as whole containers allow."""
    holders = {edge: n for edge, n in held.items() if n > 0}
    if not holders:
        return None
    richest = min(holders, key=lambda edge: (-holders[edge], edge))
    needy = [
        edge
        for edge, n in waiting.items()
        if n > 0
        and edge != richest
        and holders[richest] - held.get(edge, 0) >= (1 if not held.get(edge) else 2)
    ]
    if not needy:
        return None
    return richest, min(needy, key=lambda edge: (held.get(edge, 0), -waiting[edge], edge))
