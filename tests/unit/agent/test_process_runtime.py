"""The process runtime's contract and isolation choices, without starting a platform: uids per
container, the plan of what a container sees, the launch environment, and containers that end
whole."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from berth._runtime import isolation as plans
from services.agent.runtime import Isolation, LaunchSpec, ProcessGroupContainer, Runtime, select
from services.agent.runtime.base import Capabilities, launch_spec
from services.agent.runtime.process import ProcessRuntime, UidRange, isolation_plan
from tests.unit.agent.test_admission import order, process_image


def test_uids_are_distinct_while_taken_and_reused_last() -> None:
    uids = UidRange(1000)
    first = [uids.take() for _ in range(3)]
    assert first == [1000, 1001, 1002]
    uids.give_back(1001)
    assert uids.take() == 1003  # round-robin: a freed uid comes back as late as possible
    small = UidRange(5000)
    small.SIZE = 2  # type: ignore[misc]
    assert {small.take(), small.take()} == {5000, 5001}
    with pytest.raises(RuntimeError, match="in use"):
        small.take()


def test_each_agent_home_gets_its_own_block_far_from_real_users(tmp_path: Path) -> None:
    a = UidRange.for_agent(tmp_path / "a", "agent-1")
    b = UidRange.for_agent(tmp_path / "b", "agent-1")
    assert a.first != b.first
    assert a.first == UidRange.for_agent(tmp_path / "a", "agent-1").first  # stable across restarts
    for block in (a, b):
        assert UidRange.BASE <= block.first and block.first + UidRange.SIZE <= 2**31
        assert (block.first - UidRange.BASE) % UidRange.SIZE == 0


def _spec(tmp_path: Path, **overrides: object) -> LaunchSpec:
    venv = tmp_path / "home" / "images" / "i" / "venv"
    (venv / "bin").mkdir(parents=True)
    code = tmp_path / "home" / "agent" / "code" / "b"
    code.mkdir(parents=True)
    state = tmp_path / "home" / "agent" / "a1" / "containers" / "c1"
    state.mkdir(parents=True)
    fields: dict[str, object] = {
        "container_id": "c1",
        "python": str(venv / "bin" / "python"),
        "env": {"PYTHONPATH": str(code)},
        "cwd": code,
        "state_dir": state,
        "code_dir": code,
        "socket_path": "/tmp/berth-a1/c1.sock",
    }
    fields.update(overrides)
    return LaunchSpec(**fields)  # type: ignore[arg-type]


def test_the_plan_hides_the_platform_and_binds_back_only_the_container(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    plan = isolation_plan(spec, isolation=Isolation.NAMESPACES, uid=77, home=tmp_path / "home")
    assert plan.mode == plans.ROOT and (plan.uid, plan.gid) == (77, 77)
    assert str((tmp_path / "home").resolve()) in plan.hide
    assert "/run" in plan.hide and os.path.realpath(os.path.expanduser("~")) in plan.hide
    assert set(plan.scratch) >= {"/tmp"}
    assert plan.writable == (str(spec.state_dir), spec.socket_path)
    assert set(plan.read_only) == {str(spec.code_dir), str(Path(spec.python).parent.parent)} | {
        p for p in plan.read_only if p.startswith("/etc") or p.startswith("/run")
    }
    assert not plan.read_only_root
    again = plans.Plan.decode(plan.encode())
    assert again == plan


def test_a_user_namespace_plan_freezes_everything_else(tmp_path: Path) -> None:
    plan = isolation_plan(_spec(tmp_path), isolation=Isolation.USER_NAMESPACE, uid=0, home=tmp_path / "home")
    assert plan.mode == plans.USER_NAMESPACE and plan.read_only_root


def test_the_launch_environment_holds_what_the_user_set_and_the_runner_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {
        "BERTH_HOME": "/h",
        "BERTH_TOKEN": "t",
        "BERTH_SECRET_KEY": "k",
        "TMPDIR": "/h/tmp",
        "LANG": "C.UTF-8",
        "AWS_SECRET_ACCESS_KEY": "aws",
    }.items():
        monkeypatch.setenv(key, value)
    image = process_image(tmp_path / "images", env={"IMAGE_VAR": "1"})
    spec = launch_spec(
        order(image),
        code_dir=tmp_path,
        state_dir=tmp_path / "state",
        boot_file=tmp_path / "state" / "boot.pb",
        socket_path=tmp_path / "c.sock",
    )
    env = spec.env
    assert env["AUTH_TOKEN"] == "s3cret" and env["IMAGE_VAR"] == "1" and env["LANG"] == "C.UTF-8"
    assert env["BERTH_SOCKET"] == str(tmp_path / "c.sock") == spec.socket_path
    assert env["HOME"] == str(tmp_path / "state") and env["BERTH_CONTAINER_ID"] == "c0123456789ab"
    for leaked in ("BERTH_HOME", "BERTH_TOKEN", "BERTH_SECRET_KEY", "TMPDIR", "AWS_SECRET_ACCESS_KEY"):
        assert leaked not in env


async def test_terminate_ends_what_the_container_left_behind(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    process = await asyncio.create_subprocess_exec(
        "sh",
        "-c",
        f"sleep 300 >/dev/null 2>&1 & echo $! > {marker}; exit 0",
        start_new_session=True,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    ended: list[bool] = []
    container = ProcessGroupContainer(
        "c1",
        process.pid,
        asyncio.ensure_future(process.wait()),
        process.stdout,
        process.stderr,
        on_end=lambda: ended.append(True),
    )
    assert await container.wait() == 0
    child = int(marker.read_text())
    os.kill(child, 0)  # the leftover still runs
    assert await container.terminate(grace=1.0) == 0
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the leftover outlived terminate()")
    assert await container.terminate(grace=1.0) == 0
    assert ended == [True]


async def test_terminate_asks_first_then_kills() -> None:
    process = await asyncio.create_subprocess_exec(
        "sh",
        "-c",
        "trap '' TERM; sleep 300",
        start_new_session=True,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    container = ProcessGroupContainer(
        "c1", process.pid, asyncio.ensure_future(process.wait()), process.stdout, process.stderr
    )
    await asyncio.sleep(0.2)
    assert await container.terminate(grace=0.3) == -signal.SIGKILL


def test_runtimes_state_their_capabilities() -> None:
    runtime: Runtime = ProcessRuntime(network_namespaces=False, zygotes=False)
    assert runtime.capabilities == Capabilities(isolation=Isolation.NONE, network_namespaces=False)
    assert "NOT isolated" in runtime.capabilities.describe()
    assert not runtime.capabilities.isolated
    isolated = Capabilities(isolation=Isolation.NAMESPACES, network_namespaces=True)
    assert isolated.isolated and "uid of their own" in isolated.describe()


def test_select_honours_berth_isolation_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BERTH_ISOLATION", "none")
    monkeypatch.setenv("BERTH_ZYGOTES", "0")
    runtime = select("process", home=tmp_path, agent_id="a1")
    assert runtime.capabilities.isolation is Isolation.NONE


def test_the_agent_says_loudly_when_containers_are_not_isolated(capsys: pytest.CaptureFixture[str]) -> None:
    from services.agent.main import announce

    announce(Capabilities(isolation=Isolation.NONE, network_namespaces=False))
    out, err = capsys.readouterr()
    assert "berth-agent isolation: none: containers are NOT isolated" in out
    assert "CONTAINERS ARE NOT ISOLATED" in err and "single-tenant" in err
    announce(Capabilities(isolation=Isolation.NAMESPACES, network_namespaces=True))
    out, err = capsys.readouterr()
    assert "berth-agent isolation: namespaces: containers are isolated" in out and not err
