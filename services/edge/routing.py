"""Host name -> function, from the routes the scheduler writes to JetStream KV."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from berth.v1 import control_pb2

log = logging.getLogger("berth.edge")


class RouteTable:
    """An in-memory copy of the routes bucket, kept current by a KV watch."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self._routes: dict[str, control_pb2.Route] = {}
        self.synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        watcher = await self._kv.watchall()
        async for entry in watcher:
            if entry is None:  # the end of the initial snapshot
                self.synced.set()
                continue
            if entry.operation in ("DEL", "PURGE") or not entry.value:
                self._routes.pop(entry.key, None)
            else:
                self._routes[entry.key] = control_pb2.Route.FromString(entry.value)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def resolve(self, host: str) -> control_pb2.Route | None:
        return self._routes.get(host_label(host))

    async def fetch(self, host: str) -> control_pb2.Route | None:
        """Reads the route from the bucket itself. Used when the local copy misses or looks stale:
        a deploy returns as soon as it has written its routes, and the watch may lag by a moment,
        so a 404 or a retired version is only believed after this check."""
        label = host_label(host)
        try:
            entry = await self._kv.get(label)
        except KeyNotFoundError:
            self._routes.pop(label, None)
            return None
        if not entry.value:
            return None
        route = control_pb2.Route.FromString(entry.value)
        current = self._routes.get(label)
        if current is None or current.version <= route.version:
            self._routes[label] = route
        return route


def host_label(host: str) -> str:
    """The first DNS label of a Host header, lowercased, port stripped."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name.split(".", 1)[0].lower()
