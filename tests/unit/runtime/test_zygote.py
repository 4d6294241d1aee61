"""Containers forked from a real zygote (`python -m berth._runtime.zygote`) behave like fresh runners."""

import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from runner_harness import APPS, FakeAgent

from services.agent.runtime.zygote import LOST_EXIT_CODE, Zygote, ZygoteUnavailable, shadowing


@pytest.fixture
async def zygote() -> AsyncIterator[Zygote]:
    env = {**os.environ, "ZYGOTE_ONLY": "not for containers", "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONPATH", None)
    started = Zygote(sys.executable, env)
    try:
        await started.start()
        yield started
    finally:
        await started.close()


@pytest.fixture
async def forked(zygote: Zygote) -> AsyncIterator[FakeAgent]:
    fake = FakeAgent(zygote)
    try:
        yield fake
    finally:
        await fake.close()


async def test_zygote_preloads_libraries_but_no_user_code(zygote: Zygote) -> None:
    assert {"fastapi", "starlette", "pydantic", "berth", "google"} <= zygote.modules
    assert "app" not in zygote.modules


async def test_forked_container_serves_logs_and_exits(forked: FakeAgent, zygote: Zygote) -> None:
    ready = await forked.start(APPS / "env_app.py", "env", env={"CONTAINER_VAR": "yes"})
    assert ready.WhichOneof("kind") == "ready", forked.stderr.text
    assert forked.forked is not None
    pid = forked.forked[0]
    assert ready.ready.pid == pid != zygote.pid
    _, head, body = await forked.response(forked.request("GET", "/"))
    assert head.status == 200
    seen = json.loads(body)
    await forked.stdout.wait_for("env was asked")
    assert seen["sid"] == pid  # a session (and process group) of its own
    assert seen["cwd"] == seen["sys_path0"] == str(forked.code_dir)
    assert seen["env"]["CONTAINER_VAR"] == "yes"
    assert await forked.shutdown() == 0


async def test_child_environment_is_exactly_the_one_sent(forked: FakeAgent) -> None:
    ready = await forked.start(APPS / "env_app.py", "env", env={"CONTAINER_VAR": "yes"})
    assert ready.WhichOneof("kind") == "ready", forked.stderr.text
    _, _, body = await forked.response(forked.request("GET", "/"))
    seen = json.loads(body)
    assert "ZYGOTE_ONLY" not in seen["env"]
    assert seen["env"]["BERTH_SOCKET"] == forked.socket_path
    # /proc/<pid>/environ too: tools (and the e2e tests) find containers by it.
    assert "CONTAINER_VAR=yes" in seen["proc_environ"]
    assert not any(e.startswith("ZYGOTE_ONLY=") for e in seen["proc_environ"])
    assert seen["proc_cmdline"][1:3] == ["-m", "berth._runtime"]
    assert await forked.shutdown() == 0


async def test_exit_code_of_a_failed_start_is_reported(forked: FakeAgent) -> None:
    failed = await forked.start(APPS / "env_app.py", "env", source="raise RuntimeError('boom')\n")
    assert failed.WhichOneof("kind") == "failed"
    assert "boom" in failed.failed.message
    assert await forked.wait_exit() == 1


async def test_killed_container_reports_the_signal(forked: FakeAgent) -> None:
    assert (await forked.start(APPS / "env_app.py", "env")).WhichOneof("kind") == "ready"
    assert forked.forked is not None
    os.killpg(forked.forked[0], 9)
    assert await forked.wait_exit() == -9


async def test_closed_zygote_refuses_to_fork(zygote: Zygote) -> None:
    await zygote.close()
    with pytest.raises(ZygoteUnavailable):
        await zygote.fork({}, "/", isolate_network=False, fds=(0, 1, 2))


def test_shadowing_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "fastapi.py").touch()
    assert shadowing([str(tmp_path)], {"fastapi"}) == str(tmp_path / "fastapi.py")
    assert shadowing([str(tmp_path)], {"flask"}) == ""


async def test_container_outlives_a_dead_zygote_and_its_end_is_still_seen(
    forked: FakeAgent, zygote: Zygote
) -> None:
    assert (await forked.start(APPS / "env_app.py", "env")).WhichOneof("kind") == "ready"
    assert forked.forked is not None
    os.kill(zygote.pid, 9)
    _, head, _ = await forked.response(forked.request("GET", "/"))
    assert head.status == 200
    os.killpg(forked.forked[0], 9)
    assert await forked.wait_exit() == LOST_EXIT_CODE
    assert not zygote.alive
