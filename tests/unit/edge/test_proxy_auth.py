"""Proxy auth at the edge: the salted hash, header stripping, the check against the watched copy
of the bucket, and that the request chain refuses before any lease (and skips all of it for
functions without proxy auth)."""

from __future__ import annotations

from typing import Any

import pytest

from berth.v1 import state_pb2
from services.common import proxy_tokens
from services.edge.app import Edge
from services.edge.leases import PoolFailed
from services.edge.proxy_auth import INVALID, MISSING, ProxyAuth, route_workspace, take_credentials
from tests.unit.memory_kv import MemoryKV

ROUTE = state_pb2.Route(
    host_label="local--app-f",
    app="live.app",
    function="f",
    version=1,
    requires_proxy_auth=True,
    workspace="local",
)


def token(workspace: str = "local") -> tuple[str, str, state_pb2.ProxyAuthTokenRecord]:
    key, secret = proxy_tokens.new_key(), proxy_tokens.new_secret()
    record = proxy_tokens.new_record(name="ci", workspace=workspace, secret=secret, created_at_ms=1)
    return key, secret, record


def scope(*headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"type": "http", "headers": [(b"host", b"local--app-f.localhost:8000"), *headers]}


# -- the hash -----------------------------------------------------------------------------------


def test_records_hold_a_salted_hash_never_the_secret() -> None:
    key, secret, record = token()
    assert proxy_tokens.well_formed_key(key) and secret.startswith("ws-")
    assert secret.encode() not in record.SerializeToString()
    assert len(record.salt) == proxy_tokens.SALT_BYTES
    assert proxy_tokens.secret_matches(record, secret)
    assert not proxy_tokens.secret_matches(record, secret[:-1])
    assert not proxy_tokens.secret_matches(record, secret + "x")
    assert not proxy_tokens.secret_matches(record, "")
    # The same secret under another salt hashes differently.
    again = proxy_tokens.new_record(name="", workspace="local", secret=secret, created_at_ms=1)
    assert again.secret_hash != record.secret_hash and proxy_tokens.secret_matches(again, secret)


def test_damaged_or_oversized_input_never_matches() -> None:
    _, secret, record = token()
    assert not proxy_tokens.secret_matches(record, "x" * (proxy_tokens.MAX_SECRET + 1))
    unsalted = state_pb2.ProxyAuthTokenRecord(secret_hash=proxy_tokens.hash_secret(b"", secret))
    assert not proxy_tokens.secret_matches(unsalted, secret)


@pytest.mark.parametrize("key", ["", "wk-", "wk->", "wk-*", "wk-abc.>", "bt_" + "a" * 22, "wk-" + "a" * 23])
def test_only_well_formed_keys_are_looked_up(key: str) -> None:
    assert not proxy_tokens.well_formed_key(key)


# -- headers ------------------------------------------------------------------------------------


def test_both_header_pairs_are_stripped_in_any_case() -> None:
    s = scope(
        (b"Berth-Key", b"wk-1"),
        (b"BERTH-SECRET", b"ws-1"),
        (b"modal-key", b"wk-2"),
        (b"Modal-Secret", b"ws-2"),
        (b"x-other", b"kept"),
    )
    assert take_credentials(s) == ("wk-1", "ws-1", "Berth")
    assert s["headers"] == [(b"host", b"local--app-f.localhost:8000"), (b"x-other", b"kept")]


def test_the_modal_pair_is_used_without_berth_headers() -> None:
    s = scope((b"modal-key", b" wk-2 "), (b"modal-secret", b"ws-2"))
    assert take_credentials(s) == ("wk-2", "ws-2", "Modal")
    assert s["headers"] == [(b"host", b"local--app-f.localhost:8000")]


def test_route_workspace_falls_back_to_the_host_label() -> None:
    assert route_workspace(state_pb2.Route(host_label="team--app-f")) == "team"
    assert route_workspace(ROUTE) == "local"


# -- the check ----------------------------------------------------------------------------------


async def test_check_accepts_valid_pairs_and_refuses_the_rest() -> None:
    kv = MemoryKV()
    auth = ProxyAuth(kv)  # type: ignore[arg-type]
    key, secret, record = token()
    auth.apply(key, record.SerializeToString())

    assert (
        await auth.check(scope((b"berth-key", key.encode()), (b"berth-secret", secret.encode())), ROUTE)
        is None
    )
    assert (
        await auth.check(scope((b"modal-key", key.encode()), (b"modal-secret", secret.encode())), ROUTE)
        is None
    )
    assert await auth.check(scope(), ROUTE) == MISSING
    half = await auth.check(scope((b"berth-key", key.encode())), ROUTE)
    assert half is not None and "Berth-Secret is missing" in half
    wrong = scope((b"berth-key", key.encode()), (b"berth-secret", b"ws-wrong"))
    assert await auth.check(wrong, ROUTE) == INVALID
    other = state_pb2.Route(host_label="team--app-f", requires_proxy_auth=True, workspace="team")
    good = scope((b"berth-key", key.encode()), (b"berth-secret", secret.encode()))
    assert await auth.check(good, other) == INVALID, "a token opens only its own workspace"
    assert kv.gets == 0, "known keys are checked without the bus"

    auth.apply(key, None)  # the watch delivers the revocation
    assert (
        await auth.check(scope((b"berth-key", key.encode()), (b"berth-secret", secret.encode())), ROUTE)
        == INVALID
    )


