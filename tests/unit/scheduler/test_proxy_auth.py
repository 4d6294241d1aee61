"""Issuing, listing and revoking proxy-auth tokens, scoped to the scheduler's workspace."""

from __future__ import annotations

import pytest

from berth.v1 import state_pb2
from services.common import proxy_tokens
from services.scheduler.proxy_auth import ProxyAuthError, ProxyAuthNotFoundError, ProxyAuthStore
from tests.unit.memory_kv import MemoryKV


def store(kv: MemoryKV, workspace: str = "local") -> ProxyAuthStore:
    return ProxyAuthStore(kv, workspace, now=lambda: 1_700_000_000.0)  # type: ignore[arg-type]


async def test_create_stores_a_hashed_record_keyed_by_the_key() -> None:
    kv = MemoryKV()
    key, secret = await store(kv).create("ci")
    assert proxy_tokens.well_formed_key(key) and secret.startswith("ws-")
    raw = kv.data[key].value
    assert secret.encode() not in raw
    record = state_pb2.ProxyAuthTokenRecord.FromString(raw)
    assert (record.name, record.workspace, record.created_at_ms) == ("ci", "local", 1_700_000_000_000)
    assert proxy_tokens.secret_matches(record, secret)


async def test_names_are_optional_but_checked() -> None:
    tokens = store(MemoryKV())
    first, _ = await tokens.create()
    second, _ = await tokens.create()
    assert first != second
    with pytest.raises(ProxyAuthError, match="must be letters"):
        await tokens.create("no spaces")


async def test_list_and_revoke_see_only_this_workspace() -> None:
    kv = MemoryKV()
    ours, theirs = store(kv), store(kv, "team")
    mine, _ = await ours.create("a")
    other, _ = await theirs.create("b")
    assert [(t.key, t.name) for t in await ours.summaries()] == [(mine, "a")]
    with pytest.raises(ProxyAuthNotFoundError, match="berth proxy-auth list"):
        await ours.revoke(other)
    assert other in kv.data
    await ours.revoke(mine)
    assert mine not in kv.data and await ours.summaries() == []
    with pytest.raises(ProxyAuthNotFoundError):
        await ours.revoke(mine)
    with pytest.raises(ProxyAuthNotFoundError):
        await ours.revoke(">")
