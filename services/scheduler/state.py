"""Desired state in JetStream KV: app records and the routes the edges serve from."""

from __future__ import annotations

import asyncio

from nats.js.errors import KeyNotFoundError, NoKeysError
from nats.js.kv import KeyValue

from berth.v1 import control_pb2, spec_pb2

LOAD_TIMEOUT = 30.0


class AppStore:
    def __init__(self, apps: KeyValue, routes: KeyValue) -> None:
        self._apps = apps
        self._routes = routes
        self.records: dict[str, control_pb2.AppRecord] = {}
        self._versions: dict[str, int] = {}

    async def load(self) -> None:
        """Rebuilds the in-memory view after a restart."""
        keys = await _keys(self._apps)
        for key in keys:
            try:
                entry = await self._apps.get(key)
            except KeyNotFoundError:
                continue
            if entry.value:
                record = control_pb2.AppRecord.FromString(entry.value)
                self._versions[key] = record.version
                if not record.stopped:
                    self.records[key] = record

    def get(self, key: str) -> control_pb2.AppRecord | None:
        return self.records.get(key)

    def next_version(self, key: str) -> int:
        """Versions only grow, across stops too."""
        return self._versions.get(key, 0) + 1

    async def route_owner(self, host_label: str) -> control_pb2.Route | None:
        try:
            entry = await self._routes.get(host_label)
        except KeyNotFoundError:
            return None
        return control_pb2.Route.FromString(entry.value) if entry.value else None

    async def publish(self, key: str, record: control_pb2.AppRecord, routes: list[control_pb2.Route]) -> None:
        """Makes `record` the app's serving version: routes first for the new hosts, then the
        record, then removes hosts the new version no longer has."""
        previous = self.records.get(key)
        for route in routes:
            await self._routes.put(route.host_label, route.SerializeToString())
        await self._apps.put(key, record.SerializeToString())
        self.records[key] = record
        self._versions[key] = record.version
        if previous is not None:
            await self._delete_routes(previous, keep={r.host_label for r in routes})

    async def remove(self, key: str) -> control_pb2.AppRecord | None:
        record = self.records.pop(key, None)
        if record is None:
            return None
        await self._delete_routes(record, keep=set())
        tombstone = control_pb2.AppRecord(
            spec=spec_pb2.AppSpec(name=record.spec.name), version=record.version, stopped=True
        )
        await self._apps.put(key, tombstone.SerializeToString())
        return record

    async def _delete_routes(self, record: control_pb2.AppRecord, keep: set[str]) -> None:
        for host in record_hosts(record):
            if host not in keep:
                try:
                    await self._routes.delete(host)
                except KeyNotFoundError:
                    pass


def record_hosts(record: control_pb2.AppRecord) -> list[str]:
    # The URL's first DNS label is the route key.
    return [u.url.split("://", 1)[1].split(".", 1)[0] for u in record.urls]


async def _keys(kv: KeyValue, *, timeout: float = LOAD_TIMEOUT) -> list[str]:
    """Every key of the bucket. Only "no keys" means an empty bucket: any other failure (a JetStream
    still restoring its streams after a restart answers with timeouts) is retried until `timeout`,
    then raised. Taking a failure for "no apps" made a restarted scheduler forget every app."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return list(await kv.keys())
        except NoKeysError:
            return []
        except Exception:  # noqa: BLE001 - timeouts, no responders while JetStream recovers
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)
