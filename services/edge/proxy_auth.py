"""The proxy-auth step of the edge's request chain: functions deployed with
`requires_proxy_auth=True` answer only requests that carry a valid token pair.

A request passes with `Berth-Key`/`Berth-Secret` headers, or `Modal-Key`/`Modal-Secret` for
clients written for the hosted service, naming a token of the function's workspace; anything else
is a 401 with a one-line reason, decided before any demand, lease or container boot. Both header
pairs are removed from the request before it is forwarded, so user code never sees a secret.
Routes without proxy auth never reach this module: they pay nothing for it.

Tokens come from an in-memory copy of the proxy-auth bucket kept current by a KV watch (as
RouteTable keeps routes), so a check is a dict lookup and one salted SHA-256
(services/common/proxy_tokens.py), with no bus round trip, and a revocation (a KV delete) reaches
every edge as soon as the watch delivers it, typically within milliseconds. A key the copy does
not know is read from the bucket once before being refused: a token created a moment ago may not
have arrived through the watch yet. That read result is used for that request only and never
stored, so it cannot resurrect a token whose deletion the watch delivers in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from google.protobuf.message import DecodeError
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from berth.v1 import state_pb2
from services.common import proxy_tokens

log = logging.getLogger("berth.edge")

# Header names as ASGI servers hand them over (lowercase); compared lowercased all the same.
BERTH_KEY, BERTH_SECRET = b"berth-key", b"berth-secret"
MODAL_KEY, MODAL_SECRET = b"modal-key", b"modal-secret"
PROXY_HEADERS = frozenset((BERTH_KEY, BERTH_SECRET, MODAL_KEY, MODAL_SECRET))
FETCH_TIMEOUT = 2.0

MISSING = (
    "this endpoint requires proxy auth: send a token's key and secret in the Berth-Key and "
    "Berth-Secret headers (or Modal-Key and Modal-Secret); `berth proxy-auth create` makes one"
)
INVALID = "invalid proxy auth token: the key is unknown here, revoked, or the secret is wrong"


def take_credentials(scope: dict[str, Any]) -> tuple[str, str, str]:
    """Removes both proxy-auth header pairs from `scope` (any case) and returns (key, secret,
    scheme) from the Berth-* pair if either of its headers was sent, else from the Modal-* pair;
    scheme is "Berth" or "Modal" for messages. Missing values are ""."""
    kept = []
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        lowered = name.lower()
        if lowered in PROXY_HEADERS:
            # The first of repeated headers counts; repeats are dropped with the rest.
            found.setdefault(lowered, value.decode("latin-1").strip())
        else:
            kept.append((name, value))
    scope["headers"] = kept
    if BERTH_KEY in found or BERTH_SECRET in found:
        return found.get(BERTH_KEY, ""), found.get(BERTH_SECRET, ""), "Berth"
    return found.get(MODAL_KEY, ""), found.get(MODAL_SECRET, ""), "Modal"


def route_workspace(route: state_pb2.Route) -> str:
    # Routes written before Route.workspace existed: the host label starts with "{workspace}--".
    return route.workspace or route.host_label.split("--", 1)[0]


class ProxyAuth:
    """Proxy-auth tokens known to this edge, and the check of one request against them."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self._tokens: dict[str, state_pb2.ProxyAuthTokenRecord] = {}
        self.synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        watcher = await self._kv.watchall()
        async for entry in watcher:
            if entry is None:  # the end of the initial snapshot
                self.synced.set()
                continue
            self.apply(entry.key, entry.value if entry.operation not in ("DEL", "PURGE") else None)

    def apply(self, key: str, value: bytes | None) -> None:
        """One change from the bucket: a record put (value) or deleted (None)."""
        record = _decode(key, value) if value else None
        if record is None:
            self._tokens.pop(key, None)
        else:
            self._tokens[key] = record

    async def check(self, scope: dict[str, Any], route: state_pb2.Route) -> str | None:
        """Strips the proxy-auth headers from `scope`; returns None when the request may pass,
        else the reason to refuse it with a 401."""
        key, secret, scheme = take_credentials(scope)
        if not key and not secret:
            return MISSING
        if not key or not secret:
            missing = f"{scheme}-Key" if not key else f"{scheme}-Secret"
            return f"proxy auth needs both {scheme}-Key and {scheme}-Secret; {missing} is missing"
        if not proxy_tokens.well_formed_key(key):
            return INVALID
        record = self._tokens.get(key) or await self._fetch(key)
        if record is None or record.workspace != route_workspace(route):
            return INVALID
        if not proxy_tokens.secret_matches(record, secret):
            return INVALID
        return None

    async def _fetch(self, key: str) -> state_pb2.ProxyAuthTokenRecord | None:
        try:
            entry = await asyncio.wait_for(self._kv.get(key), FETCH_TIMEOUT)
        except KeyNotFoundError:
            return None
        except Exception:  # noqa: BLE001 - the bus is unreachable: refuse rather than fail open
            log.warning("could not read proxy-auth token %s", key, exc_info=True)
            return None
        return _decode(key, entry.value) if entry.value else None


def _decode(key: str, value: bytes) -> state_pb2.ProxyAuthTokenRecord | None:
    try:
        return state_pb2.ProxyAuthTokenRecord.FromString(value)
    except DecodeError:  # not written by a scheduler: it opens nothing
        log.warning("proxy-auth token record %s is unreadable", key)
        return None
