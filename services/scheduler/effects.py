"""Everything the Assigner says to the rest of the platform, behind one narrow interface.

The Assigner decides (with the pure modules beside it: leasing, backoff, autoscaler, adoption,
pools) and then acts only through `Effects`: lease grants and revokes and pool failures to edges,
boot and stop orders to agents. `NatsEffects` carries them over the bus; unit tests pass a recorder
instead, so the Assigner's event handling can be tested with time passed in and no bus at all.
"""

from __future__ import annotations

from typing import Protocol

from nats.aio.client import Client

from berth.v1 import bus_pb2
from services.common import bus, subjects


class Effects(Protocol):
    """The five things the scheduler tells edges and agents."""

    async def grant(self, edge_id: str, grant: bus_pb2.LeaseGrant) -> None:
        """Leases a container's slots to an edge."""

    async def revoke(self, edge_id: str, revoke: bus_pb2.LeaseRevoke) -> None:
        """Takes a lease back: the edge lets its requests on it finish, then releases it."""

    async def fail(self, edge_id: str, failure: bus_pb2.PoolFailure) -> None:
        """Fails the requests an edge has waiting for a pool."""

    async def boot(self, agent_id: str, order: bus_pb2.BootOrder, timeout: float) -> bus_pb2.BootResult:
        """Starts a container and waits for the agent's answer; TimeoutError past `timeout`."""

    async def stop(self, agent_id: str, order: bus_pb2.StopOrder, timeout: float) -> None:
        """Stops a container and waits for the agent's answer; raises if it cannot be had."""


class NatsEffects:
    """`Effects` over NATS: edge control messages are fire-and-forget, agent orders are requests."""

    def __init__(self, nc: Client) -> None:
        self._nc = nc

    async def grant(self, edge_id: str, grant: bus_pb2.LeaseGrant) -> None:
        await self._to_edge(edge_id, bus_pb2.EdgeControl(grant=grant))

    async def revoke(self, edge_id: str, revoke: bus_pb2.LeaseRevoke) -> None:
        await self._to_edge(edge_id, bus_pb2.EdgeControl(revoke=revoke))

    async def fail(self, edge_id: str, failure: bus_pb2.PoolFailure) -> None:
        await self._to_edge(edge_id, bus_pb2.EdgeControl(failure=failure))

    async def boot(self, agent_id: str, order: bus_pb2.BootOrder, timeout: float) -> bus_pb2.BootResult:
        return await bus.request(
            self._nc, subjects.agent_boot(agent_id), order, bus_pb2.BootResult, timeout=timeout
        )

    async def stop(self, agent_id: str, order: bus_pb2.StopOrder, timeout: float) -> None:
        await bus.request(self._nc, subjects.agent_stop(agent_id), order, bus_pb2.StopResult, timeout=timeout)

    async def _to_edge(self, edge_id: str, message: bus_pb2.EdgeControl) -> None:
        await bus.publish(self._nc, subjects.edge_control(edge_id), message)
