"""Host label or custom domain -> function, from the routes the scheduler writes to JetStream KV.

Hosts arrive checked (services/edge/hosts.py): only a label some deploy could have produced, or a
name that passes the custom-domain rule, is ever looked up, so a KV read is never asked for a key
JetStream would refuse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from google.protobuf.message import DecodeError
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from berth.v1 import state_pb2

log = logging.getLogger("berth.edge")

FETCH_TIMEOUT = 2.0
# Reads of labels the local copy does not know, at once. Clients choose the labels they send, so a
# flood of made-up ones is answered 503 past this many rather than becoming as many KV reads.
MAX_FETCHES = 64


class RoutesUnavailable(Exception):
    """The routes bucket could not be read (JetStream down or slow): a 503, never a guess."""


class RouteTable:
    """An in-memory copy of the routes bucket, kept current by a KV watch."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self._routes: dict[str, state_pb2.Route] = {}
        self.synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._fetching: dict[str, asyncio.Future[state_pb2.Route | None]] = {}

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
                continue
            try:
                self._routes[entry.key] = state_pb2.Route.FromString(entry.value)
            except DecodeError:
                log.warning("unreadable route record for %s", entry.key)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def resolve(self, label: str) -> state_pb2.Route | None:
        return self._routes.get(label)

    async def lookup(self, key: str) -> state_pb2.Route | None:
        """The route of an app label or a custom domain (services/edge/hosts.py: Host.key): the
        local copy's, else the bucket's."""
        return self._routes.get(key) or await self.fetch(key)

    async def fetch(self, label: str) -> state_pb2.Route | None:
        """Reads the route from the bucket itself. Used when the local copy misses or looks stale:
        a deploy returns as soon as it has written its routes, and the watch may lag by a moment,
        so a 404 or a retired version is only believed after this check. Requests for one label
        share one read; RoutesUnavailable when the bucket cannot be read or too many reads wait."""
        reading = self._fetching.get(label)
        if reading is None:
            if len(self._fetching) >= MAX_FETCHES:
                raise RoutesUnavailable("too many route lookups at once")
            # A task of its own: a client going away must not cancel the read others wait on.
            reading = self._fetching[label] = asyncio.ensure_future(self._read(label))
            reading.add_done_callback(lambda done: self._read_done(label, done))
        return await asyncio.shield(reading)

    def _read_done(self, label: str, done: asyncio.Future[state_pb2.Route | None]) -> None:
        self._fetching.pop(label, None)
        if not done.cancelled():
            done.exception()  # retrieved, even when every waiter went away

    async def _read(self, label: str) -> state_pb2.Route | None:
        try:
            entry = await asyncio.wait_for(self._kv.get(label), FETCH_TIMEOUT)
        except KeyNotFoundError:
            self._routes.pop(label, None)
            return None
        except Exception as exc:  # noqa: BLE001 - timeouts, no responders, a lost connection
            log.warning("routes bucket unreadable: %s: %s", type(exc).__name__, exc)
            raise RoutesUnavailable(f"the routes bucket could not be read: {type(exc).__name__}") from None
        if not entry.value:
            return None
        try:
            route = state_pb2.Route.FromString(entry.value)
        except DecodeError:
            log.warning("unreadable route record for %s", label)
            raise RoutesUnavailable(f"the route record of {label} is unreadable") from None
        current = self._routes.get(label)
        if current is None or current.version <= route.version:
            self._routes[label] = route
        return route
