"""Issuing, listing and revoking API tokens; the bootstrap token; last-use bookkeeping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from berth.v1 import state_pb2
from services.builder import main as builder_main
from services.common import config
from services.common.auth import token_id, token_mac
from services.scheduler import main as scheduler_main
from services.scheduler.tokens import (
    LAST_USE_INTERVAL_SECONDS,
    TokenError,
    TokenExistsError,
    TokenNotFoundError,
    TokenProtectedError,
    TokenStore,
)
from tests.unit.memory_kv import MemoryKV
from tests.unit.scheduler.recorder import Clock

KEY = bytes(range(32))


def store(kv: MemoryKV, wall: Clock | None = None, mono: Clock | None = None) -> TokenStore:
    return TokenStore(kv, KEY, now=wall or Clock(1_700_000_000.0), clock=mono or Clock(0.0))  # type: ignore[arg-type]


def record(kv: MemoryKV, token: str) -> state_pb2.TokenRecord:
    return state_pb2.TokenRecord.FromString(kv.data[token_id(token)].value)


async def test_create_stores_only_a_signed_record() -> None:
    kv = MemoryKV()
    tokens = store(kv)
    token = await tokens.create("ci")
    assert token.startswith("bt_")
    saved = record(kv, token)
    assert saved.name == "ci" and saved.created_at_ms == 1_700_000_000_000 and saved.last_used_ms == 0
    assert saved.mac == token_mac(KEY, token)
    assert token.encode() not in kv.data[token_id(token)].value
    assert await tokens.verifier.verify(token)


async def test_names_are_unique_and_checked() -> None:
    tokens = store(MemoryKV())
    await tokens.create("ci")
    with pytest.raises(TokenExistsError, match="'ci' already exists"):
        await tokens.create("ci")
    for bad in ("", "has space", "-lead", "x" * 65, "a/b"):
        with pytest.raises(TokenError, match="token name"):
            await tokens.create(bad)


async def test_a_concurrent_create_of_the_same_name_gives_way() -> None:
    kv = MemoryKV()
    early = state_pb2.TokenRecord(name="ci", created_at_ms=1, mac=token_mac(KEY, "bt_early"))

    class Racing(MemoryKV):
        async def put(self, key: str, value: bytes) -> int:
            # The other scheduler's record lands between this one's check and its write.
            await kv.put(token_id("bt_early"), early.SerializeToString())
            return await kv.put(key, value)

    racing = Racing()
    racing.data = kv.data
    tokens = store(racing)
    with pytest.raises(TokenExistsError, match="same time"):
        await tokens.create("ci")
    assert list(kv.data) == [token_id("bt_early")]


async def test_list_shows_names_and_times_never_tokens() -> None:
    kv = MemoryKV()
    tokens = store(kv)
    assert await tokens.summaries() == []
    b = await tokens.create("b-token")
    a = await tokens.create("a-token")
    listed = await tokens.summaries()
    assert [s.name for s in listed] == ["a-token", "b-token"]
    blob = b"".join(s.SerializeToString() for s in listed)
    for token in (a, b):
        assert token.encode() not in blob and token_mac(KEY, token) not in blob


async def test_revoke() -> None:
    kv = MemoryKV()
    tokens = store(kv)
    token = await tokens.create("ci")
    assert await tokens.verifier.verify(token)
    await tokens.revoke("ci")
    assert not await tokens.verifier.verify(token), "refused at once by the scheduler that revoked it"
    assert kv.data == {}
    with pytest.raises(TokenNotFoundError, match="no token named 'ci'"):
        await tokens.revoke("ci")
    again = await tokens.create("ci")
    assert await tokens.verifier.verify(again) and not await tokens.verifier.verify(token)


async def test_bootstrap_is_stored_once_and_cannot_be_revoked() -> None:
    kv = MemoryKV()
    tokens = store(kv)
    assert await tokens.ensure_bootstrap("bt_operator") == "bootstrap"
    writes = kv.writes
    assert await tokens.ensure_bootstrap("bt_operator") == "bootstrap"
    assert kv.writes == writes, "a valid record is left alone"
    assert await tokens.verifier.verify("bt_operator")
    with pytest.raises(TokenProtectedError, match="bootstrap token"):
        await tokens.revoke("bootstrap")
    assert await tokens.verifier.verify("bt_operator")


async def test_bootstrap_replaces_an_unsigned_record_keeping_its_name() -> None:
    kv = MemoryKV()
    legacy = state_pb2.TokenRecord(name="berth up", created_at_ms=5)  # written before records were signed
    await kv.put(token_id("bt_operator"), legacy.SerializeToString())
    tokens = store(kv)
    assert not await tokens.verifier.verify("bt_operator")
    assert await tokens.ensure_bootstrap("bt_operator") == "berth up"
    assert await tokens.verifier.verify("bt_operator")


async def test_a_new_bootstrap_token_does_not_take_the_old_ones_name() -> None:
    kv = MemoryKV()
    await store(kv).ensure_bootstrap("bt_old")
    name = await store(kv).ensure_bootstrap("bt_new")
    assert name.startswith("bootstrap-") and name != "bootstrap"
    assert {s.name for s in await store(kv).summaries()} == {"bootstrap", name}


async def test_last_use_is_written_at_most_once_a_minute() -> None:
    kv = MemoryKV()
    wall = Clock(1_700_000_000.0)
    tokens = store(kv, wall)
    token = await tokens.create("ci")
    assert await tokens.verifier.verify(token)
    assert record(kv, token).last_used_ms == 1_700_000_000_000
    writes = kv.writes
    wall.now += LAST_USE_INTERVAL_SECONDS - 1
    assert await tokens.verifier.verify(token)
    assert kv.writes == writes
    wall.now += 1
    assert await tokens.verifier.verify(token)
    assert kv.writes == writes + 1
    assert record(kv, token).last_used_ms == int(wall.now * 1000)
    assert record(kv, token).mac == token_mac(KEY, token), "bookkeeping keeps the record valid"


async def test_last_use_never_brings_back_a_revoked_token() -> None:
    kv = MemoryKV()
    wall = Clock(1_700_000_000.0)
    other = store(kv, wall)  # another scheduler, which revokes
    tokens = store(kv, wall)
    token = await tokens.create("ci")
    assert await tokens.verifier.verify(token)
    await other.revoke("ci")
    wall.now += LAST_USE_INTERVAL_SECONDS
    await tokens.touch(token_id(token))
    assert kv.data == {}


async def test_last_use_failure_does_not_fail_the_call() -> None:
    class Broken(MemoryKV):
        async def update(self, key: str, value: bytes, last: int | None = None) -> int:
            raise ConnectionError("NATS is away")

    kv = Broken()
    tokens = store(kv)
    token = await tokens.create("ci")
    assert await tokens.verifier.verify(token)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("BERTH_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BERTH_SECRET_KEY", "ab" * 32)
    key_file = tmp_path / "token.key"
    key_file.write_text(KEY.hex())
    return key_file


def test_scheduler_and_builder_refuse_to_start_without_the_token_key(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for start in (
        lambda: scheduler_main.parse_config(["--builder", "b:1"]),
        lambda: builder_main.parse([]),
        lambda: builder_main.parse(["--token-key-file", str(clean_env.parent / "missing")]),
    ):
        with pytest.raises(SystemExit):
            start()
    assert "BERTH_TOKEN_KEY_FILE" in capsys.readouterr().err
    assert builder_main.parse(["--token-key-file", str(clean_env)]).token_key_file == str(clean_env)


def test_the_bootstrap_token_comes_from_its_file_else_the_environment(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--builder", "b:1", "--token-key-file", str(clean_env)]
    with pytest.raises(SystemExit):
        scheduler_main.parse_config(argv)
    assert "bootstrap API token is required" in capsys.readouterr().err
    monkeypatch.setenv("BERTH_TOKEN", "bt_from_env")
    assert scheduler_main.parse_config(argv).token == "bt_from_env"
    token_file = clean_env.parent / "api.token"
    token_file.write_text("bt_from_file\n")
    monkeypatch.setenv("BERTH_TOKEN_FILE", str(token_file))
    cfg = scheduler_main.parse_config(argv)
    assert cfg.token == "bt_from_file"
    assert "bt_from_file" not in config.describe(cfg) and "token_key_file=***" in config.describe(cfg)
