"""Desired state in JetStream KV: app records, the routes the edges serve from, and the kept
versions of each deployed app (services/scheduler/history.py says which and how long)."""

from __future__ import annotations

import asyncio
import logging
import time

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from berth import _spec_rules as spec_rules
from berth.v1 import bus_pb2, spec_pb2, state_pb2
from services.common import bus, call_routes, logs, subjects
from services.scheduler import history

LOAD_TIMEOUT = 30.0

log = logging.getLogger("berth.scheduler")


class AppStore:
    def __init__(self, apps: KeyValue, routes: KeyValue, *, keep: int = history.KEEP_VERSIONS) -> None:
        self._apps = apps
        self._routes = routes
        self._keep = keep
        self.records: dict[str, state_pb2.AppRecord] = {}
        self._versions: dict[str, int] = {}
        # Held from reading a host's owner to writing its route: two deploys claiming one host
        # name at once must not both win it.
        self._claiming = asyncio.Lock()
        # Kept versions of deployed apps: app key -> version -> record (history.py).
        self._history: dict[str, dict[int, state_pb2.AppVersionRecord]] = {}
        # Versions being rolled out (rollout.py): booted and warmed before any route names them, so
        # the Assigner finds their records here, not in KV. Memory only: a scheduler that restarts
        # mid-rollout fails that deploy's call, and the old version is still the one routed to.
        self._staged: dict[tuple[str, int], state_pb2.AppRecord] = {}
        # The first boot failure of each staged version, which fails its rollout.
        self._staged_failures: dict[tuple[str, int], str] = {}

    async def load(self) -> None:
        """Rebuilds the in-memory view after a restart."""
        keys = await _keys(self._apps)
        for key in keys:
            kept = history.parse_key(key)
            if kept is not None:
                version = await bus.get_record(self._apps, key, state_pb2.AppVersionRecord)
                if version is not None:
                    spec_rules.resolve_app(version.record.spec)  # kept before deploys resolved it
                    self._history.setdefault(kept[0], {})[kept[1]] = version
                continue
            try:
                entry = await self._apps.get(key)
            except KeyNotFoundError:
                continue
            if entry.value:
                record = state_pb2.AppRecord.FromString(entry.value)
                spec_rules.resolve_app(record.spec)  # stored before deploys resolved it
                self._versions[key] = record.version
                if not record.stopped:
                    self.records[key] = record
        for key, record in self.records.items():
            # Apps deployed before versions were kept: their serving version starts the history.
            if not record.ephemeral and record.version not in self._history.get(key, {}):
                await self._keep_version(key, state_pb2.AppVersionRecord(record=record))

    def get(self, key: str) -> state_pb2.AppRecord | None:
        return self.records.get(key)

    def record_of(self, key: str, version: int) -> state_pb2.AppRecord | None:
        """The record of version `version` of app `key` if it serves or is being rolled out: what
        containers of that version may boot from. None for any other version."""
        record = self.records.get(key)
        if record is not None and record.version == version:
            return record
        return self._staged.get((key, version))

    def stage(self, key: str, record: state_pb2.AppRecord) -> None:
        """Lets `record`'s containers boot before it serves (rollout.py warms them)."""
        self._staged[(key, record.version)] = record

    def unstage(self, key: str, version: int) -> None:
        self._staged.pop((key, version), None)
        self._staged_failures.pop((key, version), None)

    def staged_boot_failed(self, pool: bus_pb2.PoolKey, error: str) -> None:
        """Notes a boot failure of a staged version's container (the first one counts); a no-op
        for any other version, so this holds at most one line per rollout."""
        at = (pool.app, pool.version)
        if at in self._staged:
            self._staged_failures.setdefault(at, f"{pool.function}: {error}")

    def staged_failure(self, pool: bus_pb2.PoolKey) -> str:
        """The boot failure that ends the rollout of `pool`'s version, "" while there is none."""
        return self._staged_failures.get((pool.app, pool.version), "")

    def next_version(self, key: str) -> int:
        """Reserves the app's next version number. Versions only grow, across stops too, and two
        deploys or rollbacks running at once never get the same one."""
        version = self._versions[key] = self._versions.get(key, 0) + 1
        return version

    def versions(self, key: str) -> dict[int, state_pb2.AppVersionRecord]:
        """The kept versions of a deployed app, by number ({} for none)."""
        return dict(self._history.get(key, {}))

    def newest_kept(self) -> dict[str, state_pb2.AppVersionRecord]:
        """The newest kept version of every app with a history, by app key (stopped apps too:
        `berth app list --all` shows them)."""
        return {key: kept[max(kept)] for key, kept in self._history.items() if kept}

    def last_version(self, key: str) -> int:
        """The highest version number the app has had (0 for a name never deployed)."""
        return self._versions.get(key, 0)

    async def route_owner(self, host_label: str) -> state_pb2.Route | None:
        try:
            entry = await self._routes.get(host_label)
        except KeyNotFoundError:
            return None
        return state_pb2.Route.FromString(entry.value) if entry.value else None

    async def publish(
        self,
        key: str,
        record: state_pb2.AppRecord,
        routes: list[state_pb2.Route],
        *,
        deployed_by: str = "",
        rollback_of: int = 0,
    ) -> set[str]:
        """Makes `record` the app's serving version: routes first for the new hosts, then the
        record, then removes hosts the new version no longer has. A deployed app's version is
        kept in its history, and versions past the newest `keep` are pruned: returns the bundle
        ids no kept version uses any more, for the caller to delete."""
        previous = self.records.get(key)
        await self._claim(key, routes)
        await self._apps.put(key, record.SerializeToString())
        self.records[key] = record
        self._versions[key] = max(self._versions.get(key, 0), record.version)
        if previous is not None:
            await self._delete_routes(previous, keep={r.host_label for r in routes})
        if record.ephemeral:
            return set()  # `berth serve` redeploys on every save: nothing to roll back to
        entry = state_pb2.AppVersionRecord(record=record, deployed_by=deployed_by, rollback_of=rollback_of)
        await self._keep_version(key, entry)
        return await self._prune(key)

    async def _claim(self, key: str, routes: list[state_pb2.Route]) -> None:
        """Writes `routes` for app `key`; RouteTaken, with nothing written, if another app holds
        any of their hosts (a label or a custom domain)."""
        async with self._claiming:
            for route in routes:
                owner = await self.route_owner(route.host_label)
                if owner is not None and owner.app != key:
                    raise RouteTaken(route.host_label, owner)
            for route in routes:
                await self._routes.put(route.host_label, route.SerializeToString())

    async def _keep_version(self, key: str, entry: state_pb2.AppVersionRecord) -> None:
        await self._apps.put(history.key(key, entry.record.version), entry.SerializeToString())
        self._history.setdefault(key, {})[entry.record.version] = entry

    async def _prune(self, key: str) -> set[str]:
        kept = self._history.get(key, {})
        dropped = [kept.pop(version) for version in history.to_prune(kept, self._keep)]
        for entry in dropped:
            try:
                await self._apps.delete(history.key(key, entry.record.version))
            except Exception as exc:  # noqa: BLE001 - a stale record is harmless; the deploy stands
                logs.event(log, "history prune failed", logging.WARNING, app=key, error=exc)
        still_used = [e.record for versions in self._history.values() for e in versions.values()]
        still_used.extend(self.records.values())
        return history.unreferenced_bundles((e.record for e in dropped), still_used)

    async def remove(self, key: str) -> state_pb2.AppRecord | None:
        record = self.records.pop(key, None)
        if record is None:
            return None
        await self._delete_routes(record, keep=set())
        tombstone = state_pb2.AppRecord(
            spec=spec_pb2.AppSpec(name=record.spec.name), version=record.version, stopped=True
        )
        await self._apps.put(key, tombstone.SerializeToString())
        entry = self._history.get(key, {}).get(record.version)
        if entry is not None:
            stopped = state_pb2.AppVersionRecord()
            stopped.CopyFrom(entry)
            stopped.stopped_at_ms = int(time.time() * 1000)
            await self._keep_version(key, stopped)
        return record

    async def _delete_routes(self, record: state_pb2.AppRecord, keep: set[str]) -> None:
        for host in record_hosts(record):
            if host not in keep:
                try:
                    await self._routes.delete(host)
                except KeyNotFoundError:
                    pass


