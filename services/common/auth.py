"""API tokens: checking them (scheduler and builder alike) and the gRPC server interceptor.

A token is valid because the scheduler issued it: its KV record (key: the token's SHA-256, value: a
TokenRecord) carries HMAC-SHA256(token key, token), and a check recomputes that MAC and compares it
in constant time. The token key lives only with the scheduler and the builder, so a record put in
the bucket by anyone else authenticates nothing. Issuing and revoking: services/scheduler/tokens.py.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from berth.v1 import state_pb2
from services.common import tracing

TOKEN_PREFIX = "bt_"
SERVER_KEY_BYTES = 32
# How long a token once found valid is trusted without reading its record again: the bound on how
# long a revoked token keeps working on a scheduler or builder that did not revoke it.
VERIFIED_TTL_SECONDS = 5.0


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_id(token: str) -> str:
    """KV key of a token's record: its SHA-256, which names the token without revealing it."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_mac(server_key: bytes, token: str) -> bytes:
    return hmac.new(server_key, token.encode(), hashlib.sha256).digest()


def mac_matches(server_key: bytes, token: str, record: state_pb2.TokenRecord) -> bool:
    # compare_digest: the time taken must not tell a caller how much of a forged MAC was right.
    return hmac.compare_digest(token_mac(server_key, token), record.mac)


def load_server_key(path: str) -> bytes:
    """The token key: 32 bytes as 64 hex digits in a file (`berth up` makes one, mode 0600)."""
    if not path:
        raise ValueError(
            "BERTH_TOKEN_KEY_FILE (or --token-key-file) is required: a file holding 32 random bytes "
            "as 64 hex digits, the key API token records are signed with (berth up makes one)"
        )
    try:
        text = Path(path).read_text().strip()
    except OSError as exc:
        raise ValueError(f"cannot read the token key file {path}: {exc.strerror}") from None
    try:
        key = binascii.unhexlify(text)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != SERVER_KEY_BYTES:
        raise ValueError(f"the token key file {path} must hold {SERVER_KEY_BYTES} bytes as 64 hex digits")
    return key


class TokenVerifier:
    """Checks bearer tokens against their KV records.

    A positive result is remembered for `ttl` seconds only, then the record is read again; that
    bounds how long a token revoked elsewhere still works here. A TTL rather than a watch on the
    bucket: nothing to resubscribe after a NATS reconnect, and a verifier that misses updates
    cannot trust a token forever. Negative results are not remembered, so a new token works at
    once. The cache is keyed by SHA-256(token): lookup time says nothing about the token.
    """

    def __init__(
        self,
        kv: KeyValue,
        server_key: bytes,
        *,
        ttl: float = VERIFIED_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        on_verified: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._kv = kv
        self._server_key = server_key
        self._ttl = ttl
        self._clock = clock
        self._on_verified = on_verified
        self._verified_at: dict[str, float] = {}

    async def verify(self, token: str) -> bool:
        if not token:
            return False
        key = token_id(token)
        now = self._clock()
        verified_at = self._verified_at.get(key)
        if verified_at is None or now - verified_at >= self._ttl:
            if not await self._check(key, token):
                self._verified_at.pop(key, None)
                return False
            self._forget_stale(now)
            self._verified_at[key] = now
        if self._on_verified is not None:
            await self._on_verified(key)
        return True

    def forget(self, key: str) -> None:
        """Drops a remembered token at once (its record was just revoked here)."""
        self._verified_at.pop(key, None)

    async def _check(self, key: str, token: str) -> bool:
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            return False
        if not entry.value:
            return False
        try:
            record = state_pb2.TokenRecord.FromString(entry.value)
        except DecodeError:  # not a record: a forgery or damage, so refused
            return False
        return mac_matches(self._server_key, token, record)

    def _forget_stale(self, now: float) -> None:
        # Tokens are few, but a long-lived process should not keep every token it ever saw.
        for key in [k for k, at in self._verified_at.items() if now - at >= self._ttl]:
            del self._verified_at[key]


def bearer(metadata: Any) -> str:
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str) and value.lower().startswith("bearer "):
            return value[7:].strip()
    return ""


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Refuses calls without a valid bearer token, and parents server spans on the caller's trace."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        token = bearer(handler_call_details.invocation_metadata)
        if token and await self._verifier.verify(token):
            return await continuation(handler_call_details)
        detail = (
            "no API token was sent: pass `authorization: Bearer <token>`"
            if not token
            else "the API token is not valid here (unknown or revoked)"
        )
        return _deny(detail)


def _deny(detail: str) -> grpc.RpcMethodHandler:
    # The server learns an RPC's shape only from the handler; aborting before any message is sent
    # ends unary and streaming calls alike with the status, so one unary handler serves all.
    async def abort(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, detail)

    return grpc.unary_unary_rpc_method_handler(abort)


def call_metadata(token: str) -> list[tuple[str, str]]:
    """gRPC metadata for a client call: the token and the caller's trace context."""
    metadata = [("authorization", f"Bearer {token}")] if token else []
    metadata.extend(tracing.inject({}).items())
    return metadata


def trace_context(context: grpc.aio.ServicerContext) -> Any:
    return tracing.extract({k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)})
