"""A scheduler's view rebuilt from what agents report, so neither a scheduler restart nor an agent
restart leaves the two disagreeing about which containers run. Pure decisions; Assigner acts.

- **Adoption**: a restarted scheduler starts with empty pools while the containers of the last one
  keep serving the edges that hold leases on them. A container an agent reports, of a pool that is
  current, is taken into that pool as ready instead of being stopped as a stranger. Which edge holds
  its lease is not known (edges do not report leases), so it is held by UNKNOWN_HOLDER: never
  granted to another edge while some edge may still use it, taken back by any edge's release, and
  freed when an edge says hello (a restarted edge holds nothing; with several edges, another one
  may then share it until the pool scales down, which over-commits it rather than fails requests).
- **Lost containers**: an agent that restarted no longer runs the containers of its predecessor
  (they ended with it), but it comes back under the same id before it would count as dead. A ready
  container missing from its agent's heartbeats for MISSING_GRACE is lost: forgotten, its lease
  revoked, and replaced as the load needs.
"""

from __future__ import annotations

from collections.abc import Iterable

from berth.v1 import bus_pb2
from services.common import subjects
from services.scheduler.pools import ContainerRecord, Pool, State

UNKNOWN_HOLDER = "?"  # leased_to of an adopted container: an edge may hold it, which one is unknown
# Heartbeats come every second; a container that booted just now may miss one that was sent before
# its boot answer, so one missing beat is not enough.
MISSING_GRACE = 2.5


def adoptable(status: bus_pb2.ContainerStatus, pool: Pool | None) -> bool:
    """Whether a container this scheduler does not know belongs to a pool it serves now (else it
    is a stranger, to be stopped: an old version's, or one whose boot answer came too late)."""
    return pool is not None and not pool.retired and pool.key == status.pool


def adopted(agent_id: str, status: bus_pb2.ContainerStatus, now: float) -> ContainerRecord:
    """The pool's record of a container adopted from `agent_id`'s heartbeat."""
    return ContainerRecord(
        container_id=status.container_id,
        agent_id=agent_id,
        state=State.READY,
        data_subject=subjects.container_data(agent_id, status.container_id),
        leased_to=UNKNOWN_HOLDER,
        inflight=status.inflight,
        idle_since=now - status.idle_ms / 1000,
    )


def lost(
    on_agent: Iterable[ContainerRecord], reported: set[str], missing_since: dict[str, float], now: float
) -> list[str]:
    """Ids of the containers an agent should run but has not reported for MISSING_GRACE.

    `on_agent`: the scheduler's records of containers placed on that agent; `reported`: the ids in
    its latest heartbeat. `missing_since` (first time each id was missing) is updated in place.
    Booting containers are left alone: the agent reports them only once their boot is answered."""
    gone = []
    for container in on_agent:
        cid = container.container_id
        if container.state is State.BOOTING or cid in reported:
            missing_since.pop(cid, None)
            continue
        first = missing_since.setdefault(cid, now)
        if now - first >= MISSING_GRACE:
            del missing_since[cid]
            gone.append(cid)
    return gone


def releasable(container: ContainerRecord, edge_id: str) -> bool:
    """Whether `edge_id` releasing its lease frees the container: the holder did, or the holder was
    unknown (adopted) and an edge gave it back."""
    return edge_id in container.shares or container.leased_to in (edge_id, UNKNOWN_HOLDER)
