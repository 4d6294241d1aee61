"""Forged orders from an authenticated-but-wrong peer: the agent refuses every id that is not in its
exact format, touches nothing outside its own directories, starts nothing, and keeps serving.

The peer holds real credentials (the scheduler's, the only identity allowed to order boots; the
edge's for request frames), so the bus lets the orders through and the agent is the last line.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import uuid
from pathlib import Path

import nats.errors
from nats.aio.client import Client

from berth.v1 import build_pb2, bus_pb2, stream_pb2
from services.common import bus, credentials, ids, subjects
from tests.e2e.conftest import EXAMPLES, Platform, container_pids, wait_until

VALID_CID = "c0f0f0f0f0f0f"
FAKE_ID = hashlib.sha256(b"forged").hexdigest()
REPLY_WAIT = 2.0


def _image(platform: Platform, **overrides: object) -> build_pb2.BuiltImage:
    """An image that passes the agent's checks as far as its own format goes (it was never built)."""
    root = platform.home.resolve() / "images" / FAKE_ID
    fields: dict[str, object] = {"image_id": FAKE_ID, "python": str(root / "venv" / "bin" / "python")}
    fields.update(overrides)
    return build_pb2.BuiltImage(**fields)  # type: ignore[arg-type]


def _order(platform: Platform, cid: str = VALID_CID, **overrides: object) -> bus_pb2.BootOrder:
    fields: dict[str, object] = {
        "container_id": cid,
        "bundle_id": FAKE_ID,
        "entry_module": "app.py",
        "pool": bus_pb2.PoolKey(app="live.forged", function="f", version=1),
        "image": _image(platform),
        "env": {"FORGED_SECRET": "s3cret"},
    }
    fields.update(overrides)
    return bus_pb2.BootOrder(**fields)  # type: ignore[arg-type]


def _forged_boots(platform: Platform, tmp_path: Path) -> list[tuple[bus_pb2.BootOrder, str]]:
    """(order, what the refusal must name)."""
    return [
        (_order(platform, "../../escape"), "refused: invalid container id '../../escape'"),
        (_order(platform, str(tmp_path / "abs")), "refused: invalid container id"),
        (_order(platform, bundle_id="../../etc"), "refused: invalid bundle id '../../etc'"),
        (_order(platform, bundle_id=str(tmp_path / "bundle")), "refused: invalid bundle id"),
        (_order(platform, entry_module="../../../../etc/passwd"), "refused: invalid entry module"),
        (
            _order(platform, image=_image(platform, python="/bin/sh")),
            "refused: invalid image python '/bin/sh'",
        ),
        (
            _order(platform, image=_image(platform, docker_tag="alpine:latest")),
            "refused: invalid image 'alpine:latest'",
        ),
        (
            _order(platform, image=_image(platform, docker_tag="evil.io/x:latest")),
            "refused: invalid image 'evil.io/x:latest'",
        ),
        (_order(platform, image=_image(platform, workdir="/etc")), "refused: invalid image workdir '/etc'"),
        (
            _order(platform, image=_image(platform, python_path=[str(tmp_path)])),
            "refused: invalid image python_path",
        ),
    ]


async def _connect(platform: Platform, identity: str) -> Client:
    return await bus.connect(
        platform.nats_url, f"forger-{identity}", seed_file=str(platform.seed_file(identity))
    )


async def _send_boots_and_stops(
    platform: Platform, agent: str, boots: list[bus_pb2.BootOrder]
) -> tuple[list[bus_pb2.BootResult], list[bus_pb2.StopResult]]:
    nc = await _connect(platform, credentials.SCHEDULER)
    try:
        results = [
            await bus.request(nc, subjects.agent_boot(agent), order, bus_pb2.BootResult, timeout=30)
            for order in boots
        ]
        stops = [
            await bus.request(
                nc,
                subjects.agent_stop(agent),
                bus_pb2.StopOrder(container_id=cid, reason="forged"),
                bus_pb2.StopResult,
                timeout=30,
            )
            for cid in ("../../escape", "/tmp", "*", "")
        ]
    finally:
        await nc.close()
    return results, stops


async def _send_data(agent: str, platform: Platform) -> dict[str, bytes | None]:
    """Request frames to bad container tokens and with a bad reply subject; what came back to each."""
    nc = await _connect(platform, credentials.EDGE)
    answers: dict[str, bytes | None] = {}
    frame = stream_pb2.Frame(request=stream_pb2.RequestHead(method="GET", path="/")).SerializeToString()
    try:
        for number, token in enumerate(["escape", "C0F0F0F0F0F0F", "%2e%2e", "c0f0f0f0f0f0f0", VALID_CID]):
            reply = subjects.edge_response("forger", number)
            sub = await nc.subscribe(reply)
            await nc.publish(f"berth.ctr.{agent}.{token}", frame, reply=reply)
            try:
                answers[token] = (await sub.next_msg(timeout=REPLY_WAIT)).data
            except nats.errors.TimeoutError:
                answers[token] = None
            await sub.unsubscribe()
        # A valid container token but a reply subject that is not an edge's: dropped too.
        await nc.publish(subjects.container_data(agent, VALID_CID), frame, reply="berth.sched.demand")
        await nc.flush()
    finally:
        await nc.close()
    return answers


