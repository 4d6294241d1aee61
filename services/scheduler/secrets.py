"""Secrets: encrypted at rest in JetStream KV with AES-256-GCM under the operator's key.

The key comes from BERTH_SECRET_KEY (64 hex digits or urlsafe base64 of 32 bytes); `berth up`
generates one into its home directory. Values are decrypted only to boot a container.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from berth.v1 import control_pb2, state_pb2
from services.common import bus

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SecretError(ValueError):
    """A user-facing problem with a secret; the message names it."""


def parse_key(text: str) -> bytes:
    text = text.strip()
    try:
        key = binascii.unhexlify(text) if len(text) == 64 else base64.urlsafe_b64decode(text + "==")
    except (binascii.Error, ValueError):
        raise SystemExit("BERTH_SECRET_KEY must be 32 bytes as 64 hex digits or urlsafe base64") from None
    if len(key) != 32:
        raise SystemExit("BERTH_SECRET_KEY must be 32 bytes as 64 hex digits or urlsafe base64")
    return key


class SecretStore:
    def __init__(self, kv: KeyValue, key: bytes) -> None:
        self._kv = kv
        self._aead = AESGCM(key)

    async def create(self, name: str, values: dict[str, str], *, force: bool) -> None:
        if not _NAME.fullmatch(name):
            raise SecretError(f"secret name {name!r} must be letters, digits, '.', '_' or '-' (at most 64)")
        if not values:
            raise SecretError("a secret needs at least one KEY=VALUE")
        for env_key in values:
            if not _ENV_KEY.fullmatch(env_key):
                raise SecretError(f"{env_key!r} is not a valid environment variable name")
        if not force and await self._get(name) is not None:
            raise FileExistsError(f"secret {name!r} already exists; pass --force to replace it")
        nonce = os.urandom(12)
        plaintext = state_pb2.SecretValues(values=values).SerializeToString(deterministic=True)
        record = state_pb2.SecretRecord(
            nonce=nonce,
            ciphertext=self._aead.encrypt(nonce, plaintext, name.encode()),
            keys=sorted(values),
            created_at_ms=int(time.time() * 1000),
        )
        await self._kv.put(name, record.SerializeToString())

    async def _get(self, name: str) -> state_pb2.SecretRecord | None:
        try:
            entry = await self._kv.get(name)
        except KeyNotFoundError:
            return None
        return state_pb2.SecretRecord.FromString(entry.value) if entry.value else None

    async def exists(self, name: str) -> bool:
        return await self._get(name) is not None

    async def values(self, name: str) -> dict[str, str]:
        record = await self._get(name)
        if record is None:
            raise SecretError(f"secret {name!r} not found")
        plaintext = self._aead.decrypt(record.nonce, record.ciphertext, name.encode())
        return dict(state_pb2.SecretValues.FromString(plaintext).values)

    async def summaries(self) -> list[control_pb2.SecretSummary]:
        names = await bus.kv_keys(self._kv)
        out = []
        for name in names:
            record = await self._get(name)
            if record is not None:
                out.append(
                    control_pb2.SecretSummary(name=name, keys=record.keys, created_at_ms=record.created_at_ms)
                )
        return out

    async def delete(self, name: str) -> None:
        if await self._get(name) is None:
            raise SecretError(f"secret {name!r} not found")
        await self._kv.delete(name)
