"""API tokens: stored hashed in JetStream KV, checked by a gRPC server interceptor."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from berth.v1 import control_pb2
from services.common import tracing

TOKEN_PREFIX = "bt_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_key(token: str) -> str:
    """KV key for a token: its SHA-256, so the store never holds a usable token."""
    return hashlib.sha256(token.encode()).hexdigest()


async def store_token(kv: KeyValue, token: str, name: str) -> None:
    record = control_pb2.TokenRecord(name=name, created_at_ms=int(time.time() * 1000))
    await kv.put(token_key(token), record.SerializeToString())


class TokenVerifier:
    """Checks bearer tokens against the KV bucket, remembering the ones it has seen valid."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self._valid: set[str] = set()

    async def verify(self, token: str) -> bool:
        key = token_key(token)
        if key in self._valid:
            return True
        try:
            await self._kv.get(key)
        except KeyNotFoundError:
            return False
        self._valid.add(key)
        return True


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
            else "the API token is not valid here"
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
