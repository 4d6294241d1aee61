"""An `Effects` that records what the Assigner says instead of sending it, and answers boots with
whatever the test queued, so the Assigner's handling of events runs with no bus at all."""

from __future__ import annotations

from dataclasses import dataclass, field

from berth.v1 import bus_pb2


@dataclass
class Recorder:
    grants: list[tuple[str, bus_pb2.LeaseGrant]] = field(default_factory=list)
    revokes: list[tuple[str, bus_pb2.LeaseRevoke]] = field(default_factory=list)
    failures: list[tuple[str, bus_pb2.PoolFailure]] = field(default_factory=list)
    boots: list[tuple[str, bus_pb2.BootOrder]] = field(default_factory=list)
    stops: list[tuple[str, bus_pb2.StopOrder]] = field(default_factory=list)
    boot_error: str = ""  # what every boot answers: "" starts the container

    async def grant(self, edge_id: str, grant: bus_pb2.LeaseGrant) -> None:
        self.grants.append((edge_id, grant))

    async def revoke(self, edge_id: str, revoke: bus_pb2.LeaseRevoke) -> None:
        self.revokes.append((edge_id, revoke))

    async def fail(self, edge_id: str, failure: bus_pb2.PoolFailure) -> None:
        self.failures.append((edge_id, failure))

    async def boot(self, agent_id: str, order: bus_pb2.BootOrder, timeout: float) -> bus_pb2.BootResult:
        self.boots.append((agent_id, order))
        if self.boot_error:
            return bus_pb2.BootResult(container_id=order.container_id, error=self.boot_error)
        return bus_pb2.BootResult(container_id=order.container_id, data_subject=f"data.{order.container_id}")

    async def stop(self, agent_id: str, order: bus_pb2.StopOrder, timeout: float) -> None:
        self.stops.append((agent_id, order))


class Clock:
    """Time the Assigner reads, moved by the test (`clock.now += 1.0`)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
