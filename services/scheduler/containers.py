"""What `berth container list|stop` sees: the scheduler's pools and the agents' heartbeats,
turned into ContainerSummary rows, and the one container a stop names.

Pools (services/scheduler/pools.py) know each container's app, function, version, parameters,
state and inputs in flight but not when it started, so ContainerAges remembers when each first
appeared in its agent's heartbeat (sent every second once the container is running).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from nats.aio.client import Client
from nats.aio.msg import Msg

from berth.v1 import bus_pb2, control_pb2
from services.common import subjects
from services.scheduler.pools import ContainerRecord, Pool


class ContainerAges:
    """When each running container was first seen, per agent. A heartbeat lists all of an agent's
    running containers, so ids missing from one are forgotten: memory follows what runs."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._first_seen: dict[str, dict[str, float]] = {}

    def observe(self, beat: bus_pb2.AgentHeartbeat) -> None:
        now = self._clock()
        before = self._first_seen.get(beat.agent_id, {})
        self._first_seen[beat.agent_id] = {
            c.container_id: before.get(c.container_id, now) for c in beat.containers
        }

    def age_ms(self, agent_id: str, container_id: str) -> int:
        """Milliseconds since first seen running; 0 when never seen (still booting)."""
        first = self._first_seen.get(agent_id, {}).get(container_id)
        return 0 if first is None else int((self._clock() - first) * 1000)

    async def watch(self, nc: Client) -> None:
        """Follows heartbeats beside the assigner's own subscription to them."""

        async def on_heartbeat(msg: Msg) -> None:
            self.observe(bus_pb2.AgentHeartbeat.FromString(msg.data))

        await nc.subscribe(subjects.AGENT_HEARTBEAT, cb=on_heartbeat)


def app_name(app_key: str) -> tuple[str, bool]:
    """(name, ephemeral) of an app key ("live.<name>" or "dev.<name>")."""
    kind, _, name = app_key.partition(".")
    return name, kind == "dev"


def summaries(
    pools: Iterable[Pool], ages: ContainerAges, *, app: str = ""
) -> list[control_pb2.ContainerSummary]:
    """One row per container, of the app named `app` (deployed and served alike) or of all,
    sorted by app, function, version and id."""
    rows = []
    for pool in pools:
        name, ephemeral = app_name(pool.key.app)
        if app and name != app:
            continue
        for container in pool.containers.values():
            rows.append(
                control_pb2.ContainerSummary(
                    container_id=container.container_id,
                    app=name,
                    ephemeral=ephemeral,
                    function=pool.key.function,
                    version=pool.key.version,
                    parameters=pool.key.params,
                    state=container.state.value,
                    inflight=container.inflight,
                    max_inputs=pool.max_inputs,
                    age_ms=ages.age_ms(container.agent_id, container.container_id),
                    agent_id=container.agent_id,
                )
            )
    rows.sort(key=lambda r: (r.app, r.ephemeral, r.function, r.version, r.container_id))
    return rows


def find(pools: Iterable[Pool], container_id: str) -> tuple[Pool, ContainerRecord] | None:
    for pool in pools:
        container = pool.containers.get(container_id)
        if container is not None:
            return pool, container
    return None
