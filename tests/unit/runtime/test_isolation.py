"""Containers started with an isolation plan (berth._runtime.isolation), forked by a real zygote or
started as a fresh interpreter, see only what the plan lets them: their own processes, uid, /tmp,
code (read-only) and state; nothing of the hidden home. Stopping and killing still reach them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from runner_harness import APPS, FakeAgent

from berth._runtime import namespaces
from berth._runtime.isolation import PLAN_VARIABLE, Plan
from services.agent.runtime.base import Isolation, LaunchSpec
from services.agent.runtime.process import hand_over, isolation_plan
from services.agent.runtime.zygote import Zygote

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not namespaces.available(), reason="isolating containers here needs root"
)
UID = (1 << 30) + 4242
APP = APPS / "isolated_app.py"
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def zygote_env() -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONPATH", None)
    return env


@pytest.fixture
async def zygote(zygote_env: dict[str, str]) -> AsyncIterator[Zygote]:
    started = Zygote(sys.executable, zygote_env)
    try:
        await started.start()
        yield started
    finally:
        await started.close()


@pytest.fixture(params=["zygote", "fresh"])
async def agent(request: pytest.FixtureRequest, zygote_env: dict[str, str]) -> AsyncIterator[FakeAgent]:
    zygote = None
    if request.param == "zygote":
        zygote = Zygote(sys.executable, zygote_env)
        await zygote.start()
    fake = FakeAgent(zygote)
    try:
        yield fake
    finally:
        await fake.close()
        if zygote is not None:
            await zygote.close()


@pytest.fixture
def home() -> Iterator[Path]:
    """A stand-in $BERTH_HOME with a key anyone could read, were it visible."""
    path = Path(tempfile.mkdtemp(prefix="berth-home-", dir="/tmp"))
    path.chmod(0o755)
    (path / "secret.key").write_text("the platform's key")
    (path / "secret.key").chmod(0o644)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def planner(agent: FakeAgent, home: Path, isolation: Isolation = Isolation.NAMESPACES):
    def prepare() -> dict[str, str]:
        spec = LaunchSpec(
            container_id="c0123456789ab",
            python=sys.executable,
            # The harness runs the runner from this checkout (an editable install), not from an
            # image's runtime layer: keep it in sight wherever the checkout lives (even under /tmp).
            env={"PYTHONPATH": os.pathsep.join([str(REPO / "sdk"), str(REPO)])},
            cwd=agent.code_dir,
            state_dir=agent.dir,
            code_dir=agent.code_dir,
            socket_path=agent.socket_path,
        )
        if isolation is Isolation.NAMESPACES:
            hand_over(spec, UID)
        plan = isolation_plan(spec, isolation=isolation, uid=UID, home=home)
        return {PLAN_VARIABLE: plan.encode(), "HOME": str(agent.dir)}

    return prepare


def _under_tmp(*paths: str) -> set[str]:
    return {Path(p).parts[2] for p in paths if p.startswith("/tmp/")}


async def look(agent: FakeAgent, query: str) -> dict:
    _, head, body = await agent.response(agent.request("GET", "/", query=query.encode()))
    assert head.status == 200, body
    return json.loads(body)


async def test_the_container_sees_only_what_the_plan_allows(agent: FakeAgent, home: Path) -> None:
    ready = await agent.start(APP, "look", prepare=planner(agent, home))
    assert ready.WhichOneof("kind") == "ready", agent.stderr.text
    seen = await look(agent, f"secret={home}/secret.key&hidden={home}")
    assert (seen["uid"], seen["gid"], seen["groups"]) == (UID, UID, [])
    assert seen["pid"] == 1 and seen["pids"] == [1]
    # /tmp is its own: only the way to its state dir (where its socket is) shows, and to this
    # checkout and its venv when they live under /tmp (bound back read-only for the harness).
    assert set(seen["tmp"]) <= {agent.dir.name, *_under_tmp(sys.prefix, str(REPO))}, seen["tmp"]
    assert agent.dir.name in seen["tmp"]
    assert seen["hidden"] in (None, []) and seen["secret"] == "No such file or directory"
    assert seen["code_write"] == "Read-only file system"
    assert seen["venv_write"] == "Read-only file system"
    assert seen["home_write"] == "ok" and seen["tmp_write"] == "ok"
    assert PLAN_VARIABLE not in seen["env"]
    assert "NoNewPrivs:\t1" in seen["status"] and "CapEff:\t0000000000000000" in seen["status"]
    assert await agent.shutdown() == 0
    assert not (Path("/tmp") / "x.txt").exists()  # its /tmp went with it


async def test_the_container_is_pid_one_of_its_namespace_and_shows_so_to_the_host(
    zygote: Zygote, home: Path
) -> None:
    agent = FakeAgent(zygote)
    try:
        ready = await agent.start(APP, "look", prepare=planner(agent, home))
        assert ready.WhichOneof("kind") == "ready", agent.stderr.text
        assert agent.forked is not None
        keeper = agent.forked[0]
        runner = ready.ready.pid
        assert runner == 1  # as it sees itself
        # From the host: the keeper's one child is the runner, pid 1 inside, with the container's
        # environment in /proc (tools and the e2e tests find containers by it).
        children = _children(keeper)
        assert len(children) == 1
        outer = children[0]
        nspid = next(line for line in _proc(outer, "status").decode().splitlines() if "NSpid" in line)
        assert nspid.split()[1:] == [str(outer), "1"]
        assert b"BERTH_SOCKET=" in _proc(outer, "environ")
        assert b"BERTH_SOCKET=" not in _proc(keeper, "environ")
        assert b"keeper" in _proc(keeper, "cmdline")
        assert await agent.shutdown() == 0
    finally:
        await agent.close()


async def test_killing_the_keeper_ends_every_process_of_the_container(zygote: Zygote, home: Path) -> None:
    agent = FakeAgent(zygote)
    try:
        ready = await agent.start(APP, "look", prepare=planner(agent, home))
        assert ready.WhichOneof("kind") == "ready", agent.stderr.text
        assert agent.forked is not None
        keeper = agent.forked[0]
        outer = _children(keeper)[0]
        seen = await look(agent, "sleep=true")
        assert seen["child"] > 1
        sleeper = _children(outer)[0]  # started from a worker thread of the runner
        os.kill(keeper, 9)  # not the group: only the keeper
        assert await agent.wait_exit() == -9
        for pid in (outer, sleeper):
            for _ in range(100):
                if _state(pid) in ("gone", "Z"):
                    break
                await _sleep(0.05)
            assert _state(pid) in ("gone", "Z"), pid
    finally:
        await agent.close()


async def test_sigterm_to_the_keepers_group_stops_the_container_gracefully(
    zygote: Zygote, home: Path
) -> None:
    """What the agent's terminate() sends first: relayed to the runner's own process group."""
    agent = FakeAgent(zygote)
    try:
        ready = await agent.start(APP, "look", prepare=planner(agent, home))
        assert ready.WhichOneof("kind") == "ready", agent.stderr.text
        assert agent.forked is not None
        keeper = agent.forked[0]
        assert (await look(agent, "sleep=true"))["child"] > 1
        os.killpg(keeper, signal.SIGTERM)
        assert await agent.wait_exit() == 0
    finally:
        await agent.close()


async def test_a_failed_start_keeps_its_exit_code(agent: FakeAgent, home: Path) -> None:
    failed = await agent.start(
        APP, "look", source="raise RuntimeError('boom')\n", prepare=planner(agent, home)
    )
    assert failed.WhichOneof("kind") == "failed"
    assert await agent.wait_exit() == 1


async def test_a_user_namespace_plan_hides_and_freezes_the_host(zygote: Zygote, home: Path) -> None:
    """The non-root mode, tried as root: no capabilities left, every other mount read-only."""
    agent = FakeAgent(zygote)
    try:
        ready = await agent.start(APP, "look", prepare=planner(agent, home, Isolation.USER_NAMESPACE))
        assert ready.WhichOneof("kind") == "ready", agent.stderr.text
        seen = await look(agent, f"secret={home}/secret.key&hidden={home}")
        assert seen["pids"] == [1] and seen["hidden"] in (None, [])
        assert seen["secret"] == "No such file or directory"
        assert seen["code_write"] == "Read-only file system"
        assert seen["venv_write"] == "Read-only file system"
        assert seen["home_write"] == "ok" and seen["tmp_write"] == "ok"
        assert "CapEff:\t0000000000000000" in seen["status"] and "CapPrm:\t0000000000000000" in seen["status"]
        assert await agent.shutdown() == 0
    finally:
        await agent.close()


def test_plans_survive_the_environment() -> None:
    plan = Plan(uid=5, gid=6, hide=("/a",), scratch=("/tmp",), writable=("/s",), read_only=("/c",))
    assert Plan.decode(plan.encode()) == plan


def _children(pid: int) -> list[int]:
    """Children of every thread of `pid` (a worker thread may have started them)."""
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return [int(c) for task in tasks for c in (task / "children").read_text().split()]


def _proc(pid: int, name: str) -> bytes:
    return Path(f"/proc/{pid}/{name}").read_bytes()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