def _container_ids_running() -> set[str]:
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        found |= {
            e.split(b"=", 1)[1].decode(errors="replace")
            for e in environ
            if e.startswith(b"BERTH_CONTAINER_ID=")
        }
    return found


def _is_container_id(name: str) -> bool:
    try:
        ids.container_id(name)
    except ids.InvalidId:
        return False
    return True


def test_forged_orders_are_refused_and_touch_nothing(platform: Platform, tmp_path: Path) -> None:
    agent = platform.agent_id
    agent_home = platform.home / "agent" / agent
    sockets = Path("/tmp") / f"berth-{agent}"
    canaries = [
        platform.home / "agent" / "escape",  # <agent home>/containers/../../escape
        platform.home / "etc",  # <home>/agent/code/../../etc
        tmp_path / "abs",
        tmp_path / "bundle",
    ]
    running_before = _container_ids_running()
    forged = _forged_boots(platform, tmp_path)

    results, stops = asyncio.run(_send_boots_and_stops(platform, agent, [order for order, _ in forged]))
    answers = asyncio.run(_send_data(agent, platform))

    for (order, expected), result in zip(forged, results, strict=True):
        assert result.error.startswith(expected), (order.container_id, result.error)
        assert not result.data_subject, result
    assert all(stop.exit_code == 0 for stop in stops), stops
    # Bad container tokens get no answer at all; a well-formed but unknown one is told it is gone,
    # which shows the agent was listening while the others were dropped.
    assert {token: data for token, data in answers.items() if data is not None}.keys() == {VALID_CID}
    gone = stream_pb2.Frame.FromString(answers[VALID_CID] or b"")
    assert gone.error.status == 503, gone

    for canary in canaries:
        assert not canary.exists(), canary
    # The agent's own directories hold only containers the scheduler booted, none of the forged.
    state_dirs = os.listdir(agent_home / "containers") if (agent_home / "containers").exists() else []
    assert VALID_CID not in state_dirs and all(_is_container_id(name) for name in state_dirs), state_dirs
    assert not [name for name in os.listdir(sockets) if not _is_container_id(name.removesuffix(".sock"))]
    started = _container_ids_running() - running_before
    assert not started & ({order.container_id for order, _ in forged} | {VALID_CID}), started

    log = platform.home / "logs" / "agent.log"
    wait_until(lambda: "request frame dropped" in log.read_text(), "the agent to log dropped frames", 10)
    text = log.read_text()
    assert text.count("boot order refused") >= len(forged)
    assert "stop order refused" in text
    assert "s3cret" not in text

    # The platform still serves a deployed app.
    url = platform.deploy(EXAMPLES / "hello.py")["f"]
    response = platform.request("GET", url)
    assert response.status_code == 200 and response.json() == "Hello world!"


SECRET_APP = """
import os

import berth

app = berth.App("secret-file-check", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function(secrets=[berth.Secret.from_name("boot-file-secret")])
@berth.fastapi_endpoint()
def read():
    return os.environ["BOOT_FILE_SECRET"]
"""


def test_secret_values_reach_the_container_but_no_file(platform: Platform, tmp_path: Path) -> None:
    value = f"v-{uuid.uuid4().hex}"
    created = platform.berth("secret", "create", "boot-file-secret", f"BOOT_FILE_SECRET={value}", "--force")
    assert created.returncode == 0, created.stderr
    app = tmp_path / "secret_file_check.py"
    app.write_text(SECRET_APP)
    url = platform.deploy(app)["read"]
    assert platform.request("GET", url).json() == value

    pids = container_pids(platform, "secret-file-check")
    assert pids, "the container is running"
    environ = Path(f"/proc/{pids[0]}/environ").read_bytes().split(b"\0")
    boot = Path(next(e for e in environ if e.startswith(b"BERTH_BOOT=")).split(b"=", 1)[1].decode())
    assert stat.S_IMODE(boot.stat().st_mode) == 0o600
    assert stat.S_IMODE(boot.parent.stat().st_mode) == 0o700
    order = bus_pb2.BootOrder.FromString(boot.read_bytes())
    assert order.pool.app == "live.secret-file-check" and not order.env
    for root in (platform.home / "agent", Path("/tmp") / f"berth-{platform.agent_id}"):
        for path in root.rglob("*"):
            if path.is_file() and not path.is_socket():
                assert value.encode() not in path.read_bytes(), path
    assert platform.berth("app", "stop", "secret-file-check").returncode == 0
    assert platform.berth("secret", "delete", "boot-file-secret").returncode == 0
