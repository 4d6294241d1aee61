"""Desired state in JetStream KV: app records and the routes the edges serve from."""

from __future__ import annotations

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from berth.v1 import control_pb2, spec_pb2


class AppStore:
    def __init__(self, apps: KeyValue, routes: KeyValue) -> None:
        self._apps = apps
        self._routes = routes
        self.records: dict[str, control_pb2.AppRecord] = {}
        self._versions: dict[str, int] = {}

    async def load(self) -> None:
        """Rebuilds the in-memory view after a restart."""
        try:
            keys = await self._apps.keys()
        except Exception:  # noqa: BLE001 - nats-py raises NoKeysError on an empty bucket
            keys = []
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
