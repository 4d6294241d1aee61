"""The bus takes only those it knows: tried as a hostile tenant, a stray local process and a
misbehaving service would try it, against the real nats-server of a running `berth up`."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from urllib.parse import urlparse

import nats
import nkeys
import pytest
from nats.errors import Error as NatsError

from services.common import bus, credentials, subjects
from tests.e2e.conftest import Platform

APPS = Path(__file__).parent / "apps"


def _nats_port(platform: Platform) -> int:
    port = urlparse(platform.nats_url).port
    assert port
    return port


async def _connect_anonymously(url: str) -> None:
    nc = await nats.connect(url, connect_timeout=3, allow_reconnect=False, max_reconnect_attempts=0)
    await nc.close()


def test_a_client_without_credentials_is_refused_by_the_server(platform: Platform) -> None:
    with pytest.raises(NatsError, match="Authorization Violation"):
        asyncio.run(_connect_anonymously(platform.nats_url))


def test_a_client_with_an_unknown_key_is_refused(platform: Platform, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger.nk"
    stranger.write_bytes(nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER))

    async def attempt() -> None:
        nc = await nats.connect(
            platform.nats_url,
            nkeys_seed=str(stranger),
            connect_timeout=3,
            allow_reconnect=False,
            max_reconnect_attempts=0,
        )
        await nc.close()

    with pytest.raises(NatsError, match="Authorization Violation"):
        asyncio.run(attempt())


def test_credentials_are_readable_by_their_owner_only(platform: Platform) -> None:
    folder = credentials.directory(platform.home)
    assert folder.stat().st_mode & 0o777 == 0o700
    files = list(folder.iterdir())
    assert {f.name for f in files} >= {"admin.nk", "scheduler.nk", "builder.nk", "edge.nk"}
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert (platform.home / "nats.conf").stat().st_mode & 0o777 == 0o600


async def _violations(
    platform: Platform, identity: str, *, publish: list[str], subscribe: list[str]
) -> set[str]:
    """Connects as `identity`, tries each publish and subscribe, and returns the subjects the
    server reported a permissions violation for."""
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    nc = await nats.connect(
        platform.nats_url,
        nkeys_seed=str(platform.seed_file(identity)),
        inbox_prefix=bus.inbox_prefix(str(platform.seed_file(identity))).encode(),
        error_cb=on_error,
        allow_reconnect=False,
    )
    try:
        for subject in publish:
            await nc.publish(subject, b"forged")
        for subject in subscribe:
            await nc.subscribe(subject)
        # The server answers violations in order; a round trip after them means all have arrived.
        await nc.flush(timeout=5)
        await nc.flush(timeout=5)
    finally:
        await nc.close()
    denied = set()
    for subject in [*publish, *subscribe]:
        if any("permissions violation" in e.lower() and f'"{subject.lower()}"' in e.lower() for e in errors):
            denied.add(subject)
    return denied


def test_each_role_is_refused_what_its_work_does_not_need(platform: Platform) -> None:
    agent = credentials.agent_identity(platform.agent_id)
    other_agent = "someone-else"
    tokens = f"$KV.{subjects.KV_TOKENS}.forged"
    apps = f"$KV.{subjects.KV_APPS}.live.forged"
    routes = f"$KV.{subjects.KV_ROUTES}.forged"
    proxy_auth = f"$KV.{subjects.KV_PROXY_AUTH}.wk-forged"
    cases = {
        credentials.EDGE: dict(
            forbidden_pub=[
                tokens,
                apps,
                routes,
                proxy_auth,
                subjects.agent_boot(platform.agent_id),
                "$JS.API.STREAM.DELETE.x",
            ],
            forbidden_sub=[subjects.agent_boot(platform.agent_id), ">", subjects.SCHED_DEMAND, "_INBOX.>"],
            allowed_pub=[subjects.SCHED_RELEASED],
            allowed_sub=[subjects.edge_response_wildcard("edge-probe")],
        ),
        agent: dict(
            forbidden_pub=[
                tokens,
                apps,
                proxy_auth,
                subjects.agent_boot(other_agent),
                subjects.container_data("x", "y"),
            ],
            forbidden_sub=[
                subjects.agent_boot(other_agent),
                subjects.agent_data_wildcard(other_agent),
                "berth.resp.>",
                ">",
                "_INBOX_scheduler.>",
            ],
            allowed_pub=[subjects.AGENT_HEARTBEAT],
            allowed_sub=[subjects.agent_stop(platform.agent_id)],
        ),
        credentials.BUILDER: dict(
            forbidden_pub=[tokens, apps, proxy_auth, subjects.SCHED_DEMAND],
            forbidden_sub=[">", "berth.sched.>", subjects.agent_boot(platform.agent_id)],
            allowed_pub=[],
            allowed_sub=["_INBOX_builder.probe"],
        ),
        credentials.SCHEDULER: dict(
            forbidden_pub=[subjects.container_data(platform.agent_id, "c"), "berth.resp.e.1"],
            forbidden_sub=["berth.ctr.>", "berth.resp.>", subjects.agent_boot(platform.agent_id), ">"],
            allowed_pub=[subjects.edge_control("edge-probe")],
            allowed_sub=[subjects.SCHED_RELEASED],
        ),
    }
    for identity, case in cases.items():
        denied = asyncio.run(
            _violations(
                platform,
                identity,
                publish=case["forbidden_pub"] + case["allowed_pub"],
                subscribe=case["forbidden_sub"] + case["allowed_sub"],
            )
        )
        assert denied == set(case["forbidden_pub"]) | set(case["forbidden_sub"]), identity


def test_a_forged_token_written_by_the_edge_never_lands(platform: Platform) -> None:
    async def run() -> bool:
        await _violations(
            platform, credentials.EDGE, publish=[f"$KV.{subjects.KV_TOKENS}.forged-key"], subscribe=[]
        )
        nc = await bus.connect(platform.nats_url, "test-admin", seed_file=str(platform.seed_file("admin")))
        try:
            kv = await nc.jetstream().key_value(subjects.KV_TOKENS)
            keys = await kv.keys()
        except Exception:  # noqa: BLE001 - an empty bucket has no keys to list
            keys = []
        finally:
            await nc.close()
        return "forged-key" in keys

    assert not asyncio.run(run())


def test_a_deployed_app_finds_no_bus_that_accepts_it(platform: Platform) -> None:
    url = platform.deploy(APPS / "bus_probe.py")["probe"]
    port = _nats_port(platform)
    response = platform.request("GET", url, f"/?port={port}")
    assert response.status_code == 200, response.text
    found = response.json()
    # The process runtime shares the host's network: the probe must have reached NATS and been refused,
    # unless the agent refuses containers' connections to this host at all (root with nftables).
    filtered = (
        "own and link-local (metadata) addresses are refused"
        in (platform.home / "logs" / "agent.log").read_text()
    )
    assert found["results"].get(str(port)) == ("closed" if filtered else "refused"), found
    assert "accepted" not in found["results"].values(), found
    assert not found["bus_in_environment"] and not found["bus_in_arguments"], found
