"""Which ready container goes to which edge. Pure, beside the autoscaler: the Assigner acts on the
answers through its Effects (services/scheduler/effects.py).

An edge asks (Demand) only when requests queue there; it is leased whole containers, each covering
`max_inputs` of its waiting requests, so a Demand gets as many free containers as its queue
fills. Which edge a container that becomes free goes to is placement.fair_offer's choice.

When edges queue and nothing is free or booting, a container's slots are divided among the edges
that want it (`split`): each gets a share in proportion to its load (waiting + in flight), at
least one slot while the container has room. One edge alone still gets every slot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from services.scheduler.pools import ContainerRecord, Pool


def for_demand(pool: Pool, edge_id: str, now: float) -> list[ContainerRecord]:
    """The unleased ready containers to grant `edge_id` for the requests it has waiting."""
    waiting = pool.waiting(now).get(edge_id, 0)
    if waiting <= 0:
        return []
    return pool.unleased_ready()[: math.ceil(waiting / pool.max_inputs)]



def split(slots: int, demand: Mapping[str, int]) -> dict[str, int]:
    """Slots per edge: `slots` of one container divided among the edges with `demand` > 0 in
    proportion to it, at least 1 each. With more such edges than slots, the most demanding (then
    the smallest id) get 1 each. Every slot is handed out; remainders go to the largest fractions
    (then the most demanding, then the smallest id), so the answer is deterministic."""
    edges = sorted((e for e, n in demand.items() if n > 0), key=lambda e: (-demand[e], e))
    if slots <= 0 or not edges:
        return {}
    if len(edges) >= slots:
        return {edge: 1 for edge in edges[:slots]}
    rest = slots - len(edges)
    total = sum(demand[e] for e in edges)
    quotas = {e: rest * demand[e] / total for e in edges}
    shares = {e: 1 + math.floor(quotas[e]) for e in edges}
    left = slots - sum(shares.values())
    by_fraction = sorted(edges, key=lambda e: (-(quotas[e] - math.floor(quotas[e])), -demand[e], e))
    for edge in by_fraction[:left]:
        shares[edge] += 1
    return shares


def reshare(pool: Pool, container: ContainerRecord, needy: list[str], now: float) -> dict[str, int] | None:
    """The shares `container` should be split into, or None to leave it as it is.

    The candidates are the edges holding slots of it and `needy` (edges queueing that hold none
    in the pool), less those still giving a share back; each weighs its fresh load (waiting + in
    flight, pools.LOAD_TTL). Edges report only while requests queue there, so a holder with no
    fresh load may still be serving on its share: it keeps one slot while the container runs more
    than the fresh reports account for (its agent's heartbeat says), else it gives its share up.
    Nothing changes unless some candidate has requests waiting."""
    loads = pool.demand(now)
    waiting = pool.waiting(now)
    candidates = [e for e in [*container.shares, *needy] if e not in container.leaving]
    if not any(waiting.get(e, 0) > 0 for e in candidates):
        return None
    fresh = pool.inflight(now)
    unaccounted = container.inflight > sum(fresh.get(e, 0) for e in candidates)
    weights = {e: loads[e] if e in loads else int(unaccounted) for e in candidates}
    shares = split(pool.max_inputs, weights)
    return None if not shares or shares == container.shares else shares
