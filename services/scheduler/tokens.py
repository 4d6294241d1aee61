"""Issuing, listing and revoking API tokens; only the scheduler writes the tokens bucket.

A record is keyed by the token's SHA-256 and carries the token's HMAC under the token key (see
services/common/auth.py), its unique name, its creation time and its last use. The token itself is
returned once by `create` and kept nowhere.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from berth.v1 import control_pb2, state_pb2
from services.common import auth, bus

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$")
BOOTSTRAP_NAME = "bootstrap"
# Last use is bookkeeping, not security: one KV write a minute per token is plenty.
LAST_USE_INTERVAL_SECONDS = 60.0

log = logging.getLogger(__name__)


class TokenError(ValueError):
    """A user-facing problem with a token request; the message says what to do."""


class TokenExistsError(TokenError):
    pass


class TokenNotFoundError(TokenError):
    pass


class TokenProtectedError(TokenError):
    pass


class TokenStore:
    def __init__(
        self,
        kv: KeyValue,
        server_key: bytes,
        *,
        now: Callable[[], float] = time.time,
        ttl: float = auth.VERIFIED_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kv = kv
        self._server_key = server_key
        self._now = now
        self._protected: set[str] = set()
        self._touched: dict[str, float] = {}
        self.verifier = auth.TokenVerifier(kv, server_key, ttl=ttl, clock=clock, on_verified=self.touch)

    async def create(self, name: str) -> str:
        """A new token named `name`; the only time its plaintext exists outside the caller."""
        if not _NAME.fullmatch(name):
            raise TokenError(f"token name {name!r} must be letters, digits, '.', '_' or '-' (at most 64)")
        if await self._find(name):
            raise TokenExistsError(
                f"a token named {name!r} already exists; revoke it first or choose another name"
            )
        token = auth.new_token()
        await self._put(token, name)
        # Two schedulers may take the same name at once; both see both records now, and the
        # later one (by creation time, then key) gives way, so names stay unique.
        key = auth.token_id(token)
        rivals = sorted((r.created_at_ms, k) for k, r in await self._records() if r.name == name)
        if rivals and rivals[0][1] != key:
            await self._kv.delete(key)
            raise TokenExistsError(f"a token named {name!r} was created at the same time; choose another")
        return token

    async def ensure_bootstrap(self, token: str) -> str:
        """Makes the operator's token (BERTH_TOKEN_FILE) valid and unrevocable here; returns its name.

        A record for it that does not verify (written before records were signed, or under
        another key) is replaced, keeping its name.
        """
        key = auth.token_id(token)
        self._protected.add(key)
        record = await self._get(key)
        if record is not None and auth.mac_matches(self._server_key, token, record):
            return record.name
        name = record.name if record is not None and record.name else BOOTSTRAP_NAME
        if any(other != key for other in await self._find(name)):
            # Another token holds the name (the operator changed the bootstrap token).
            name = f"{BOOTSTRAP_NAME}-{key[:8]}"
        await self._put(token, name)
        return name

    async def summaries(self) -> list[control_pb2.TokenSummary]:
        return [
            control_pb2.TokenSummary(
                name=record.name, created_at_ms=record.created_at_ms, last_used_ms=record.last_used_ms
            )
            for _, record in sorted(await self._records(), key=lambda item: item[1].name)
        ]

    async def revoke(self, name: str) -> None:
        keys = await self._find(name)
        if not keys:
            raise TokenNotFoundError(f"no token named {name!r} (see `berth token list`)")
        if self._protected.intersection(keys):
            raise TokenProtectedError(
                f"token {name!r} is the platform's bootstrap token: the scheduler calls the builder "
                "with it. Replace it in BERTH_TOKEN_FILE and restart instead"
            )
        for key in keys:
            await self._kv.delete(key)
            # Refused here at once; other schedulers and the builder within their verifier's TTL.
            self.verifier.forget(key)
            self._touched.pop(key, None)

    async def name_of(self, token: str) -> str:
        """The name of a token, for "who deployed" in app history; "" if it has no record."""
        record = await self._get(auth.token_id(token))
        return record.name if record is not None else ""

    async def touch(self, key: str) -> None:
        """Records a use of a verified token, at most once a minute per token."""
        now = self._now()
        if now - self._touched.get(key, float("-inf")) < LAST_USE_INTERVAL_SECONDS:
            return
        self._touched[key] = now
        try:
            entry = await self._kv.get(key)
            record = state_pb2.TokenRecord.FromString(entry.value or b"")
            record.last_used_ms = int(now * 1000)
            # Conditional on the revision read, so a revocation in between is never undone.
            await self._kv.update(key, record.SerializeToString(), last=entry.revision)
        except (KeyNotFoundError, KeyWrongLastSequenceError):
            pass
        except Exception:  # noqa: BLE001 - bookkeeping must never fail the call it records
            log.warning("could not record the last use of a token", exc_info=True)

    async def _put(self, token: str, name: str) -> None:
        record = state_pb2.TokenRecord(
            name=name,
            created_at_ms=int(self._now() * 1000),
            mac=auth.token_mac(self._server_key, token),
        )
        await self._kv.put(auth.token_id(token), record.SerializeToString())

    async def _get(self, key: str) -> state_pb2.TokenRecord | None:
        # An unreadable record was not written by a scheduler: it authenticates nothing.
        return await bus.get_record(self._kv, key, state_pb2.TokenRecord)

    async def _records(self) -> list[tuple[str, state_pb2.TokenRecord]]:
        return await bus.records(self._kv, state_pb2.TokenRecord)

    async def _find(self, name: str) -> list[str]:
        return [key for key, record in await self._records() if record.name == name]
