"""Issuing, listing and revoking proxy-auth tokens; only the scheduler writes their bucket.

A record is keyed by the token's key (`wk-…`) and carries its name, workspace, creation time and a
salted hash of its secret (services/common/proxy_tokens.py). The secret is returned once by
`create` and kept nowhere. Every call acts on this scheduler's workspace only: another
workspace's tokens are neither listed nor revocable here. Edges watch the bucket, so a revocation
reaches them within moments (services/edge/proxy_auth.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from nats.js.kv import KeyValue

from berth.v1 import control_pb2, state_pb2
from services.common import bus, proxy_tokens

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$")


class ProxyAuthError(ValueError):
    """A user-facing problem with a proxy-auth token request; the message says what to do."""


class ProxyAuthNotFoundError(ProxyAuthError):
    pass


class ProxyAuthStore:
    def __init__(self, kv: KeyValue, workspace: str, *, now: Callable[[], float] = time.time) -> None:
        self._kv = kv
        self._workspace = workspace
        self._now = now

    async def create(self, name: str = "") -> tuple[str, str]:
        """A new token: (key, secret); the only time the secret exists outside the caller."""
        if name and not _NAME.fullmatch(name):
            raise ProxyAuthError(f"token name {name!r} must be letters, digits, '.', '_' or '-' (at most 64)")
        key, secret = proxy_tokens.new_key(), proxy_tokens.new_secret()
        record = proxy_tokens.new_record(
            name=name, workspace=self._workspace, secret=secret, created_at_ms=int(self._now() * 1000)
        )
        # 131 random bits of key: no two tokens share one, so a plain put cannot overwrite.
        await self._kv.put(key, record.SerializeToString())
        return key, secret

    async def summaries(self) -> list[control_pb2.ProxyAuthTokenSummary]:
        rows = [
            control_pb2.ProxyAuthTokenSummary(key=key, name=record.name, created_at_ms=record.created_at_ms)
            for key, record in await self._records()
        ]
        return sorted(rows, key=lambda row: (row.created_at_ms, row.key))

    async def revoke(self, key: str) -> None:
        record = await self._get(key) if proxy_tokens.well_formed_key(key) else None
        if record is None or record.workspace != self._workspace:
            raise ProxyAuthNotFoundError(
                f"no proxy-auth token with key {key!r} (see `berth proxy-auth list`)"
            )
        await self._kv.delete(key)

    async def _get(self, key: str) -> state_pb2.ProxyAuthTokenRecord | None:
        return await bus.get_record(self._kv, key, state_pb2.ProxyAuthTokenRecord)

    async def _records(self) -> list[tuple[str, state_pb2.ProxyAuthTokenRecord]]:
        found = await bus.records(self._kv, state_pb2.ProxyAuthTokenRecord)
        return [(key, record) for key, record in found if record.workspace == self._workspace]
