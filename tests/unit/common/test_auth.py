"""API tokens: ids, MACs, the token key file, the verifier's checks and its bounded memory, and
reading the bearer token from gRPC metadata."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from berth.v1 import state_pb2
from services.common import auth
from services.common.auth import TOKEN_PREFIX, TokenVerifier, bearer, new_token, token_id, token_mac
from tests.unit.memory_kv import MemoryKV

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def signed(token: str, key: bytes = KEY, name: str = "ci") -> bytes:
    return state_pb2.TokenRecord(name=name, created_at_ms=1, mac=token_mac(key, token)).SerializeToString()


def verifier(kv: MemoryKV, clock: Clock | None = None, ttl: float = 5.0) -> TokenVerifier:
    return TokenVerifier(kv, KEY, ttl=ttl, clock=clock or Clock())  # type: ignore[arg-type]


def test_token_id_is_sha256_hex() -> None:
    assert token_id("bt_secret") == hashlib.sha256(b"bt_secret").hexdigest()
    assert len(token_id("x")) == 64
    assert token_id("bt_secret") != "bt_secret"


def test_new_token_has_prefix_and_differs() -> None:
    tokens = {new_token() for _ in range(20)}
    assert len(tokens) == 20
    assert all(t.startswith(TOKEN_PREFIX) and len(t) > len(TOKEN_PREFIX) + 30 for t in tokens)


def test_mac_is_hmac_sha256_under_the_key() -> None:
    assert token_mac(KEY, "bt_x") == hmac.new(KEY, b"bt_x", hashlib.sha256).digest()
    assert token_mac(KEY, "bt_x") != token_mac(OTHER_KEY, "bt_x")


def test_load_server_key(tmp_path: Path) -> None:
    path = tmp_path / "token.key"
    path.write_text(KEY.hex() + "\n")
    assert auth.load_server_key(str(path)) == KEY
    for bad in ("", "zz" * 32, KEY.hex()[:62]):
        path.write_text(bad)
        with pytest.raises(ValueError, match="64 hex digits"):
            auth.load_server_key(str(path))
    with pytest.raises(ValueError, match="cannot read"):
        auth.load_server_key(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="BERTH_TOKEN_KEY_FILE"):
        auth.load_server_key("")


async def test_a_signed_record_verifies() -> None:
    kv = MemoryKV()
    await kv.put(token_id("bt_good"), signed("bt_good"))
    check = verifier(kv)
    assert await check.verify("bt_good")
    assert not await check.verify("bt_other")
    assert not await check.verify("")


async def test_a_forged_record_is_refused() -> None:
    """Someone who can write the bucket but has no token key: the right key name is not enough."""
    kv = MemoryKV()
    token = "bt_forged"
    check = verifier(kv)
    forgeries = [
        b"",
        b"\xff\xff not a protobuf",
        state_pb2.TokenRecord(name="admin", created_at_ms=1).SerializeToString(),
        state_pb2.TokenRecord(name="admin", mac=b"\0" * 32).SerializeToString(),
        state_pb2.TokenRecord(mac=hashlib.sha256(token.encode()).digest()).SerializeToString(),
        signed(token, key=OTHER_KEY),
    ]
    for value in forgeries:
        await kv.put(token_id(token), value)
        assert not await check.verify(token), value


async def test_a_record_signed_for_another_token_is_refused() -> None:
    kv = MemoryKV()
    await kv.put(token_id("bt_mine"), signed("bt_theirs"))
    assert not await verifier(kv).verify("bt_mine")


async def test_macs_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    kv = MemoryKV()
    await kv.put(token_id("bt_good"), signed("bt_good"))
    assert await verifier(kv).verify("bt_good")
    assert calls == [(token_mac(KEY, "bt_good"), token_mac(KEY, "bt_good"))]


async def test_a_valid_token_is_remembered_for_the_ttl_only() -> None:
    kv = MemoryKV()
    await kv.put(token_id("bt_good"), signed("bt_good"))
    clock = Clock()
    check = verifier(kv, clock, ttl=5.0)
    assert await check.verify("bt_good")
    gets = kv.gets
    clock.now += 4.9
    assert await check.verify("bt_good")
    assert kv.gets == gets, "within the TTL the record is not read again"

    await kv.delete(token_id("bt_good"))  # revoked by another scheduler
    assert await check.verify("bt_good"), "still remembered until the TTL ends"
    clock.now += 0.1
    assert not await check.verify("bt_good"), "refused once the TTL has passed"
    assert not await check.verify("bt_good"), "and not remembered as valid again"


async def test_forget_refuses_at_once() -> None:
    kv = MemoryKV()
    await kv.put(token_id("bt_good"), signed("bt_good"))
    check = verifier(kv)
    assert await check.verify("bt_good")
    await kv.delete(token_id("bt_good"))
    check.forget(token_id("bt_good"))
    assert not await check.verify("bt_good")


async def test_refusals_are_not_remembered() -> None:
    kv = MemoryKV()
    check = verifier(kv)
    assert not await check.verify("bt_new")
    await kv.put(token_id("bt_new"), signed("bt_new"))
    assert await check.verify("bt_new"), "a token issued after a refusal works at once"


async def test_expired_entries_are_dropped() -> None:
    kv = MemoryKV()
    clock = Clock()
    check = verifier(kv, clock)
    for i in range(5):
        await kv.put(token_id(f"bt_{i}"), signed(f"bt_{i}"))
        assert await check.verify(f"bt_{i}")
    clock.now += 10
    await kv.put(token_id("bt_last"), signed("bt_last"))
    assert await check.verify("bt_last")
    assert list(check._verified_at) == [token_id("bt_last")]


async def test_on_verified_is_told_each_accepted_call() -> None:
    seen: list[str] = []

    async def record(key: str) -> None:
        seen.append(key)

    kv = MemoryKV()
    await kv.put(token_id("bt_good"), signed("bt_good"))
    check = TokenVerifier(kv, KEY, on_verified=record)  # type: ignore[arg-type]
    assert await check.verify("bt_good") and await check.verify("bt_good")
    assert not await check.verify("bt_bad")
    assert seen == [token_id("bt_good")] * 2


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_bearer_scheme_is_case_insensitive(scheme: str) -> None:
    assert bearer([("authorization", f"{scheme} bt_abc")]) == "bt_abc"


def test_bearer_among_other_metadata() -> None:
    metadata = (("traceparent", "00-abc"), ("authorization", "Bearer  bt_xyz  "), ("x", "y"))
    assert bearer(metadata) == "bt_xyz"


@pytest.mark.parametrize(
    "metadata",
    [
        None,
        (),
        [("authorization", "Basic dXNlcjpw")],
        [("authorization", "Bearer")],
        [("authorization", b"Bearer bt_bytes")],
        [("x-authorization", "Bearer bt_abc")],
    ],
)
def test_no_bearer_token(metadata: object) -> None:
    assert bearer(metadata) == ""
