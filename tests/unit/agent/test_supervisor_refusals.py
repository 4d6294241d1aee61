"""The supervisor answers forged orders with a refusal and touches nothing; boot files hold no secrets."""

from __future__ import annotations

import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from berth.v1 import bus_pb2
from services.agent import supervisor as supervisor_module
from services.agent.bundles import BundleCache
from services.agent.runtime import Container, LaunchSpec
from services.agent.supervisor import Supervisor
from services.common import ids
from tests.unit.agent.test_admission import IMAGE_ID, docker_image, order, process_image


class RefusingRuntime:
    """Fails the test if anything is launched."""

    name = "process"
    network_namespaces = True

    def __init__(self) -> None:
        self.launched: list[LaunchSpec] = []

    async def launch(self, spec: LaunchSpec) -> Container:
        self.launched.append(spec)
        raise AssertionError(f"launched {spec.container_id}")


class NoBundles:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def extracted(self, bundle_id: str) -> Path:
        self.asked.append(bundle_id)
        raise AssertionError(f"fetched bundle {bundle_id}")


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def agent_id() -> Iterator[str]:
    agent = f"test-{uuid.uuid4().hex[:8]}"
    yield agent
    shutil.rmtree(f"/tmp/berth-{agent}", ignore_errors=True)


def make(tmp_path: Path, agent_id: str, runtime: Any) -> tuple[Supervisor, NoBundles]:
    bundles = NoBundles()
    home = tmp_path / "home"
    (home / "images" / IMAGE_ID / "venv" / "bin").mkdir(parents=True)
    (home / "images" / IMAGE_ID / "fs" / "root" / "src").mkdir(parents=True)
    sup = Supervisor(
        None,  # type: ignore[arg-type]  # a refused order never reaches the bus client
        agent_id,
        runtime,
        bundles,  # type: ignore[arg-type]
        home / "agent" / agent_id,
        images=home / "images",
    )
    return sup, bundles


FORGED = [
    {"container_id": "../../escape"},
    {"container_id": "/tmp/abs"},
    {"container_id": "c0123456789ab/../../../escape"},
    {"bundle_id": "../../etc"},
    {"entry_module": "../../x.py"},
]


@pytest.mark.parametrize("overrides", FORGED)
async def test_forged_boot_orders_are_refused_and_touch_nothing(
    tmp_path: Path, agent_id: str, overrides: dict[str, object]
) -> None:
    runtime = RefusingRuntime()
    sup, bundles = make(tmp_path, agent_id, runtime)
    images = tmp_path / "home" / "images"
    before = tree(tmp_path)
    forged = order(process_image(images), **overrides)
    result = await sup.boot(forged)
    assert result.error.startswith("refused: invalid "), result.error
    assert result.container_id == forged.container_id and not result.data_subject
    assert tree(tmp_path) == before
    assert not runtime.launched and not bundles.asked and not sup.running
    assert not os.listdir(f"/tmp/berth-{agent_id}")


@pytest.mark.parametrize(
    "image",
    [
        {"python": "/bin/sh"},
        {"python": "/usr/bin/python3", "docker_tag": "alpine:latest"},
        {"workdir": "/etc"},
        {"python_path": ["/home"]},
    ],
)
async def test_foreign_images_are_refused(tmp_path: Path, agent_id: str, image: dict[str, object]) -> None:
    runtime = RefusingRuntime()
    sup, _ = make(tmp_path, agent_id, runtime)
    result = await sup.boot(order(process_image(tmp_path / "home" / "images", **image)))
    assert result.error.startswith("refused: invalid image"), result.error
    assert not runtime.launched


async def test_docker_runtime_refuses_foreign_image_names(tmp_path: Path, agent_id: str) -> None:
    runtime = RefusingRuntime()
    runtime.name = "docker"
    sup, _ = make(tmp_path, agent_id, runtime)
    for tag in ("alpine:latest", "evil.io/x:latest"):
        result = await sup.boot(order(docker_image(docker_tag=tag)))
        assert result.error.startswith("refused: invalid image"), result.error
    assert not runtime.launched


async def test_forged_stop_orders_stop_nothing(tmp_path: Path, agent_id: str) -> None:
    sup, _ = make(tmp_path, agent_id, RefusingRuntime())
    victim = tmp_path / "victim"
    victim.mkdir()
    for forged in ("../../../victim", str(victim), "", "*"):
        assert await sup.stop(forged, "forged") == 0
    assert victim.is_dir()


async def test_a_second_order_for_a_running_id_is_refused(tmp_path: Path, agent_id: str) -> None:
    sup, _ = make(tmp_path, agent_id, RefusingRuntime())
    first = order(process_image(tmp_path / "home" / "images"))
    sup.running[first.container_id] = supervisor_module.Running(order=first, bridge=None)  # type: ignore[arg-type]
    result = await sup.boot(first)
    assert "already in use" in result.error
    assert sup.running[first.container_id].order is first


def test_the_boot_file_carries_no_secret_values(tmp_path: Path) -> None:
    booted = order(docker_image(), env={"AUTH_TOKEN": "s3cret"})
    data = supervisor_module.boot_file_contents(booted)
    assert b"s3cret" not in data and b"AUTH_TOKEN" not in data
    read = bus_pb2.BootOrder.FromString(data)
    assert read.container_id == booted.container_id and read.pool == booted.pool
    assert booted.env["AUTH_TOKEN"] == "s3cret", "the order itself is left as it was"


def test_private_files_and_dirs_are_the_owners_only(tmp_path: Path) -> None:
    folder = supervisor_module.private_dir(tmp_path / "a" / "b")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    path = folder / "boot.pb"
    path.write_bytes(b"old")
    path.chmod(0o644)
    supervisor_module.write_private(path, b"new")
    assert path.read_bytes() == b"new" and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_planted_symlinks_are_not_followed(tmp_path: Path) -> None:
    folder = supervisor_module.private_dir(tmp_path / "state")
    (folder / "boot.pb").symlink_to(tmp_path / "target")
    with pytest.raises(OSError):
        supervisor_module.write_private(folder / "boot.pb", b"x")
    assert not (tmp_path / "target").exists()
    (tmp_path / "sockets").symlink_to(folder)
    with pytest.raises(PermissionError):
        supervisor_module.private_dir(tmp_path / "sockets")


async def test_the_bundle_cache_checks_the_id_itself(tmp_path: Path) -> None:
    cache = BundleCache(None, tmp_path / "code")  # type: ignore[arg-type]  # refused before any fetch
    with pytest.raises(ids.InvalidId, match="bundle id"):
        await cache.extracted("../../etc")
    assert not (tmp_path / "code").exists()
