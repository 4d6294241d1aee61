"""Proxy-auth tokens: the key/secret pairs that open functions with `requires_proxy_auth=True`.

Shared by the scheduler (services/scheduler/proxy_auth.py issues and revokes them) and the edge
(services/edge/proxy_auth.py checks them on every request to a protected function).

A token is a key (`wk-` and 22 letters or digits: an identifier, listed, not secret) and a secret
(`ws-` and 32 random bytes, url-safe base64). Its KV record, keyed by the key, holds a random
16-byte salt and SHA-256(salt || secret), never the secret.

Why a plain salted SHA-256 and not HMAC under the API token key, or a slow KDF:

- The edge must be able to check a secret, and the edge does not hold the API token key (it is
  the most exposed service; the key stays with the scheduler and builder). So the record must be
  checkable from public material alone.
- Slow KDFs (scrypt, PBKDF2) exist to make guessing a *low-entropy* password from its hash
  expensive. A secret here is 256 random bits: no amount of hashing speed makes guessing it
  feasible, from the hash or online. What a hash must give is preimage resistance, which
  SHA-256 gives, and the per-record salt keeps equal secrets from having equal hashes. A slow
  KDF would only make every request to a protected function slower (and an easy CPU sink for
  anyone sending wrong secrets).
- The comparison is constant-time (hmac.compare_digest), so answer times say nothing about how
  much of a guessed hash matched.

Checking costs one SHA-256 of ~60 bytes (about a microsecond), so the edge verifies on every
request rather than caching positive results.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string

from berth.v1 import state_pb2

KEY_PREFIX = "wk-"
SECRET_PREFIX = "ws-"
KEY_CHARS = 22  # ~131 bits of letters and digits: unique without coordination
SECRET_BYTES = 32
SALT_BYTES = 16
KEY_PATTERN = re.compile(rf"^{KEY_PREFIX}[A-Za-z0-9]{{{KEY_CHARS}}}$")
# The longest secret worth hashing; anything longer is wrong without looking (and costs nothing).
MAX_SECRET = 128

_ALPHABET = string.ascii_letters + string.digits


def new_key() -> str:
    return KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(KEY_CHARS))


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def well_formed_key(key: str) -> bool:
    """Whether `key` could be a token key. Checked before any lookup, so a header value never
    reaches the bus as a KV key (where `*` or `>` would be wildcards)."""
    return bool(KEY_PATTERN.fullmatch(key))


def hash_secret(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode()).digest()


def new_record(
    *, name: str, workspace: str, secret: str, created_at_ms: int
) -> state_pb2.ProxyAuthTokenRecord:
    salt = secrets.token_bytes(SALT_BYTES)
    return state_pb2.ProxyAuthTokenRecord(
        name=name,
        workspace=workspace,
        created_at_ms=created_at_ms,
        salt=salt,
        secret_hash=hash_secret(salt, secret),
    )


def secret_matches(record: state_pb2.ProxyAuthTokenRecord, secret: str) -> bool:
    if not secret or len(secret) > MAX_SECRET or len(record.salt) != SALT_BYTES:
        return False
    return hmac.compare_digest(hash_secret(record.salt, secret), record.secret_hash)
