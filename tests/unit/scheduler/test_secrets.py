"""Secrets: the operator's key, encryption at rest, and the names a secret may have."""

import base64
import os

import pytest
from cryptography.exceptions import InvalidTag

from services.scheduler.secrets import SecretError, SecretStore, parse_key
from tests.unit.memory_kv import MemoryKV

KEY = bytes(range(32))


def store(kv: MemoryKV | None = None, key: bytes = KEY) -> SecretStore:
    return SecretStore(kv or MemoryKV(), key)  # type: ignore[arg-type]


def test_parse_key_hex() -> None:
    assert parse_key(KEY.hex()) == KEY
    assert parse_key(f"  {KEY.hex().upper()}\n") == KEY


def test_parse_key_urlsafe_base64() -> None:
    key = os.urandom(32)
    padded = base64.urlsafe_b64encode(key).decode()
    assert parse_key(padded) == key
    assert parse_key(padded.rstrip("=")) == key


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "zz" * 32,  # 64 characters, not hex
        KEY.hex()[:-2],  # 31 bytes of hex
        base64.urlsafe_b64encode(b"\xff" * 16).decode(),
        base64.urlsafe_b64encode(b"\xff" * 48).decode(),
    ],
)
def test_parse_key_rejects_other_lengths_and_forms(text: str) -> None:
    with pytest.raises(SystemExit, match="BERTH_SECRET_KEY"):
        parse_key(text)


async def test_round_trip() -> None:
    secrets = store()
    await secrets.create("db", {"USER": "admin", "PASSWORD": "hunter2"}, force=False)
    assert await secrets.exists("db")
    assert await secrets.values("db") == {"USER": "admin", "PASSWORD": "hunter2"}


async def test_stored_record_does_not_contain_the_value() -> None:
    kv = MemoryKV()
    await store(kv).create("api", {"TOKEN": "s3cr3t-plaintext-value"}, force=False)
    assert b"s3cr3t-plaintext-value" not in kv.data["api"].value


async def test_summaries_list_keys_not_values() -> None:
    kv = MemoryKV()
    secrets = store(kv)
    await secrets.create("b", {"Y": "2", "X": "1"}, force=False)
    await secrets.create("a", {"Z": "3"}, force=False)
    summaries = await secrets.summaries()
    assert [(s.name, list(s.keys)) for s in summaries] == [("a", ["Z"]), ("b", ["X", "Y"])]


async def test_wrong_key_fails_to_decrypt() -> None:
    kv = MemoryKV()
    await store(kv).create("db", {"PASSWORD": "x"}, force=False)
    with pytest.raises(InvalidTag):
        await store(kv, key=bytes(32)).values("db")


async def test_record_is_bound_to_its_name() -> None:
    kv = MemoryKV()
    await store(kv).create("one", {"PASSWORD": "x"}, force=False)
    kv.data["two"] = kv.data["one"]
    with pytest.raises(InvalidTag):
        await store(kv).values("two")


@pytest.mark.parametrize("name", ["", "-leading", "has space", "slash/name", "a" * 65, "ünicode"])
async def test_invalid_names_rejected(name: str) -> None:
    with pytest.raises(SecretError, match="secret name"):
        await store().create(name, {"K": "v"}, force=False)


@pytest.mark.parametrize("env_key", ["1ABC", "HAS-DASH", "A B", "", "X=Y"])
async def test_invalid_env_keys_rejected(env_key: str) -> None:
    with pytest.raises(SecretError, match="not a valid environment variable name"):
        await store().create("ok", {env_key: "v"}, force=False)


async def test_empty_values_rejected() -> None:
    with pytest.raises(SecretError, match="at least one"):
        await store().create("ok", {}, force=False)


async def test_create_existing_without_force() -> None:
    secrets = store()
    await secrets.create("db", {"A": "1"}, force=False)
    with pytest.raises(FileExistsError, match="--force"):
        await secrets.create("db", {"A": "2"}, force=False)
    await secrets.create("db", {"A": "2"}, force=True)
    assert await secrets.values("db") == {"A": "2"}


async def test_missing_secret() -> None:
    secrets = store()
    assert not await secrets.exists("nope")
    with pytest.raises(SecretError, match="not found"):
        await secrets.values("nope")
    with pytest.raises(SecretError, match="not found"):
        await secrets.delete("nope")


async def test_delete() -> None:
    secrets = store()
    await secrets.create("db", {"A": "1"}, force=False)
    await secrets.delete("db")
    assert not await secrets.exists("db")
    assert await secrets.summaries() == []


async def test_name_with_trailing_newline_rejected() -> None:
    with pytest.raises(SecretError):
        await store().create("db\n", {"K": "v"}, force=False)


async def test_env_key_with_trailing_newline_rejected() -> None:
    with pytest.raises(SecretError):
        await store().create("ok", {"KEY\n": "v"}, force=False)
