"""Pure parts of the Docker runtime: what a container is started with."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.agent.runtime import LaunchSpec
from services.agent.runtime import docker as docker_runtime


def _spec(tmp_path: Path, **overrides: object) -> LaunchSpec:
    state = tmp_path / "home" / "agent" / "a1" / "containers" / "c1"
    fields: dict[str, object] = {
        "container_id": "c1",
        "python": "/usr/bin/python3",
        "env": {
            "PATH": "/host/venv/bin:/usr/bin",
            "TMPDIR": "/host/tmp",
            "HOME": str(state),
            "BERTH_BOOT": str(state / "boot.pb"),
            "BERTH_SOCKET": "/tmp/berth-a1/c1.sock",
            "BERTH_CODE_DIR": str(tmp_path / "code"),
            "GREETING": "hi",
        },
        "cwd": tmp_path / "code",
        "state_dir": state,
        "code_dir": tmp_path / "code",
        "image_tag": "berth-img:abc",
    }
    fields.update(overrides)
    return LaunchSpec(**fields)  # type: ignore[arg-type]


def test_env_points_at_the_containers_mounts(tmp_path: Path) -> None:
    env = docker_runtime.container_env(_spec(tmp_path))
    assert env["BERTH_SOCKET"] == "/berth/run/runner.sock"
    assert env["BERTH_CODE_DIR"] == "/berth/code"
    assert env["BERTH_BOOT"] == "/berth/state/boot.pb"
    assert env["HOME"] == "/berth/state"
    assert env["GREETING"] == "hi"
    assert "PATH" not in env and "TMPDIR" not in env  # the image's own PATH applies


def test_run_params_mount_code_read_only_and_label_the_container(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    params = docker_runtime.run_params(spec, owner="0123", agent_id="a1")
    assert params["image"] == "berth-img:abc"
    assert params["command"] == ["/usr/bin/python3", "-m", "berth._runtime"]
    assert params["volumes"][str(spec.code_dir)] == {"bind": "/berth/code", "mode": "ro"}
    assert params["volumes"][str(spec.state_dir)]["bind"] == "/berth/state"
    assert params["volumes"]["/tmp/berth-a1/c1.sock"]["bind"] == "/berth/run/runner.sock"
    assert params["labels"] == {"berth.container": "c1", "berth.owner": "0123", "berth.agent": "a1"}
    assert "network_mode" not in params and "ports" not in params  # default bridge, nothing published
    assert len(docker_runtime.SOCKET.encode()) < 108


def test_run_params_refuse_an_image_built_for_the_process_runtime(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="--runtime docker"):
        docker_runtime.run_params(_spec(tmp_path, image_tag=""), owner="o", agent_id="a")


def test_owner_label_is_stable_per_home(tmp_path: Path) -> None:
    assert docker_runtime.owner_label(tmp_path) == docker_runtime.owner_label(tmp_path / ".")
    assert docker_runtime.owner_label(tmp_path) != docker_runtime.owner_label(tmp_path / "other")
    assert docker_runtime.container_name("live.app/1") == "berth-live.app-1"