class RouteTaken(Exception):
    """A host a deploy names is another app's; the message says whose and what to do."""

    def __init__(self, host: str, owner: state_pb2.Route) -> None:
        super().__init__(taken_message(host, owner))
        self.host = host
        self.owner = owner


def taken_message(host: str, owner: state_pb2.Route) -> str:
    app = owner.app.split(".", 1)[-1]
    if "." in host:  # labels never hold a dot; custom domains always do
        return (
            f"custom domain {host} is already used by app {app!r} (function {owner.function}); "
            f"remove it from that app or stop it (`berth app stop {app}`) first"
        )
    return f"{host} is already used by app {app!r} (function {owner.function}); choose another label"


def record_hosts(record: state_pb2.AppRecord) -> list[str]:
    """Every route key of the record: the first DNS label of each URL, and its custom domains."""
    hosts = [u.url.split("://", 1)[1].split(".", 1)[0] for u in record.urls]
    hosts += [domain for u in record.urls for domain in u.custom_domains]
    # Every function's call route (call_routes.py); a record from before calls has none to delete.
    app = subjects.app_key(record.spec.name, record.ephemeral)
    hosts += [call_routes.key(app, f.name) for f in record.spec.functions if call_routes.valid_name(f.name)]
    return hosts


async def _keys(kv: KeyValue, *, timeout: float = LOAD_TIMEOUT) -> list[str]:
    """Every key of the bucket. Only "no keys" means an empty bucket: any other failure (a JetStream
    still restoring its streams after a restart answers with timeouts) is retried until `timeout`,
    then raised. Taking a failure for "no apps" made a restarted scheduler forget every app."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await bus.kv_keys(kv)
        except Exception:  # noqa: BLE001 - timeouts, no responders while JetStream recovers
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)