async def test_a_key_not_yet_watched_is_read_once_and_not_kept() -> None:
    kv = MemoryKV()
    auth = ProxyAuth(kv)  # type: ignore[arg-type]
    key, secret, record = token()
    await kv.put(key, record.SerializeToString())  # created; the watch has not delivered it yet
    pair = ((b"berth-key", key.encode()), (b"berth-secret", secret.encode()))
    assert await auth.check(scope(*pair), ROUTE) is None
    assert kv.gets == 1
    await kv.delete(key)  # revoked before the watch caught up: not remembered, so refused
    assert await auth.check(scope(*pair), ROUTE) == INVALID


async def test_malformed_keys_never_reach_the_bus() -> None:
    kv = MemoryKV()
    auth = ProxyAuth(kv)  # type: ignore[arg-type]
    assert await auth.check(scope((b"berth-key", b">"), (b"berth-secret", b"x")), ROUTE) == INVALID
    assert kv.gets == 0


async def test_garbage_records_open_nothing() -> None:
    auth = ProxyAuth(MemoryKV())  # type: ignore[arg-type]
    key, secret, _ = token()
    auth.apply(key, b"\xff\xff not a record")
    assert (
        await auth.check(scope((b"berth-key", key.encode()), (b"berth-secret", secret.encode())), ROUTE)
        == INVALID
    )


# -- in the request chain -----------------------------------------------------------------------


class Routes:
    def __init__(self, route: state_pb2.Route) -> None:
        self.route = route

    def resolve(self, host: str) -> state_pb2.Route:
        return self.route


class CountingAuth(ProxyAuth):
    def __init__(self) -> None:
        super().__init__(MemoryKV())  # type: ignore[arg-type]
        self.calls = 0

    async def check(self, scope: dict[str, Any], route: state_pb2.Route) -> str | None:
        self.calls += 1
        return await super().check(scope, route)


async def call(edge: Edge, s: dict[str, Any]) -> tuple[int, bytes, list[Any]]:
    sent: list[dict[str, Any]] = []
    acquired: list[Any] = []

    async def acquire(host: str, key: Any) -> Any:
        acquired.append(key)
        raise PoolFailed(503, "no pool in this test")

    edge._acquire = acquire  # type: ignore[method-assign]

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await edge(s, None, send)
    return sent[0]["status"], sent[1]["body"], acquired


async def test_refused_requests_never_ask_for_a_container() -> None:
    auth = CountingAuth()
    edge = Edge(None, "e1", Routes(ROUTE), None, proxy_auth=auth)  # type: ignore[arg-type]
    status, body, acquired = await call(edge, scope())
    assert status == 401 and body.decode().strip() == MISSING and "\n" not in body.decode().strip()
    assert acquired == [] and edge._pools == {}

    key, secret, record = token()
    auth.apply(key, record.SerializeToString())
    s = scope((b"modal-key", key.encode()), (b"modal-secret", secret.encode()))
    status, _, acquired = await call(edge, s)
    assert status == 503 and len(acquired) == 1, "a valid pair goes on to the lease"
    assert all(name not in (b"modal-key", b"modal-secret") for name, _ in s["headers"])


async def test_websocket_handshakes_are_refused_the_same_way() -> None:
    edge = Edge(None, "e1", Routes(ROUTE), None, proxy_auth=CountingAuth())  # type: ignore[arg-type]
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await edge({**scope(), "type": "websocket"}, None, send)
    assert sent[0] == {**sent[0], "type": "websocket.http.response.start", "status": 401}


async def test_functions_without_proxy_auth_skip_the_check() -> None:
    auth = CountingAuth()
    open_route = state_pb2.Route(host_label="local--app-g", app="live.app", function="g", version=1)
    edge = Edge(None, "e1", Routes(open_route), None, proxy_auth=auth)  # type: ignore[arg-type]
    s = scope((b"berth-key", b"wk-x"))
    status, _, acquired = await call(edge, s)
    assert status == 503 and len(acquired) == 1 and auth.calls == 0
    assert (b"berth-key", b"wk-x") in s["headers"], "untouched: no work at all for open functions"


async def test_an_edge_without_a_checker_fails_closed() -> None:
    edge = Edge(None, "e1", Routes(ROUTE), None)  # type: ignore[arg-type]
    status, _, acquired = await call(edge, scope())
    assert status == 401 and acquired == []
