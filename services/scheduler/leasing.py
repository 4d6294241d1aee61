"""Which ready container goes to which edge. Pure, beside the autoscaler: the Assigner acts on the
answers through its Effects (services/scheduler/effects.py).

An edge asks (Demand) only when requests queue there; it is leased whole containers, each covering
`max_inputs` of its waiting requests, so a Demand gets as many free containers as its queue
fills. Which edge a container that becomes free goes to is placement.fair_offer's choice.
"""

from __future__ import annotations

import math

from services.scheduler.pools import ContainerRecord, Pool


def for_demand(pool: Pool, edge_id: str, now: float) -> list[ContainerRecord]:
    """The unleased ready containers to grant `edge_id` for the requests it has waiting."""
    waiting = pool.waiting(now).get(edge_id, 0)
    if waiting <= 0:
        return []
    return pool.unleased_ready()[: math.ceil(waiting / pool.max_inputs)]

